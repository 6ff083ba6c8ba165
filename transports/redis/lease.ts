/**
 * The Redis lease in Python Kombu's layout: a delivered message is recorded in the `unacked` hash
 * (`[envelope, exchange, routing_key]` by delivery tag) and the `unacked_index` sorted set
 * (delivery time). An ack removes it (ZREM + HDEL); a release pushes it back in one Lua script
 * (LPUSH, the back, for a reject with requeue; RPUSH, the front, for a restore), only if it is
 * still recorded, so an ack, a sweep elsewhere and a release never both win. The visibility
 * sweep gives back what dead consumers held past `visibilityTimeout`, routed by the virtual
 * base (`BackendContext.route`) to the queues its exchange and routing key reach now. A held
 * delivery's lease is extended by moving its `unacked_index` score forward (the base renews it at
 * half the visibility timeout), so a long handler is not redelivered by any sweep, Kombu's too.
 *
 * @module
 */

import { ChannelError, ConnectionError, ProtocolError, TimeoutError } from "../../src/errors.ts";
import { encodeEnvelope, markRedeliveredInHeaders, pythonJsonDumps } from "../../src/envelope.ts";
import { getLogger } from "../../src/logger.ts";
import type { FieldTable } from "../../src/transport.ts";
import type { Lease, ReleaseOptions, StoredMessage } from "../../src/virtual/backend.ts";
import type { BackendContext } from "../../src/virtual/transport.ts";
import { TickBatcher } from "./batch.ts";
import { replyText } from "./driver.ts";
import { type KeyLayout, priorityStep } from "./keys.ts";
import type { RedisLinks } from "./links.ts";
import type { RedisSettings } from "./options.ts";
import { type RespArg, RespErrorReply, type RespValue } from "./resp/types.ts";
import { RESTORE, Script, UNLOCK } from "./scripts.ts";

const log = getLogger("transport.redis");

const restoreScript = new Script("restore", RESTORE);
const unlockScript = new Script("unlock", UNLOCK);

/** What the store keeps in {@link StoredMessage.backendData}. */
export interface Held {
  /** Recorded in `unacked` (false for fanout deliveries, as in Kombu). */
  recorded: boolean;
}

/** True for a failure that means the connection is gone (the caller reconnects). */
export function isConnectionLoss(error: unknown): boolean {
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

/** The `unacked` hash and index, the release script and the visibility sweep. */
export class RedisLease implements Lease {
  readonly #layout: KeyLayout;
  readonly #settings: RedisSettings;
  readonly #links: RedisLinks;
  readonly #route: BackendContext["route"];
  readonly #warn: (message: string, error?: unknown) => void;
  readonly #acks = new TickBatcher<string>((_key, tags) => this.#ackMany(tags));
  readonly #extensions = new TickBatcher<[score: string, tag: string]>((_key, items) =>
    this.#extendMany(items)
  );
  #lastSweep = 0;

  /**
   * Makes the lease of one store.
   *
   * @param layout key names
   * @param settings `visibilityTimeout`, `unackedMutexExpire`, `unackedRestoreLimit`
   * @param links the store's links
   * @param route the base's routing, for restores
   * @param warn where survived failures go
   */
  constructor(
    layout: KeyLayout,
    settings: RedisSettings,
    links: RedisLinks,
    route: BackendContext["route"],
    warn: (message: string, error?: unknown) => void,
  ) {
    this.#layout = layout;
    this.#settings = settings;
    this.#links = links;
    this.#route = route;
    this.#warn = warn;
  }

  /** Loads the scripts' digests. */
  static prepare(): Promise<unknown> {
    return Promise.all([restoreScript.prepare(), unlockScript.prepare()]);
  }

  #recorded(message: StoredMessage): boolean {
    return (message.backendData as Held | undefined)?.recorded ?? true;
  }

  /** ZREM + HDEL: done, acked or rejected (the settlements of one tick share one of each). */
  settle(_queue: string, message: StoredMessage, _outcome: "ack" | "reject"): Promise<void> {
    if (!this.#recorded(message)) return Promise.resolve();
    return this.#acks.add("ack", message.tag);
  }

  /**
   * How long a delivery stays hidden from the visibility sweep without an extension: the
   * `visibilityTimeout` (ms). The virtual base renews a held delivery at half of it.
   */
  get duration(): number {
    return this.#settings.visibilityTimeout;
  }

  /**
   * Keeps the message hidden from the visibility sweep `ms` longer from now, by moving its
   * `unacked_index` score (the delivery time the sweep compares with the visibility timeout)
   * forward to `now + ms - visibilityTimeout` (with `ms` = the timeout: to now, as if delivered
   * again now). Python Kombu's `restore_visible` reads the same score, so it leaves the message
   * alone too when its `visibility_timeout` is not shorter. `ZADD XX`: a message acked, rejected
   * or restored meanwhile is not recorded again. The extensions of one tick share one ZADD.
   */
  extend(_queue: string, message: StoredMessage, ms: number): Promise<void> {
    if (!this.#recorded(message)) return Promise.resolve();
    const score = (Date.now() + ms - this.#settings.visibilityTimeout) / 1000;
    return this.#extensions.add("extend", [score.toFixed(6), message.tag]);
  }

  async #extendMany(items: [score: string, tag: string][]): Promise<void> {
    const link = await this.#links.command();
    const args: RespArg[] = ["ZADD", this.#layout.unackedIndex, "XX"];
    for (const [score, tag] of items) args.push(score, tag);
    check(await link.send(args), `extend the lease of ${items.length} message(s)`);
  }

  /**
   * Removes the records of messages that were never handed out (undecodable ones): ZREM + HDEL
   * by delivery tag.
   */
  forget(tags: readonly string[]): Promise<void> {
    return this.#ackMany([...tags]);
  }

  async #ackMany(tags: string[]): Promise<void> {
    const link = await this.#links.command();
    const [zrem, hdel] = await Promise.all([
      link.send(["ZREM", this.#layout.unackedIndex, ...tags]),
      link.send(["HDEL", this.#layout.unacked, ...tags]),
    ]);
    check(zrem, `ack ${tags.length} message(s)`);
    check(hdel, `ack ${tags.length} message(s)`);
  }

  /**
   * Pushes the message back to the list of its priority step, as given (the base marked it
   * redelivered, written Kombu's Redis way): LPUSH (the back) or RPUSH (the front).
   */
  async release(queue: string, message: StoredMessage, options: ReleaseOptions): Promise<void> {
    const link = await this.#links.command();
    const key = this.#layout.queueKey(
      queue,
      priorityStep(this.#layout.steps, message.properties.priority),
    );
    await restoreScript.run(
      link,
      [this.#layout.unacked, this.#layout.unackedIndex, key],
      [
        message.tag,
        options.position === "back" ? "L" : "R",
        encodeEnvelope(message, "headers"),
        this.#recorded(message) ? "0" : "1",
      ],
    );
  }

  /** Milliseconds between sweeps. */
  get sweepInterval(): number {
    return Math.min(10_000, Math.max(100, this.#settings.visibilityTimeout / 2));
  }

  /** Sweeps when the interval has passed; survives anything but a lost connection. */
  async maybeSweep(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastSweep < this.sweepInterval) return;
    this.#lastSweep = now;
    try {
      await this.restoreVisible();
    } catch (error) {
      if (isConnectionLoss(error)) throw error;
      this.#warn("Cannot restore unacknowledged messages past their visibility timeout", error);
    }
  }

  /**
   * Puts back every message delivered more than `visibilityTimeout` ago and never acknowledged
   * (Kombu's `QoS.restore_visible`), under the `unacked_mutex` lock (SET NX PX), at the front of
   * the queues its exchange and routing key reach now.
   *
   * @returns how many messages were restored
   * @throws {ConnectionError} when the connection is lost
   */
  async restoreVisible(): Promise<number> {
    const link = await this.#links.command();
    const token = crypto.randomUUID();
    const expire = Math.max(1, Math.floor(this.#settings.unackedMutexExpire));
    const mutex = this.#layout.unackedMutex;
    const locked = await link.send(["SET", mutex, token, "NX", "PX", expire]);
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
        if (tag !== undefined && await this.#restoreByTag(tag)) restored++;
      }
    } finally {
      await unlockScript.run(link, [mutex], [token]).catch(() => undefined);
    }
    if (restored > 0) {
      log.info(`Restored ${restored} unacknowledged message(s) past the visibility timeout`);
    }
    return restored;
  }

  async #restoreByTag(tag: string): Promise<boolean> {
    const link = await this.#links.command();
    const raw = replyText(
      check(await link.send(["HGET", this.#layout.unacked, tag]), "read unacked"),
    );
    if (raw === undefined) {
      await link.send(["ZREM", this.#layout.unackedIndex, tag]);
      return false;
    }
    let entry: unknown;
    let failure: unknown;
    try {
      entry = JSON.parse(raw);
    } catch (error) {
      failure = error;
    }
    if (!Array.isArray(entry) || !isRecord(entry[0])) {
      // A poison record (Python Kombu's sweep fails on it too): restored, it would fail every
      // sweep again. It goes, logged once, as a message that cannot be decoded goes at fetch.
      await this.forget([tag]);
      const preview = raw.length > 200 ? `${raw.slice(0, 200)}... (${raw.length} chars)` : raw;
      this.#warn(
        `Cannot restore unacked message "${tag}": ${
          failure ? "not JSON" : "not [envelope, exchange, key]"
        }; removed it: ${JSON.stringify(preview)}`,
        failure,
      );
      return false;
    }
    const envelope = markRedeliveredInHeaders(entry[0]);
    const exchange = typeof entry[1] === "string" ? entry[1] : "";
    const routingKey = typeof entry[2] === "string" ? entry[2] : "";
    const headers = isRecord(envelope.headers) ? envelope.headers : {};
    const queues = await this.#route(exchange, routingKey, { headers: headers as FieldTable });
    const properties = isRecord(envelope.properties) ? envelope.properties : {};
    const priority = typeof properties.priority === "number" ? properties.priority : 0;
    const step = priorityStep(this.#layout.steps, priority);
    const keys = queues.map((queue) => this.#layout.queueKey(queue, step));
    const reply = await restoreScript.run(
      link,
      [this.#layout.unacked, this.#layout.unackedIndex, ...keys],
      [tag, "R", pythonJsonDumps(envelope), "0"],
    );
    return reply === 1;
  }
}
