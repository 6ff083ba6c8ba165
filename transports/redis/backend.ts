/**
 * The Redis queue store in Python Kombu's exact layout, with no loss window.
 *
 * Layout (shared with Python Kombu): a queue is a list, `LPUSH` to publish and `RPOP` (from the
 * right) to consume, one list per priority step (`queue`, `queue\x06\x163`, ...; step 0 is
 * consumed first); bindings in `_kombu.binding.<exchange>`; unacknowledged messages in the
 * `unacked` hash (`[envelope, exchange, routing_key]` by delivery tag) and the `unacked_index`
 * sorted set (delivery time); fanout over PUBLISH / PSUBSCRIBE on `/{db}.<exchange>`.
 *
 * Differences from Python Kombu, all in the direction of safety:
 * - a message moves from its list to `unacked` in one Lua script (`scripts.ts`), never through
 *   the consumer's memory alone;
 * - consumers wait without a blocking pop: the command connection reads the list keys under
 *   Redis client-side caching (`CLIENT TRACKING ... REDIRECT ... OPTIN`), and the server's
 *   invalidation message on the pub/sub connection says that one of them changed. Nothing ever
 *   sits in the reply of a BRPOP whose reader died. When the server refuses tracking (Redis < 6,
 *   proxies), the store polls every `pollInterval` ms instead;
 * - a requeued or restored message goes to the list of its priority step (Kombu pushes to the
 *   step-0 list);
 * - a lost connection is re-opened by the store itself; a waiting consumer never stops.
 *
 * @module
 */

import { ChannelError, ConnectionError, ProtocolError, TimeoutError } from "../../src/errors.ts";
import { decodeEnvelope, envelopeToObject, pythonJsonDumps } from "../../src/envelope.ts";
import type { FieldTable } from "../../src/transport.ts";
import { cycleByName, type RoundRobinCycle } from "../../src/utils/fair_cycle.ts";
import type {
  AckStore,
  GetManyOptions,
  QueueBackend,
  StoredMessage,
} from "../../src/virtual/backend.ts";
import { topicMatcher, type TopicRules } from "../../src/virtual/exchange_types.ts";
import { TickBatcher } from "./batch.ts";
import { RedisBindingStore } from "./bindings.ts";
import type { RedisConnector } from "./connector.ts";
import { type RedisLink, replyText } from "./driver.ts";
import { KeyLayout, priorityStep } from "./keys.ts";
import type { RedisSettings } from "./options.ts";
import { type RespArg, RespErrorReply, type RespValue } from "./resp/types.ts";
import { FETCH, RESTORE, Script, UNLOCK } from "./scripts.ts";

const fetchScript = new Script("fetch", FETCH);
const restoreScript = new Script("restore", RESTORE);
const unlockScript = new Script("unlock", UNLOCK);

/** Kombu's dead-letter queue for restores that match no binding (`deadletter_queue`). */
const UNDELIVERABLE_QUEUE = "ae.undeliver";
const INVALIDATE_CHANNEL = "__redis__:invalidate";
/** Smallest full batch after which the next one is fetched ahead. */
const READ_AHEAD_MIN = 32;
/** Milliseconds a read-ahead batch waits to be claimed before it goes back. */
const READ_AHEAD_TTL = 1000;

interface ReadAhead {
  id: string;
  max: number;
  result: Promise<[string, StoredMessage][]>;
  timer: ReturnType<typeof setTimeout>;
}

/** What the store may report to its connection. */
export interface RedisBackendContext {
  /** A failure the store survived (reconnects, undecodable messages). */
  warn(message: string, error?: unknown): void;
  /** How topic bindings match when a restored message is routed again (default `amqp`). */
  topicRules?: TopicRules;
}

/** What the store keeps in {@link StoredMessage.backendData}. */
interface Held {
  /** Recorded in `unacked` (false for fanout deliveries, as in Kombu). */
  recorded: boolean;
}

function isConnectionLoss(error: unknown): boolean {
  return error instanceof ConnectionError || error instanceof TimeoutError ||
    error instanceof ProtocolError;
}

function check(reply: RespValue, action: string): RespValue {
  if (reply instanceof RespErrorReply) {
    throw new ChannelError(`Cannot ${action}: ${reply.message}`, { cause: reply });
  }
  return reply;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Marks an envelope redelivered the way Kombu's Redis transport does
 * (`headers.redelivered` and `properties.delivery_info.redelivered`).
 */
function markRedelivered(envelope: Record<string, unknown>): Record<string, unknown> {
  const headers = isRecord(envelope.headers) ? { ...envelope.headers } : {};
  headers.redelivered = true;
  envelope.headers = headers;
  if (isRecord(envelope.properties)) {
    const properties = { ...envelope.properties };
    const info = isRecord(properties.delivery_info) ? { ...properties.delivery_info } : {};
    info.redelivered = true;
    properties.delivery_info = info;
    envelope.properties = properties;
  }
  return envelope;
}

/**
 * A {@link QueueBackend} (with its {@link AckStore}) on Redis, compatible with Python Kombu.
 *
 * @example
 * ```ts ignore
 * import { Connection } from "@wakame/wakame";
 * const connection = new Connection("redis://127.0.0.1:6379/0", {
 *   transportOptions: { visibilityTimeout: 60_000 },
 * });
 * ```
 */
export class RedisBackend implements QueueBackend, AckStore {
  /** Bindings in `_kombu.binding.*`. */
  readonly bindings: RedisBindingStore;
  /** Ack emulation in `unacked` (absent when `ackEmulation` is off). */
  readonly acks: AckStore | undefined;

  readonly #connector: RedisConnector;
  readonly #settings: RedisSettings;
  readonly #layout: KeyLayout;
  readonly #context: RedisBackendContext;
  #cmd: RedisLink | undefined;
  #sub: RedisLink | undefined;
  #connecting: Promise<void> | undefined;
  #wakeup: "tracking" | "poll";
  #tracking = false;
  #generation = 0;
  readonly #waiters = new Set<() => void>();
  /** PSUBSCRIBE pattern -> queues that get what it matches. */
  readonly #fanoutPatterns = new Map<string, Set<string>>();
  readonly #fanoutExchanges = new Set<string>();
  readonly #fanoutBuffers = new Map<string, string[]>();
  readonly #expires = new Map<string, number>();
  readonly #cycle: RoundRobinCycle<string>;
  #cycleQueues = "";
  #lastSweep = 0;
  #lastHealthCheck = Date.now();
  #isClosed = false;
  #ahead: ReadAhead | undefined;
  readonly #pushes = new TickBatcher<[queue: string, text: string]>((key, items) =>
    this.#push(key, items)
  );
  readonly #acks = new TickBatcher<string>((_key, tags) => this.#ackMany(tags));

  /**
   * Makes the store; {@link RedisBackend.open} connects it.
   *
   * @param connector opens links to the server
   * @param settings transport settings
   * @param context where warnings go
   */
  constructor(connector: RedisConnector, settings: RedisSettings, context: RedisBackendContext) {
    this.#connector = connector;
    this.#settings = settings;
    this.#context = context;
    this.#layout = new KeyLayout(settings, connector.db);
    this.#wakeup = settings.wakeup;
    this.#cycle = cycleByName<string>(settings.queueOrderStrategy);
    this.bindings = new RedisBindingStore(
      this.#layout,
      () => this.#link(),
      () => this.#bindingsTracked(),
    );
    this.acks = settings.ackEmulation ? this : undefined;
  }

  /** True when binding reads may be cached; starts tracking in the background otherwise. */
  #bindingsTracked(): boolean {
    if (this.#tracking && this.#cmd?.isOpen === true && this.#sub?.isOpen === true) return true;
    if (this.#wakeup === "tracking" && !this.#connecting && !this.#isClosed) {
      this.#ensure(true).catch(() => undefined);
    }
    return false;
  }

  /** Key names in use. */
  get layout(): KeyLayout {
    return this.#layout;
  }

  /**
   * Connects the command link (and checks the cluster slot in cluster mode).
   *
   * @throws {ConnectionError} when the server cannot be reached
   */
  async open(): Promise<void> {
    await Promise.all([fetchScript.prepare(), restoreScript.prepare(), unlockScript.prepare()]);
    await this.#link();
  }

  // ------------------------------------------------------------------------------------------
  // Links

  #needsSubscriber(): boolean {
    return this.#wakeup === "tracking" || this.#fanoutPatterns.size > 0;
  }

  async #link(): Promise<RedisLink> {
    if (this.#cmd?.isOpen) return this.#cmd;
    await this.#ensure(false);
    return this.#cmd!;
  }

  async #ensure(withSubscriber: boolean): Promise<void> {
    for (;;) {
      if (this.#isClosed) {
        throw new ConnectionError("Cannot use the Redis store: it is closed");
      }
      const cmdReady = this.#cmd?.isOpen === true;
      const subReady = !withSubscriber || !this.#needsSubscriber() ||
        (this.#sub?.isOpen === true && (this.#wakeup !== "tracking" || this.#tracking));
      if (cmdReady && subReady) return;
      if (this.#connecting) {
        await this.#connecting;
        continue;
      }
      this.#connecting = this.#connect(withSubscriber).finally(
        () => (this.#connecting = undefined),
      );
      await this.#connecting;
    }
  }

  async #connect(withSubscriber: boolean): Promise<void> {
    if (!this.#cmd?.isOpen) {
      this.#tracking = false;
      let link = await this.#connector.open(false);
      link = await this.#connector.checkCluster(link, [
        this.#layout.unacked,
        this.#layout.queueKey("celery", 0),
        this.#layout.bindingKey("celery"),
      ]);
      if (this.#isClosed) {
        await link.close();
        throw new ConnectionError("Cannot use the Redis store: it is closed");
      }
      this.#cmd = link;
      void link.closed.then(() => {
        this.bindings.invalidate(null);
        this.#wake();
      });
    }
    if (!withSubscriber || !this.#needsSubscriber()) return;
    if (!this.#sub?.isOpen) {
      this.#tracking = false;
      const sub = await this.#connector.open(true);
      try {
        const id = await sub.send(["CLIENT", "ID"]);
        sub.onMessage = (channel, data, pattern) => this.#onMessage(channel, data, pattern);
        if (this.#wakeup === "tracking") await sub.send(["SUBSCRIBE", INVALIDATE_CHANNEL]);
        const patterns = [...this.#fanoutPatterns.keys()];
        if (patterns.length > 0) await sub.send(["PSUBSCRIBE", ...patterns]);
        // The store may have closed while this link was opening: it must not outlive it.
        if (this.#isClosed) throw new ConnectionError("Cannot use the Redis store: it is closed");
        this.#sub = sub;
        (sub as { clientId?: number }).clientId = Number(id);
      } catch (error) {
        await sub.close().catch(() => undefined);
        throw error;
      }
      void sub.closed.then(() => {
        this.bindings.invalidate(null);
        this.#wake();
      });
    }
    if (this.#wakeup === "tracking" && !this.#tracking) {
      const cmd = this.#cmd!;
      const id = (this.#sub as { clientId?: number }).clientId!;
      await cmd.send(["CLIENT", "TRACKING", "OFF"]);
      const reply = await cmd.send(["CLIENT", "TRACKING", "ON", "REDIRECT", id, "OPTIN"]);
      if (reply instanceof RespErrorReply) {
        this.#context.warn(
          `Cannot turn on Redis client tracking (${reply.message}); polling every ${this.#settings.pollInterval} ms`,
        );
        this.#wakeup = "poll";
      } else {
        this.#tracking = true;
      }
    }
  }

  #onMessage(channel: string, data: RespValue, pattern: string | undefined): void {
    if (channel === INVALIDATE_CHANNEL) {
      this.bindings.invalidate(
        Array.isArray(data) ? data.map((key) => replyText(key) ?? "") : null,
      );
      this.#wake();
      return;
    }
    const queues = pattern === undefined ? undefined : this.#fanoutPatterns.get(pattern);
    const text = replyText(data);
    if (!queues || text === undefined) return;
    for (const queue of queues) {
      let buffer = this.#fanoutBuffers.get(queue);
      if (!buffer) this.#fanoutBuffers.set(queue, buffer = []);
      buffer.push(text);
      // Fanout is at-most-once (as in Kombu): past the limit the oldest message goes.
      if (buffer.length > this.#settings.fanoutBufferLimit) buffer.shift();
    }
    this.#wake();
  }

  #wake(): void {
    this.#generation++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  #waitForChange(generation: number, signal: AbortSignal, ms: number): Promise<void> {
    if (this.#generation !== generation || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.#waiters.add(done);
    });
  }

  // ------------------------------------------------------------------------------------------
  // Messages

  #encode(message: StoredMessage): string {
    return pythonJsonDumps(envelopeToObject({ ...message, redelivered: false }));
  }

  async #pexpire(link: RedisLink, queue: string): Promise<void> {
    const ttl = this.#expires.get(queue);
    if (ttl === undefined) return;
    await Promise.all(this.#layout.queueKeys(queue).map((key) => link.send(["PEXPIRE", key, ttl])));
  }

  /**
   * LPUSH of the envelope onto the list of the message's priority step. Publishes to one list in
   * one tick go out as one variadic LPUSH (same order as one LPUSH each).
   */
  put(queue: string, message: StoredMessage): Promise<void> {
    const key = this.#layout.queueKey(
      queue,
      priorityStep(this.#layout.steps, message.properties.priority),
    );
    return this.#pushes.add(key, [queue, this.#encode(message)]);
  }

  async #push(key: string, items: [queue: string, text: string][]): Promise<void> {
    const link = await this.#link();
    const queue = items[0]![0];
    const args: RespArg[] = ["LPUSH", key];
    for (const [, text] of items) args.push(text);
    const [pushed] = await Promise.all([
      link.send(args),
      // After the LPUSH on the same connection: PEXPIRE of a list that does not exist is lost.
      this.#expires.has(queue) ? this.#pexpire(link, queue) : undefined,
    ]);
    check(pushed, `publish to queue "${queue}"`);
  }

  /** PUBLISH on the exchange's fanout channel (at-most-once, as in Kombu). */
  async putFanout(exchange: string, message: StoredMessage, routingKey: string): Promise<void> {
    const link = await this.#link();
    check(
      await link.send([
        "PUBLISH",
        this.#layout.fanoutChannel(exchange, routingKey),
        this.#encode(message),
      ]),
      `publish to fanout exchange "${exchange}"`,
    );
  }

  /** PSUBSCRIBEs to the fanout channel so the queue receives what the exchange broadcasts. */
  async bindFanout(exchange: string, queue: string, routingKey: string): Promise<void> {
    this.#fanoutExchanges.add(exchange);
    await this.bindings.markFanout(exchange, { queue, routingKey });
    const pattern = this.#layout.fanoutPattern(exchange, routingKey);
    let queues = this.#fanoutPatterns.get(pattern);
    const fresh = !queues;
    if (!queues) this.#fanoutPatterns.set(pattern, queues = new Set());
    queues.add(queue);
    const hadSubscriber = this.#sub?.isOpen === true;
    await this.#ensure(true);
    // A subscriber opened just now subscribed to every pattern already.
    if (fresh && hadSubscriber && this.#sub?.isOpen) {
      check(await this.#sub.send(["PSUBSCRIBE", pattern]), `subscribe to exchange "${exchange}"`);
    }
  }

  /** Takes the oldest message of the queue (highest priority step first), recorded as unacked. */
  async get(queue: string): Promise<StoredMessage | undefined> {
    const fanout = this.#takeFanout([queue], 1);
    if (fanout.length > 0) return fanout[0]![1];
    const [first] = await this.#fetch([queue], 1);
    return first?.[1];
  }

  #takeFanout(queues: readonly string[], max: number): [string, StoredMessage][] {
    const out: [string, StoredMessage][] = [];
    if (this.#fanoutBuffers.size === 0) return out;
    for (const queue of queues) {
      const buffer = this.#fanoutBuffers.get(queue);
      while (buffer && buffer.length > 0 && out.length < max) {
        const message = this.#decode(buffer.shift()!, queue, false);
        if (message) out.push([queue, message]);
      }
    }
    return out;
  }

  #decode(text: string, queue: string, recorded: boolean): StoredMessage | undefined {
    try {
      const message = decodeEnvelope(text);
      message.backendData = { recorded } satisfies Held;
      return message;
    } catch (error) {
      this.#context.warn(`Cannot decode a message of queue "${queue}"; dropped`, error);
      return undefined;
    }
  }

  #order(queues: readonly string[]): string[] {
    const unique = [...new Set(queues)];
    const id = [...unique].sort().join("\u0000");
    if (id !== this.#cycleQueues) {
      this.#cycleQueues = id;
      this.#cycle.update(unique);
    }
    return this.#cycle.consume();
  }

  async #fetch(queues: readonly string[], max: number): Promise<[string, StoredMessage][]> {
    const ordered = queues.length === 1 ? [queues[0]!] : this.#order(queues);
    const keys: string[] = [this.#layout.unacked, this.#layout.unackedIndex];
    for (const step of this.#layout.steps) {
      for (const queue of ordered) keys.push(this.#layout.queueKey(queue, step));
    }
    const link = await this.#link();
    const reply = await fetchScript.run(link, keys, [
      max,
      (Date.now() / 1000).toFixed(6),
      ordered.length,
      this.acks ? "1" : "0",
    ]);
    const out: [string, StoredMessage][] = [];
    if (!Array.isArray(reply)) return out;
    let last: string | undefined;
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const queue = ordered[Number(reply[i]) % ordered.length]!;
      const text = replyText(reply[i + 1]);
      if (text === undefined) continue;
      const message = this.#decode(text, queue, this.acks !== undefined);
      if (message) out.push([queue, message]);
      last = queue;
    }
    if (last !== undefined && ordered.length > 1) this.#cycle.rotate(last);
    return out;
  }

  /**
   * Waits until one of the queues has messages, then takes up to `max`, each recorded as
   * unacked in the same atomic step. Reconnects by itself when the connection is lost.
   */
  async getMany(
    queues: readonly string[],
    options: GetManyOptions,
  ): Promise<[string, StoredMessage][]> {
    const { max, signal } = options;
    let failures = 0;
    while (!signal.aborted && !this.#isClosed) {
      try {
        await this.#ensure(true);
        await this.#maybeSweep();
        this.#maybeCheckHealth();
        const fanout = this.#takeFanout(queues, max);
        if (fanout.length > 0) return fanout;
        const generation = this.#generation;
        const got = await this.#fetchWithReadAhead(queues, max);
        failures = 0;
        if (got.length > 0) return got;
        let wait = Math.min(
          this.#sweepInterval(),
          this.#settings.healthCheckInterval || Infinity,
        );
        if (this.#wakeup === "tracking" && this.#tracking) {
          if (await this.#arm(queues)) continue;
        } else {
          wait = Math.min(wait, this.#settings.pollInterval);
        }
        await this.#waitForChange(generation, signal, wait);
      } catch (error) {
        if (!isConnectionLoss(error) || this.#isClosed) throw error;
        failures++;
        this.#context.warn(
          `Lost the Redis connection while consuming; reconnecting (attempt ${failures})`,
          error,
        );
        await this.#waitForChange(this.#generation, signal, Math.min(100 * 2 ** failures, 2000));
      }
    }
    return [];
  }

  /**
   * Fetches, overlapping the next round trip with the caller's work: after a full batch of at
   * least {@link READ_AHEAD_MIN} messages, the next batch is fetched at once (already recorded
   * in `unacked`, like any fetched message) and handed over by the next call for the same
   * queues. A batch nobody claims within {@link READ_AHEAD_TTL} ms, or that no longer fits the
   * caller's room, goes back to the front of its queue untouched. Consumers with a small
   * prefetch (room below the minimum) never read ahead.
   */
  async #fetchWithReadAhead(
    queues: readonly string[],
    max: number,
  ): Promise<[string, StoredMessage][]> {
    const id = queues.join("\u0000");
    const ahead = this.#ahead;
    this.#ahead = undefined;
    let got: [string, StoredMessage][];
    if (ahead) {
      clearTimeout(ahead.timer);
      if (ahead.id === id && ahead.max <= max) {
        got = await ahead.result;
      } else {
        await this.#giveBackAhead(ahead);
        got = await this.#fetch(queues, max);
      }
    } else {
      got = await this.#fetch(queues, max);
    }
    if (got.length === max && max >= READ_AHEAD_MIN && !this.#isClosed) {
      const result = this.#fetch(queues, max);
      result.catch(() => undefined);
      const next: ReadAhead = {
        id,
        max,
        result,
        timer: setTimeout(() => {
          if (this.#ahead !== next) return;
          this.#ahead = undefined;
          this.#giveBackAhead(next).catch((error) =>
            this.#context.warn("Cannot give back messages read ahead", error)
          );
        }, READ_AHEAD_TTL),
      };
      this.#ahead = next;
    }
    return got;
  }

  /** Puts a read-ahead batch back at the front of its queues, in order, not marked redelivered. */
  async #giveBackAhead(ahead: ReadAhead): Promise<void> {
    let got: [string, StoredMessage][];
    try {
      got = await ahead.result;
    } catch {
      return; // lost with its connection: the visibility timeout brings it back
    }
    if (got.length === 0) return;
    const link = await this.#link();
    await Promise.all(
      [...got].reverse().map(([queue, message]) => {
        const key = this.#layout.queueKey(
          queue,
          priorityStep(this.#layout.steps, message.properties.priority),
        );
        return restoreScript.run(
          link,
          [this.#layout.unacked, this.#layout.unackedIndex, key],
          [message.tag, "R", this.#encode(message), this.#held(message).recorded ? "0" : "1"],
        );
      }),
    );
  }

  /**
   * Asks the server to report the next change of the queues' keys (client tracking, OPTIN).
   *
   * @returns true when a key already holds messages (fetch again instead of waiting)
   */
  async #arm(queues: readonly string[]): Promise<boolean> {
    const link = await this.#link();
    const keys: RespArg[] = [];
    for (const queue of queues) keys.push(...this.#layout.queueKeys(queue));
    // Two sends in one tick: CACHING YES applies to the EXISTS right behind it.
    const [cachingReply, count] = await Promise.all([
      link.send(["CLIENT", "CACHING", "YES"]),
      link.send(["EXISTS", ...keys]),
    ]);
    if (cachingReply instanceof RespErrorReply) {
      this.#context.warn(`Cannot use Redis client tracking (${cachingReply.message}); polling`);
      this.#wakeup = "poll";
      return true;
    }
    return typeof count === "number" && count > 0;
  }

  /** Messages waiting in the queue, over every priority step. */
  async size(queue: string): Promise<number> {
    const link = await this.#link();
    const replies = await Promise.all(
      this.#layout.queueKeys(queue).map((key) => link.send(["LLEN", key])),
    );
    let total = this.#fanoutBuffers.get(queue)?.length ?? 0;
    for (const reply of replies) total += Number(check(reply, `size queue "${queue}"`)) || 0;
    return total;
  }

  /** Deletes every priority list of the queue in one transaction; resolves to how many. */
  async purge(queue: string): Promise<number> {
    const link = await this.#link();
    const keys = this.#layout.queueKeys(queue);
    const sends: Promise<RespValue>[] = [link.send(["MULTI"])];
    for (const key of keys) sends.push(link.send(["LLEN", key]));
    sends.push(link.send(["DEL", ...keys]));
    sends.push(link.send(["EXEC"]));
    const replies = await Promise.all(sends);
    const exec = check(replies[replies.length - 1]!, `purge queue "${queue}"`);
    let total = this.#fanoutBuffers.get(queue)?.length ?? 0;
    this.#fanoutBuffers.delete(queue);
    if (Array.isArray(exec)) {
      for (let i = 0; i < keys.length; i++) total += Number(exec[i]) || 0;
    }
    return total;
  }

  /** Deletes the queue's lists, the bindings made here, and its fanout subscriptions. */
  async delete(queue: string): Promise<void> {
    const link = await this.#link();
    check(await link.send(["DEL", ...this.#layout.queueKeys(queue)]), `delete queue "${queue}"`);
    await this.bindings.removeQueue(queue);
    this.#fanoutBuffers.delete(queue);
    this.#expires.delete(queue);
    for (const [pattern, queues] of this.#fanoutPatterns) {
      if (!queues.delete(queue) || queues.size > 0) continue;
      this.#fanoutPatterns.delete(pattern);
      if (this.#sub?.isOpen) await this.#sub.send(["PUNSUBSCRIBE", pattern]).catch(() => undefined);
    }
  }

  /** Remembers `x-expires` (milliseconds): the queue's lists get PEXPIRE on every publish. */
  async declare(queue: string, args: Record<string, unknown>): Promise<void> {
    const expires = (args as FieldTable)["x-expires"];
    if (typeof expires === "number" && expires > 0) {
      this.#expires.set(queue, Math.floor(expires));
      await this.#pexpire(await this.#link(), queue);
    }
  }

  // ------------------------------------------------------------------------------------------
  // AckStore: the unacked hash and index

  #held(message: StoredMessage): Held {
    const data = message.backendData as Held | undefined;
    return data ?? { recorded: true };
  }

  /** ZREM + HDEL: the message is done (the acks of one tick share one ZREM and one HDEL). */
  ack(_queue: string, message: StoredMessage): Promise<void> {
    if (!this.#held(message).recorded) return Promise.resolve();
    return this.#acks.add("ack", message.tag);
  }

  async #ackMany(tags: string[]): Promise<void> {
    const link = await this.#link();
    const [zrem, hdel] = await Promise.all([
      link.send(["ZREM", this.#layout.unackedIndex, ...tags]),
      link.send(["HDEL", this.#layout.unacked, ...tags]),
    ]);
    check(zrem, `ack ${tags.length} message(s)`);
    check(hdel, `ack ${tags.length} message(s)`);
  }

  /** Reject without requeue: forgotten, like an ack. */
  drop(queue: string, message: StoredMessage): Promise<void> {
    return this.ack(queue, message);
  }

  async #giveBack(queue: string, message: StoredMessage, side: "L" | "R"): Promise<void> {
    const link = await this.#link();
    const key = this.#layout.queueKey(
      queue,
      priorityStep(this.#layout.steps, message.properties.priority),
    );
    const text = pythonJsonDumps(
      markRedelivered(envelopeToObject({ ...message, redelivered: false })),
    );
    await restoreScript.run(
      link,
      [this.#layout.unacked, this.#layout.unackedIndex, key],
      [message.tag, side, text, this.#held(message).recorded ? "0" : "1"],
    );
  }

  /** Reject with requeue: LPUSH, the back of the queue (Kombu's order), marked redelivered. */
  requeue(queue: string, message: StoredMessage): Promise<void> {
    return this.#giveBack(queue, message, "L");
  }

  /** Channel close: RPUSH, the front of the queue (Kombu's restore order), marked redelivered. */
  async restore(unacked: readonly [queue: string, message: StoredMessage][]): Promise<void> {
    // Reverse, so that the first delivered ends up first in line again.
    await Promise.all(
      [...unacked].reverse().map(([queue, message]) => this.#giveBack(queue, message, "R")),
    );
  }

  /**
   * PINGs the pub/sub connection every `healthCheckInterval` ms: a connection that died without
   * a word (no RST) would otherwise never deliver another wake-up or fanout message. A PING
   * without a reply within the interval closes the link; the next round reopens it.
   */
  #maybeCheckHealth(): void {
    const every = this.#settings.healthCheckInterval;
    const sub = this.#sub;
    if (!every || !sub?.isOpen || Date.now() - this.#lastHealthCheck < every) return;
    this.#lastHealthCheck = Date.now();
    let answered = false;
    const timer = setTimeout(() => {
      if (answered) return;
      this.#context.warn("The Redis pub/sub connection did not answer PING; reopening it");
      sub.close().catch(() => undefined);
    }, every);
    sub.send(["PING"], { timeout: false }).then(
      () => {
        answered = true;
        clearTimeout(timer);
      },
      () => clearTimeout(timer),
    );
  }

  // ------------------------------------------------------------------------------------------
  // Visibility timeout: give back what dead consumers held

  #sweepInterval(): number {
    return Math.min(10_000, Math.max(100, this.#settings.visibilityTimeout / 2));
  }

  async #maybeSweep(): Promise<void> {
    if (!this.acks) return;
    const now = Date.now();
    if (now - this.#lastSweep < this.#sweepInterval()) return;
    this.#lastSweep = now;
    try {
      await this.restoreVisible();
    } catch (error) {
      if (isConnectionLoss(error)) throw error;
      this.#context.warn(
        "Cannot restore unacknowledged messages past their visibility timeout",
        error,
      );
    }
  }

  /**
   * Puts back every message delivered more than `visibilityTimeout` ago and never acknowledged
   * (Kombu's `QoS.restore_visible`), under the `unacked_mutex` lock (SET NX PX). The message goes
   * to the queues its exchange and routing key reach now (as in Kombu), at the front.
   *
   * @returns how many messages were restored
   * @throws {ConnectionError} when the connection is lost
   */
  async restoreVisible(): Promise<number> {
    const link = await this.#link();
    const token = crypto.randomUUID();
    const locked = await link.send([
      "SET",
      this.#layout.unackedMutex,
      token,
      "NX",
      "PX",
      Math.max(1, Math.floor(this.#settings.unackedMutexExpire)),
    ]);
    if (locked === null || locked instanceof RespErrorReply) return 0;
    let restored = 0;
    try {
      const ceiling = (Date.now() - this.#settings.visibilityTimeout) / 1000;
      const args: RespArg[] = [
        "ZREVRANGEBYSCORE",
        this.#layout.unackedIndex,
        ceiling.toFixed(6),
        0,
        "WITHSCORES",
      ];
      const limit = this.#settings.unackedRestoreLimit;
      if (limit) args.push("LIMIT", 0, limit);
      const visible = check(await link.send(args), "list unacknowledged messages");
      if (!Array.isArray(visible)) return 0;
      // RESP2 answers member, score, member, score...; RESP3 answers [member, score] pairs.
      const tags = Array.isArray(visible[0])
        ? visible.map((pair) => replyText((pair as RespValue[])[0]))
        : visible.filter((_, i) => i % 2 === 0).map((member) => replyText(member));
      for (const tag of tags) {
        if (tag !== undefined && await this.#restoreByTag(link, tag)) restored++;
      }
    } finally {
      await unlockScript.run(link, [this.#layout.unackedMutex], [token]).catch(() => undefined);
    }
    return restored;
  }

  async #restoreByTag(link: RedisLink, tag: string): Promise<boolean> {
    const raw = replyText(
      check(await link.send(["HGET", this.#layout.unacked, tag]), "read unacked"),
    );
    if (raw === undefined) {
      await link.send(["ZREM", this.#layout.unackedIndex, tag]);
      return false;
    }
    let entry: unknown;
    try {
      entry = JSON.parse(raw);
    } catch (error) {
      this.#context.warn(`Cannot restore unacked message "${tag}": not JSON`, error);
      return false;
    }
    if (!Array.isArray(entry) || !isRecord(entry[0])) {
      this.#context.warn(`Cannot restore unacked message "${tag}": not [envelope, exchange, key]`);
      return false;
    }
    const envelope = markRedelivered(entry[0]);
    const exchange = typeof entry[1] === "string" ? entry[1] : "";
    const routingKey = typeof entry[2] === "string" ? entry[2] : "";
    const queues = await this.#lookup(exchange, routingKey);
    const properties = isRecord(envelope.properties) ? envelope.properties : {};
    const priority = typeof properties.priority === "number" ? properties.priority : 0;
    const step = priorityStep(this.#layout.steps, priority);
    const reply = await restoreScript.run(
      link,
      [
        this.#layout.unacked,
        this.#layout.unackedIndex,
        ...queues.map((q) => this.#layout.queueKey(q, step)),
      ],
      [tag, "R", pythonJsonDumps(envelope), "0"],
    );
    return reply === 1;
  }

  /**
   * The queues a restored message goes to (Kombu's `_lookup`). Stores keep no exchange types,
   * so: the default exchange routes by name; a fanout exchange bound here reaches every bound
   * queue; a row with a topic pattern matches as a topic (with the transport's `topicRules`,
   * AMQP's by default); any other row, directly. Nothing matched: Kombu's dead-letter queue
   * `ae.undeliver`.
   */
  async #lookup(exchange: string, routingKey: string): Promise<string[]> {
    if (!exchange) return [routingKey || UNDELIVERABLE_QUEUE];
    const rows = await this.bindings.rows(exchange);
    const fanout = this.#fanoutExchanges.has(exchange);
    const topicMatches = topicMatcher(this.#context.topicRules ?? "amqp");
    const queues = new Set<string>();
    for (const row of rows) {
      if (
        fanout ||
        (row.pattern ? topicMatches(row.routingKey, routingKey) : row.routingKey === routingKey)
      ) {
        queues.add(row.queue);
      }
    }
    if (queues.size === 0) {
      this.#context.warn(
        `Cannot route restored message of exchange "${exchange}" with key "${routingKey}"; ` +
          `it goes to "${UNDELIVERABLE_QUEUE}"`,
      );
      return [UNDELIVERABLE_QUEUE];
    }
    return [...queues];
  }

  /** Closes both connections. Unacked messages were restored by the channels already. */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    const ahead = this.#ahead;
    this.#ahead = undefined;
    if (ahead) {
      clearTimeout(ahead.timer);
      await this.#giveBackAhead(ahead).catch((error) =>
        this.#context.warn("Cannot give back messages read ahead", error)
      );
    }
    this.#isClosed = true;
    this.#wake();
    // A connect under way sees the flag and closes what it opened.
    await this.#connecting?.catch(() => undefined);
    await Promise.all([
      this.#cmd?.close().catch(() => undefined),
      this.#sub?.close().catch(() => undefined),
    ]);
  }
}
