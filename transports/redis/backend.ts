/**
 * The Redis queue store in Python Kombu's exact layout, with no loss window.
 *
 * Layout (shared with Python Kombu): a queue is a list, `LPUSH` to publish and `RPOP` (from the
 * right) to consume, one list per priority step (`queue`, `queue\x06\x163`, ...; step 0 is
 * consumed first); bindings in `_kombu.binding.<exchange>` (`bindings.ts`); unacknowledged
 * messages in `unacked` / `unacked_index` (`lease.ts`); fanout over PUBLISH / PSUBSCRIBE on
 * `/{db}.<exchange>` (`fanout.ts`); the two connections and wake-ups in `links.ts`.
 *
 * Differences from Python Kombu, all toward safety: a message moves from its list to `unacked`
 * in one Lua script (`scripts.ts`); consumers wait without a blocking pop, woken by client-side
 * caching invalidations (`links.ts`), so nothing sits in the reply of a dead reader's BRPOP; a
 * requeued or restored message goes to the list of its priority step (Kombu: step 0); a lost
 * connection is re-opened by the store itself, and a waiting consumer never stops.
 *
 * @module
 */

import { ChannelError } from "../../src/errors.ts";
import { encodeEnvelope } from "../../src/envelope.ts";
import type { FieldTable } from "../../src/transport.ts";
import type {
  GetManyOptions,
  QueueBackend,
  QueueBatch,
  StoredMessage,
} from "../../src/virtual/backend.ts";
import type { BackendContext } from "../../src/virtual/transport.ts";
import { TickBatcher } from "./batch.ts";
import { RedisBindingStore } from "./bindings.ts";
import type { RedisConnector } from "./connector.ts";
import { type RedisLink, replyText } from "./driver.ts";
import { RedisFanout } from "./fanout.ts";
import { decodeFetched, readFetchReply } from "./fetched.ts";
import { KeyLayout, priorityStep } from "./keys.ts";
import { isConnectionLoss, RedisLease } from "./lease.ts";
import { INVALIDATE_CHANNEL, RedisLinks } from "./links.ts";
import type { RedisSettings } from "./options.ts";
import { ReadAhead } from "./read_ahead.ts";
import { type RespArg, RespErrorReply, type RespValue } from "./resp/types.ts";
import { FETCH, Script } from "./scripts.ts";

const fetchScript = new Script("fetch", FETCH);

/** What the store needs from its connection: warnings, and the base's routing for restores. */
export type RedisBackendContext = Pick<BackendContext, "warn" | "route">;

function check(reply: RespValue, action: string): RespValue {
  if (!(reply instanceof RespErrorReply)) return reply;
  throw new ChannelError(`Cannot ${action}: ${reply.message}`, { cause: reply });
}

/**
 * A {@link QueueBackend} (with its lease) on Redis, compatible with Python Kombu.
 *
 * @example
 * ```ts ignore
 * import { Connection } from "@wakame/wakame";
 * const connection = new Connection("redis://127.0.0.1:6379/0", {
 *   transportOptions: { visibilityTimeout: 60_000 },
 * });
 * ```
 */
export class RedisBackend implements QueueBackend {
  /** Bindings in `_kombu.binding.*`. */
  readonly bindings: RedisBindingStore;
  /** Ack emulation in `unacked` (absent when `ackEmulation` is off). */
  readonly lease: RedisLease | undefined;

  readonly #settings: RedisSettings;
  readonly #layout: KeyLayout;
  readonly #context: RedisBackendContext;
  /** Reports what could not be read (poison messages); the context's `warn`. */
  readonly #warn = (message: string, error?: unknown): void => this.#context.warn(message, error);
  readonly #links: RedisLinks;
  readonly #fanout: RedisFanout;
  readonly #unacked: RedisLease;
  readonly #readAhead: ReadAhead;
  readonly #expires = new Map<string, number>();
  readonly #pushes = new TickBatcher<[queue: string, text: string]>((key, items) =>
    this.#push(key, items)
  );

  /**
   * Makes the store; {@link RedisBackend.open} connects it.
   *
   * @param connector opens links to the server
   * @param settings transport settings
   * @param context where warnings go, and the base's routing for restores
   */
  constructor(connector: RedisConnector, settings: RedisSettings, context: RedisBackendContext) {
    this.#settings = settings;
    this.#context = context;
    this.#layout = new KeyLayout(settings, connector.db);
    const warn = (message: string, error?: unknown) => context.warn(message, error);
    this.#links = new RedisLinks(connector, settings, this.#layout, {
      onMessage: (channel, data, pattern) => this.#onMessage(channel, data, pattern),
      onLost: () => this.bindings.invalidate(null),
      patterns: () => this.#fanout.patterns(),
      warn,
    });
    this.bindings = new RedisBindingStore(
      this.#layout,
      () => this.#links.command(),
      () => this.#links.bindingsTracked(),
    );
    this.#fanout = new RedisFanout(
      this.#layout,
      () => this.#links,
      this.bindings,
      settings.fanoutBufferLimit,
    );
    this.#unacked = new RedisLease(this.#layout, settings, this.#links, context.route, warn);
    this.lease = settings.ackEmulation ? this.#unacked : undefined;
    this.#readAhead = new ReadAhead(
      (queues, max, perQueue) => this.#fetch(queues, max, perQueue),
      (batches) => this.#giveBackAhead(batches),
      warn,
    );
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
    await Promise.all([fetchScript.prepare(), RedisLease.prepare()]);
    await this.#links.command();
  }

  #onMessage(channel: string, data: RespValue, pattern: string | undefined): void {
    if (channel === INVALIDATE_CHANNEL) {
      const keys = Array.isArray(data) ? data.map((key) => replyText(key) ?? "") : null;
      this.bindings.invalidate(keys);
    } else {
      const text = replyText(data);
      if (text === undefined || !this.#fanout.receive(pattern, text)) return;
    }
    this.#links.wake();
  }

  /**
   * LPUSH of the envelope onto the list of the message's priority step. Publishes to one list in
   * one tick go out as one variadic LPUSH (same order as one LPUSH each).
   */
  put(queue: string, message: StoredMessage): Promise<void> {
    const step = priorityStep(this.#layout.steps, message.properties.priority);
    return this.#pushes.add(
      this.#layout.queueKey(queue, step),
      [queue, encodeEnvelope(message, "headers")],
    );
  }

  async #push(key: string, items: [queue: string, text: string][]): Promise<void> {
    const link = await this.#links.command();
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

  async #pexpire(link: RedisLink, queue: string): Promise<void> {
    const ttl = this.#expires.get(queue);
    if (ttl === undefined) return;
    await Promise.all(this.#layout.queueKeys(queue).map((key) => link.send(["PEXPIRE", key, ttl])));
  }

  /** PUBLISH on the exchange's fanout channel (at-most-once, as in Kombu). */
  putFanout(exchange: string, message: StoredMessage, routingKey: string): Promise<void> {
    return this.#fanout.publish(exchange, encodeEnvelope(message, "headers"), routingKey);
  }

  /** PSUBSCRIBEs to the fanout channel so the queue receives what the exchange broadcasts. */
  bindFanout(exchange: string, queue: string, routingKey: string): Promise<void> {
    return this.#fanout.bind(exchange, queue, routingKey);
  }

  /** Takes the oldest message of the queue (highest priority step first), recorded as unacked. */
  async get(queue: string): Promise<StoredMessage | undefined> {
    const batches = this.#fanout.take(
      [queue],
      1,
      1,
      (text) => decodeFetched(text, queue, false, this.#warn),
    );
    if (batches.length === 0) batches.push(...await this.#fetch([queue], 1, 1));
    return batches[0]?.messages[0];
  }

  /** One round of the fetch script, in the order of the queues given. */
  async #fetch(queues: readonly string[], max: number, perQueue: number): Promise<QueueBatch[]> {
    const keys: string[] = [this.#layout.unacked, this.#layout.unackedIndex];
    for (const step of this.#layout.steps) {
      for (const queue of queues) keys.push(this.#layout.queueKey(queue, step));
    }
    const link = await this.#links.command();
    const record = this.lease !== undefined;
    const fetchedAt = Date.now();
    const now = (fetchedAt / 1000).toFixed(6);
    const args = [max, now, queues.length, record ? "1" : "0", perQueue];
    const reply = await fetchScript.run(link, keys, args);
    const warn = this.#warn;
    const { batches, poisoned } = readFetchReply(reply, queues, record, fetchedAt, warn);
    // A poison message is settled once, as a reject without requeue: its record goes, so no
    // sweep brings it back; the log line is where it ends up.
    if (poisoned.length > 0) {
      await this.#unacked.forget(poisoned).catch((error) =>
        warn(
          `Cannot remove the unacked records of ${poisoned.length} undecodable message(s)`,
          error,
        )
      );
    }
    return batches;
  }

  /**
   * Waits until one of the queues has messages, then takes up to `max`, each recorded as
   * unacked in the same atomic step. Reconnects by itself when the connection is lost.
   */
  async getMany(queues: readonly string[], options: GetManyOptions): Promise<QueueBatch[]> {
    const { max, signal } = options;
    const perQueue = options.perQueue ?? max;
    let failures = 0;
    while (!signal.aborted && !this.#links.isClosed) {
      try {
        await this.#links.ensure(true);
        if (this.lease) await this.#unacked.maybeSweep();
        this.#links.checkHealth();
        const decode = (text: string, queue: string) =>
          decodeFetched(text, queue, false, this.#warn);
        const fanout = this.#fanout.take(queues, max, perQueue, decode);
        if (fanout.length > 0) return fanout;
        const generation = this.#links.generation;
        const got = await this.#readAhead.fetch(queues, max, perQueue);
        failures = 0;
        if (got.length > 0) return got;
        let wait = Math.min(
          this.lease ? this.#unacked.sweepInterval : Infinity,
          this.#settings.healthCheckInterval || Infinity,
        );
        if (this.#links.tracking) {
          const keys: RespArg[] = [];
          for (const queue of queues) keys.push(...this.#layout.queueKeys(queue));
          if (await this.#links.arm(keys)) continue;
        } else {
          wait = Math.min(wait, this.#settings.pollInterval);
        }
        await this.#links.waitForChange(generation, signal, wait);
      } catch (error) {
        if (!isConnectionLoss(error) || this.#links.isClosed) throw error;
        failures++;
        this.#context.warn(
          `Lost the Redis connection while consuming; reconnecting (attempt ${failures})`,
          error,
        );
        const backoff = Math.min(100 * 2 ** failures, 2000);
        await this.#links.waitForChange(this.#links.generation, signal, backoff);
      }
    }
    return [];
  }

  /** Puts a read-ahead batch back at the front of its queues, in order, not marked redelivered. */
  async #giveBackAhead(batches: QueueBatch[]): Promise<void> {
    const releases: Promise<void>[] = [];
    for (const { queue, messages } of batches) {
      for (let i = messages.length - 1; i >= 0; i--) {
        const message = { ...messages[i], redelivered: false };
        releases.push(this.#unacked.release(queue, message, { position: "front" }));
      }
    }
    await Promise.all(releases);
  }

  /**
   * Puts back what dead consumers held past `visibilityTimeout` (Kombu's
   * `QoS.restore_visible`); see {@link RedisLease.restoreVisible}.
   *
   * @returns how many messages were restored
   */
  restoreVisible(): Promise<number> {
    return this.#unacked.restoreVisible();
  }

  /** Messages waiting in the queue, over every priority step. */
  async size(queue: string): Promise<number> {
    const link = await this.#links.command();
    const replies = await Promise.all(
      this.#layout.queueKeys(queue).map((key) => link.send(["LLEN", key])),
    );
    let total = this.#fanout.size(queue);
    for (const reply of replies) total += Number(check(reply, `size queue "${queue}"`)) || 0;
    return total;
  }

  /** Deletes every priority list of the queue in one transaction; resolves to how many. */
  async purge(queue: string): Promise<number> {
    const link = await this.#links.command();
    const keys = this.#layout.queueKeys(queue);
    const sends: Promise<RespValue>[] = [link.send(["MULTI"])];
    for (const key of keys) sends.push(link.send(["LLEN", key]));
    sends.push(link.send(["DEL", ...keys]), link.send(["EXEC"]));
    const replies = await Promise.all(sends);
    const exec = check(replies[replies.length - 1]!, `purge queue "${queue}"`);
    let total = this.#fanout.purge(queue);
    if (Array.isArray(exec)) {
      for (let i = 0; i < keys.length; i++) total += Number(exec[i]) || 0;
    }
    return total;
  }

  /** Deletes the queue's lists, the bindings made here, and its fanout subscriptions. */
  async delete(queue: string): Promise<void> {
    const link = await this.#links.command();
    check(await link.send(["DEL", ...this.#layout.queueKeys(queue)]), `delete queue "${queue}"`);
    await this.bindings.removeQueue(queue);
    this.#expires.delete(queue);
    await this.#fanout.forget(queue);
  }

  /** Remembers `x-expires` (milliseconds): the queue's lists get PEXPIRE on every publish. */
  async declare(queue: string, args: Record<string, unknown>): Promise<void> {
    const expires = (args as FieldTable)["x-expires"];
    if (typeof expires === "number" && expires > 0) {
      this.#expires.set(queue, Math.floor(expires));
      await this.#pexpire(await this.#links.command(), queue);
    }
  }

  /** Closes both connections. Unacked messages were restored by the channels already. */
  async close(): Promise<void> {
    if (this.#links.isClosed) return;
    await this.#readAhead.close();
    await this.#links.close();
  }
}
