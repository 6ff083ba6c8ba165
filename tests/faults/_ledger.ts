/**
 * The accounting harness of the fault suite: a scenario publishes N numbered messages, injects
 * its fault at a seeded random point, consumes with acks, and checks the ledger:
 *
 * - every publish promise settled (none left pending),
 * - confirmed but never consumed = 0 (a publish that resolved is a promise the message arrives),
 * - a duplicate only when the broker said so (`redelivered`) or its publish was tried again,
 * - nothing consumed that was never published,
 * - no hang: {@link Ledger.watch} fails with the ledger's state when its deadline passes.
 *
 * What a scenario may lose by design (a write acknowledged by a master that died before it
 * replicated) is declared, with its reason, by {@link Ledger.allowLoss} (`certain`: every one of
 * them must be lost) and {@link Ledger.allowDuplicates}; failure messages name both. A stream of
 * unknown length grows with {@link Ledger.publishNext} / {@link publishRetrying}, whose retries
 * (a publish's `retryPolicy.onRetry`) count as attempts.
 *
 * Failure messages list the missing and extra numbers and the seed; `WAKAME_FAULT_SEED=<seed>`
 * replays a run's fault points; `WAKAME_FAULT_VERBOSE=1` prints every ledger, passed or not.
 *
 * ```ts ignore
 * const ledger = new Ledger("amqp kill", 200);
 * const killAt = ledger.point(200);                      // a random index, from the seed
 * await ledger.watch(20_000, async () => {
 *   await ledger.publishAll((n) => producer.publish(ledger.body(n), { routingKey }), {
 *     before: (n) => n === killAt ? kill() : undefined,
 *   });
 *   await ledger.consumed();                             // every confirmed one arrived
 * });
 * ledger.check();
 * ```
 */
import { AssertionError } from "node:assert";
import process from "node:process";
import type { ConsumerOptions, Producer, Queue, RetryPolicy } from "../../mod.ts";
import { POSSIBLE_DUPLICATE_HEADER } from "../../src/virtual/backend.ts";

/** The state of one message number. */
interface Entry {
  /** How many times its publish was tried. */
  attempts: number;
  /** "pending" while a publish promise is unsettled. */
  state: "unsent" | "pending" | "confirmed" | "rejected";
  /** The last rejection. */
  error?: unknown;
  /** Deliveries without the redelivered flag. */
  fresh: number;
  /** Deliveries with the redelivered flag. */
  redelivered: number;
  /** Deliveries marked as a possible duplicate of a retried send (and not redelivered). */
  flagged: number;
}

/** The seed of this process's fault points: `WAKAME_FAULT_SEED`, or a random one. */
function initialSeed(): number {
  const given = Number(process.env.WAKAME_FAULT_SEED);
  return Number.isInteger(given) && given > 0 ? given : 1 + Math.floor(Math.random() * 2 ** 31);
}

/** mulberry32: a small seeded generator, the same numbers for the same seed. */
function generator(seed: number): () => number {
  // Mixed first, so that neighbouring seeds (1, 2, 3) do not start alike.
  let a = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The entry of a number not yet published. */
const newEntry = (): Entry => ({
  attempts: 0,
  state: "unsent",
  fresh: 0,
  redelivered: 0,
  flagged: 0,
});

/** How often an entry was delivered. */
const delivered = (e: Entry): number => e.fresh + e.redelivered + e.flagged;

/** Sleeps. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms until true or `ms` passed; returns the last answer. */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(20);
  }
  return await check();
}

/** A numbered body of a ledger: `{ run, n }`. */
export interface LedgerBody {
  run: string;
  n: number;
}

/** Numbers a scenario declared may end one way, and why (named in failure messages). */
interface Allowance {
  readonly numbers: ReadonlySet<number>;
  readonly reason: string;
  /** For a loss: every one of them must be lost, not only may. */
  readonly certain: boolean;
}

/** One scenario's accounting. */
export class Ledger {
  /** The scenario's name, in failure messages. */
  readonly name: string;
  /** The seed of {@link point}; printed on failure. */
  readonly seed: number;
  /** A random tag of this run, in every body. */
  readonly run: string = crypto.randomUUID().slice(0, 8);
  readonly #entries: Entry[];
  readonly #random: () => number;
  /** Bodies consumed that carry no number of this ledger. */
  readonly #strangers: unknown[] = [];
  /** Notes of what the scenario did (faults injected), in failure messages. */
  readonly #notes: string[] = [];
  /** Numbers that may be confirmed and never consumed ({@link allowLoss}). */
  readonly #losses: Allowance[] = [];
  /** Numbers that may be delivered again without a flag ({@link allowDuplicates}). */
  readonly #repeats: Allowance[] = [];
  #wake: (() => void) | undefined;

  /**
   * @param name the scenario
   * @param count how many messages (it grows with {@link publishNext})
   * @param seed the seed of the fault points (default `WAKAME_FAULT_SEED` or random)
   */
  constructor(name: string, count = 0, seed: number = initialSeed()) {
    this.name = name;
    this.seed = seed;
    this.#random = generator(seed);
    this.#entries = Array.from({ length: count }, newEntry);
  }

  /** How many numbers the ledger has (published or to be). */
  get count(): number {
    return this.#entries.length;
  }

  /** A random integer in `[from, to)`, from the seed. */
  point(to: number, from = 1): number {
    return from + Math.floor(this.#random() * Math.max(1, to - from));
  }

  /** Notes what the scenario did, for the failure message. */
  note(text: string): void {
    this.#notes.push(text);
  }

  /** The body of message `n`. */
  body(n: number): LedgerBody {
    return { run: this.run, n };
  }

  /**
   * Publishes message `n` once through `send`, recording the attempt and how it settled. A
   * `send` that retries by itself (a publish with a retry policy) calls `retried` for every
   * attempt after the first: each may deliver a copy, as the ledger allows.
   *
   * @returns true when it resolved
   */
  async publish(
    n: number,
    send: (body: LedgerBody, retried: () => void) => Promise<unknown>,
  ): Promise<boolean> {
    const entry = this.#entries[n];
    entry.attempts++;
    entry.state = "pending";
    try {
      await send(this.body(n), () => void entry.attempts++);
      entry.state = "confirmed";
      return true;
    } catch (error) {
      entry.state = "rejected";
      entry.error = error;
      return false;
    }
  }

  /**
   * Publishes every message in order, each tried up to `tries` times while it rejects (a retried
   * publish may arrive twice: the ledger allows that duplicate). `before(n)` runs before message
   * `n` is sent: the place to inject a fault.
   */
  async publishAll(
    send: (body: LedgerBody) => Promise<unknown>,
    options: { tries?: number; before?: (n: number) => unknown; retryDelayMs?: number } = {},
  ): Promise<void> {
    const tries = options.tries ?? 1;
    for (let n = 0; n < this.count; n++) {
      await options.before?.(n);
      for (let attempt = 0; attempt < tries; attempt++) {
        if (await this.publish(n, send)) break;
        if (options.retryDelayMs) await sleep(options.retryDelayMs);
      }
    }
  }

  /**
   * Publishes the next `howMany` numbers (the ledger grows by them), in order, each once through
   * `send` (which may retry by itself: see {@link publish}). A stream whose publishes must all
   * resolve: the first rejection fails with the ledger's state.
   */
  async publishNext(
    howMany: number,
    send: (body: LedgerBody, retried: () => void) => Promise<unknown>,
  ): Promise<void> {
    for (let i = 0; i < howMany; i++) {
      const n = this.#entries.push(newEntry()) - 1;
      if (!(await this.publish(n, send))) {
        throw new AssertionError({
          message: `publish ${n} rejected: ${String(this.#entries[n].error)}\n${this.summary()}`,
        });
      }
    }
  }

  /**
   * Declares numbers that may be confirmed and never consumed, and why (a write the broker
   * acknowledged and lost by design, e.g. to asynchronous replication). With `certain`, every
   * one of them must be lost: a delivered one fails the check too. Named in failure messages.
   */
  allowLoss(numbers: Iterable<number>, reason: string, { certain = false } = {}): void {
    this.#losses.push({ numbers: new Set(numbers), reason, certain });
  }

  /**
   * Declares numbers that may be delivered more than once without a flag, and why (an ack or
   * fetch the broker acknowledged and lost by design). Named in failure messages.
   */
  allowDuplicates(numbers: Iterable<number>, reason: string): void {
    this.#repeats.push({ numbers: new Set(numbers), reason, certain: false });
  }

  /**
   * Records one delivery, with what explains a copy: the redelivered flag, or the store's mark
   * of a possible duplicate (a send it retried). Bodies of other runs or without a number are
   * kept as strangers.
   */
  delivered(body: unknown, redelivered: boolean, possibleDuplicate = false): void {
    const b = body as Partial<LedgerBody> | undefined;
    const n = b?.n;
    if (
      b?.run !== this.run || typeof n !== "number" || !Number.isInteger(n) || n < 0 ||
      n >= this.count
    ) {
      this.#strangers.push(body);
    } else if (redelivered) this.#entries[n].redelivered++;
    else if (possibleDuplicate) this.#entries[n].flagged++;
    else this.#entries[n].fresh++;
    this.#wake?.();
  }

  /** Numbers delivered at least once. */
  get consumedCount(): number {
    return this.#entries.filter((e) => delivered(e) > 0).length;
  }

  /** Numbers whose publish resolved. */
  get confirmedCount(): number {
    return this.#entries.filter((e) => e.state === "confirmed").length;
  }

  /** Whether message `n` was delivered at least once. */
  wasDelivered(n: number): boolean {
    return n < this.count && delivered(this.#entries[n]) > 0;
  }

  /** Numbers confirmed and not (yet) delivered, the allowed losses among them. */
  missing(): number[] {
    return this.#numbers((e) => e.state === "confirmed" && delivered(e) === 0);
  }

  /** Numbers confirmed and not (yet) delivered that no {@link allowLoss} covers. */
  lost(): number[] {
    return this.missing().filter((n) => !this.#losses.some((a) => a.numbers.has(n)));
  }

  /** Numbers {@link allowLoss} declared certainly lost that were delivered. */
  survived(): number[] {
    return this.#numbers((e, n) =>
      delivered(e) > 0 && this.#losses.some((a) => a.certain && a.numbers.has(n))
    );
  }

  /**
   * Numbers delivered more often than the ledger allows: more fresh deliveries than publish
   * attempts (each attempt may deliver once without the flag; a redelivery says it is one),
   * unless {@link allowDuplicates} covers them.
   */
  extra(): number[] {
    return this.unexplained().filter((n) => !this.#repeats.some((a) => a.numbers.has(n)));
  }

  /** Numbers with more fresh deliveries than publish attempts, the allowed ones among them. */
  unexplained(): number[] {
    return this.#numbers((e) => e.fresh > Math.max(1, e.attempts));
  }

  /** Numbers not delivered exactly once (for scenarios that promise a restore happens once). */
  notExactlyOnce(): number[] {
    return this.#numbers((e) => delivered(e) !== 1);
  }

  /** How many deliveries of `n` carried the redelivered flag. */
  redeliveries(n: number): number {
    return this.#entries[n].redelivered;
  }

  /** Numbers whose publish promise never settled. */
  unsettled(): number[] {
    return this.#numbers((e) => e.state === "pending");
  }

  #numbers(test: (e: Entry, n: number) => boolean): number[] {
    const out: number[] = [];
    this.#entries.forEach((e, n) => test(e, n) && out.push(n));
    return out;
  }

  /**
   * Waits until every confirmed message was delivered (and, with `all`, every message at all),
   * or `ms` passed. Does not fail by itself: {@link check} does.
   *
   * @returns true when they all arrived
   */
  async consumed(ms = 15_000, { all = false } = {}): Promise<boolean> {
    const done = () =>
      all
        ? this.#entries.every((e) => delivered(e) > 0)
        : this.lost().length === 0 && this.unsettled().length === 0;
    const deadline = Date.now() + ms;
    while (!done() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(200, Math.max(1, deadline - Date.now())));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#wake = undefined;
    return done();
  }

  /** The ledger's state in one paragraph (for failure messages). */
  summary(): string {
    const count = (state: Entry["state"]) => this.#entries.filter((e) => e.state === state).length;
    const duplicates = this.#numbers((e) => delivered(e) > 1);
    const retried = this.#numbers((e) => e.attempts > 1);
    const rejected = this.#entries.find((e) => e.state === "rejected")?.error;
    return [
      `fault scenario "${this.name}" (seed ${this.seed}; replay with WAKAME_FAULT_SEED=${this.seed})`,
      `  published ${this.count}: ${count("confirmed")} confirmed, ${
        count("rejected")
      } rejected, ` +
      `${count("pending")} pending, ${count("unsent")} unsent; retried: ${list(retried)}`,
      `  consumed ${this.consumedCount} distinct; duplicates: ${list(duplicates)}`,
      `  missing (confirmed, never consumed): ${list(this.lost())}`,
      `  extra (duplicated without redelivered flag or retry): ${list(this.extra())}`,
      ...this.#losses.map((a) =>
        `  ${a.certain ? "must" : "may"} be lost (${a.reason}): ${list([...a.numbers])}; ` +
        `lost: ${list(this.missing().filter((n) => a.numbers.has(n)))}`
      ),
      ...this.#repeats.map((a) =>
        `  may repeat (${a.reason}): ${list([...a.numbers])}; ` +
        `repeated: ${list(this.unexplained().filter((n) => a.numbers.has(n)))}`
      ),
      `  unsettled publishes: ${list(this.unsettled())}`,
      `  strangers: ${this.#strangers.length ? JSON.stringify(this.#strangers.slice(0, 5)) : "-"}`,
      ...(rejected ? [`  a rejection: ${String(rejected)}`] : []),
      ...(this.#notes.length ? [`  faults: ${this.#notes.join("; ")}`] : []),
    ].join("\n");
  }

  /**
   * The final check: every publish settled, nothing confirmed is missing, no unexplained
   * duplicate, no stranger.
   *
   * @param expect `delivered`: how many distinct numbers must have been consumed at least;
   *   `exactlyOnce`: every number delivered once, no more
   * @throws {AssertionError} with {@link summary} when any fails
   */
  check(expect: { delivered?: number; exactlyOnce?: boolean } = {}): void {
    const problems: string[] = [];
    if (this.unsettled().length) problems.push("publish promises left unsettled");
    if (this.lost().length) problems.push("confirmed messages never consumed");
    if (this.survived().length) {
      problems.push(`delivered although certainly lost: ${list(this.survived())}`);
    }
    if (this.extra().length) problems.push("duplicates without redelivered flag or retry");
    if (this.#strangers.length) problems.push("bodies that were never published");
    if (expect.exactlyOnce && this.notExactlyOnce().length) {
      problems.push(`not delivered exactly once: ${list(this.notExactlyOnce())}`);
    }
    if (expect.delivered !== undefined && this.consumedCount < expect.delivered) {
      problems.push(`fewer than ${expect.delivered} messages consumed`);
    }
    if (process.env.WAKAME_FAULT_VERBOSE) console.log(this.summary());
    if (problems.length) {
      throw new AssertionError({ message: `${problems.join("; ")}\n${this.summary()}` });
    }
  }

  /**
   * Runs the scenario's body under a watchdog: past `ms` it fails with the ledger's state
   * instead of hanging (the body is left behind; the test's cleanup closes what it opened).
   */
  async watch<T>(ms: number, body: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AssertionError({ message: `hung: not done after ${ms} ms\n${this.summary()}` }),
          ),
        ms,
      );
    });
    try {
      return await Promise.race([
        body().catch((error) => {
          throw new AssertionError({
            message: `failed: ${error?.stack ?? error}\n${this.summary()}`,
          });
        }),
        watchdog,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Waits for `promise` (its failure ignored) at most `ms`. */
export async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}

/** Numbers as a short list (ranges folded). */
function list(numbers: number[]): string {
  if (numbers.length === 0) return "-";
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; i++) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    parts.push(j === i ? String(numbers[i]) : `${numbers[i]}-${numbers[j]}`);
    i = j;
  }
  const shown = parts.slice(0, 30).join(", ");
  return `${numbers.length} [${shown}${parts.length > 30 ? ", ..." : ""}]`;
}

/** What {@link consumeInto} needs of a connection (wakame's `Connection`). */
interface Consumes {
  consumer(
    queue: Queue,
    options: ConsumerOptions,
  ): { consume(): Promise<unknown>; cancel(): Promise<unknown> };
}

/**
 * Consumes `queue` into the ledger: each delivery recorded with its redelivered flag, then
 * acked (an ack refused on a dead channel is left to the broker's redelivery).
 *
 * @returns a function that cancels the consumer
 */
export async function consumeInto(
  ledger: Ledger,
  conn: Consumes,
  queue: Queue,
  options: ConsumerOptions = {},
): Promise<() => Promise<void>> {
  const consumer = conn.consumer(queue, {
    prefetchCount: 20,
    ...options,
    callbacks: [async (body, message) => {
      // A store that may hold a message twice (a send retried after its answer was lost) says so
      // with this header: such a copy is a retried publish's, as the ledger allows.
      const possibleDuplicate = message.headers?.[POSSIBLE_DUPLICATE_HEADER] === true;
      ledger.delivered(body, message.deliveryInfo.redelivered, possibleDuplicate);
      await message.ack().catch(() => undefined);
    }],
  });
  await consumer.consume();
  // Bounded: a cancel that hangs must not hang the scenario's cleanup (the watchdog has spoken).
  return () => bounded(consumer.cancel(), 3000);
}

/** The retry policy of {@link publishRetrying}: patient enough for a failover. */
export const FAILOVER_RETRY: RetryPolicy = {
  maxRetries: 60,
  intervalStart: 100,
  intervalStep: 100,
  intervalMax: 500,
};

/**
 * Publishes the next `howMany` numbers of the ledger to `queue` (declared), each with `retry`
 * and {@link FAILOVER_RETRY}; every retry is recorded as another attempt (its copy allowed).
 */
export function publishRetrying(
  ledger: Ledger,
  producer: Producer,
  queue: Queue,
  howMany: number,
): Promise<void> {
  return ledger.publishNext(howMany, (body, retried) =>
    producer.publish(body, {
      routingKey: queue.name,
      declare: [queue],
      retry: true,
      retryPolicy: { ...FAILOVER_RETRY, onRetry: retried },
    }));
}

/** The numbers `from` (inclusive) to `to` (exclusive). */
export const range = (from: number, to: number): number[] =>
  Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
