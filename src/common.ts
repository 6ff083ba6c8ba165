/**
 * Common messaging patterns (Kombu's `kombu.common`): broadcast queues, iterating over
 * messages, request/reply helpers, and wrappers that survive connection failures.
 *
 * Durations are in milliseconds (Kombu's `timeout=1` is `timeout: 1000`).
 *
 * @module
 */

import { forgetDeclaration } from "./_connection_internals.ts";
import type { EnsureOptions } from "./channel_source.ts";
import type { Connection } from "./connection.ts";
import { Consumer, type ConsumerOptions, type MessageCallback } from "./consumer.ts";
import { Exchange, Queue, type QueueOptions } from "./entity.ts";
import { ChannelError, KombuError, OperationalError, TimeoutError } from "./errors.ts";
import { getLogger } from "./logger.ts";
import type { Message } from "./message.ts";
import type { ConnectionPool } from "./pools.ts";
import type { Producer, PublishOptions } from "./producer.ts";
import type { RetryPolicy } from "./retry.ts";
import { serializers } from "./serialization.ts";
import type { Channel } from "./transport.ts";

export { maybeDeclare } from "./entity.ts";
export { oidFrom, uuid } from "./utils/uuid.ts";

const log = getLogger("common");

/** Options of a {@link Broadcast} queue: a queue's options plus Kombu's `queue` and `unique`. */
export interface BroadcastQueueOptions extends QueueOptions {
  /** The queue's name (default `bcast.<uuid>`, unique per consumer). */
  queue?: string;
  /** Add a uuid to `queue` even when it is given (`<queue>.<uuid>`). */
  unique?: boolean;
}

/**
 * A broadcast queue (Kombu's `Broadcast`): every consumer gets its own auto-delete queue,
 * `bcast.<uuid>`, bound to a fanout exchange named `name`, so each one receives every message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection } from "./connection.ts";
 * import { Broadcast } from "./common.ts";
 * await using conn = new Connection("memory://");
 * const a = new Broadcast("news-doc");
 * const b = new Broadcast("news-doc");
 * assert.notEqual(a.name, b.name); // each gets its own queue
 * assert.match(a.name, /^bcast\./);
 * const got: unknown[] = [];
 * for (const queue of [a, b]) {
 *   await conn.consumer([queue], { callbacks: [(body) => void got.push(body)], noAck: true })
 *     .consume();
 * }
 * await conn.producer().publish("hello", { exchange: a.exchange! });
 * ```
 */
export class Broadcast extends Queue {
  /**
   * Makes a Broadcast.
   *
   * @param name the name of the fanout exchange (Kombu's `name`)
   * @param options queue options; `queue` and `unique` name the queue
   */
  constructor(name: string, options: BroadcastQueueOptions = {}) {
    const { queue, unique, ...rest } = options;
    const queueName = unique
      ? `${queue ?? "bcast"}.${crypto.randomUUID()}`
      : queue ?? `bcast.${crypto.randomUUID()}`;
    super(queueName, {
      ...rest,
      autoDelete: rest.autoDelete ?? true,
      exchange: rest.exchange ?? new Exchange(name, { type: "fanout" }),
    });
  }
}

/** Options of {@link eventloop}. */
export interface EventLoopOptions {
  /** Stop after this many events; 0 or `Infinity` for no limit (default: none). */
  limit?: number;
  /** Milliseconds to wait for each event. */
  timeout?: number;
  /** Count a timeout as an event instead of throwing (Kombu's `ignore_timeouts`). */
  ignoreTimeouts?: boolean;
  /** Stops the loop (the generator returns). */
  signal?: AbortSignal;
}

/**
 * Drains a connection's events in a loop (Kombu's `eventloop`): yields once per event handled
 * by a consumer of the connection.
 *
 * @param connection the connection
 * @param options limit, timeout per event, whether timeouts are ignored, a signal
 * @returns an async generator
 * @throws {TimeoutError} when an event does not come in time and timeouts are not ignored
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.ts";
 * import { eventloop } from "./common.ts";
 * await using conn = new Connection("memory://");
 * for await (const _ of eventloop(conn, { limit: 1, timeout: 10, ignoreTimeouts: true })) {
 *   // one event handled, or one timeout
 * }
 * ```
 */
export async function* eventloop(
  connection: Connection,
  options: EventLoopOptions = {},
): AsyncGenerator<void, void, undefined> {
  const limit = options.limit || Infinity;
  for (let i = 0; i < limit; i++) {
    if (options.signal?.aborted) return;
    try {
      await connection.drainEvents({ timeout: options.timeout, signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted) return;
      if (error instanceof TimeoutError && options.ignoreTimeouts) continue;
      throw error;
    }
    yield;
  }
}

/** Options of {@link drainConsumer} and {@link itermessages}. */
export interface DrainOptions {
  /**
   * How many waits for a message (Kombu's `limit`, default 1): each yields a message or ends
   * in a timeout; 0 or `Infinity` for no limit.
   */
  limit?: number;
  /** Milliseconds to wait for each message (default: no limit). */
  timeout?: number;
  /** More callbacks, run for each message (Kombu replaces the consumer's with these). */
  callbacks?: MessageCallback[];
  /** Stops the loop (the generator returns). */
  signal?: AbortSignal;
}

type Wait = "message" | "timeout" | "aborted";

/**
 * Consumes with a consumer and yields `[body, message]` as messages come (Kombu's
 * `drain_consumer`). The consumer is started first and cancelled at the end; messages received
 * but not yielded by then are requeued.
 *
 * @param consumer the consumer
 * @param options how many waits, the timeout of each, a signal
 * @returns an async generator of `[body, message]`
 */
export async function* drainConsumer(
  consumer: Consumer,
  options: DrainOptions = {},
): AsyncGenerator<[unknown, Message], void, undefined> {
  const limit = options.limit === undefined ? 1 : options.limit || Infinity;
  const buffer: Array<[unknown, Message]> = [];
  let wake: ((why: Wait) => void) | undefined;
  const saved = consumer.callbacks.splice(0);
  consumer.callbacks.push((body, message) => {
    buffer.push([body, message]);
    wake?.("message");
  }, ...(options.callbacks ?? []));
  const next = (): Promise<Wait> => {
    if (buffer.length > 0) return Promise.resolve("message");
    const signal = options.signal;
    if (signal?.aborted) return Promise.resolve("aborted");
    return new Promise<Wait>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => done("aborted");
      const done = (why: Wait) => {
        wake = undefined;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(why);
      };
      wake = done;
      signal?.addEventListener("abort", onAbort, { once: true });
      if (options.timeout !== undefined) timer = setTimeout(() => done("timeout"), options.timeout);
    });
  };
  try {
    await consumer.consume();
    for (let i = 0; i < limit; i++) {
      const why = await next();
      if (why === "aborted") return;
      const item = buffer.shift();
      if (item !== undefined) yield item;
    }
  } finally {
    consumer.callbacks.splice(0, consumer.callbacks.length, ...saved);
    await consumer.cancel();
    for (const [, message] of buffer.splice(0)) {
      try {
        if (!message.acknowledged && message.channel.isOpen) await message.requeue();
      } catch (error) {
        log.debug("Cannot requeue a message left in drainConsumer's buffer:", error);
      }
    }
  }
}

/** Options of {@link itermessages}: draining plus the consumer's options. */
export interface IterMessagesOptions extends DrainOptions, Omit<ConsumerOptions, "callbacks"> {
  /** The channel to consume on (default: the connection's default channel). */
  channel?: Channel;
}

/**
 * Iterates over the messages of one queue (Kombu's `itermessages`).
 *
 * @param connection the connection
 * @param queue the queue (or its name)
 * @param options how many waits (default 1), the timeout of each, consumer options
 * @returns an async generator of `[body, message]`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection } from "./connection.ts";
 * import { Queue } from "./entity.ts";
 * import { itermessages } from "./common.ts";
 * await using conn = new Connection("memory://");
 * const queue = new Queue("iter-doc");
 * await conn.producer().publish({ n: 1 }, { routingKey: "iter-doc", declare: [queue] });
 * for await (const [body, message] of itermessages(conn, queue, { timeout: 1000 })) {
 *   assert.equal((body as { n: number }).n, 1);
 *   await message.ack();
 * }
 * ```
 */
export function itermessages(
  connection: Connection,
  queue: Queue | string,
  options: IterMessagesOptions = {},
): AsyncGenerator<[unknown, Message], void, undefined> {
  const { limit, timeout, callbacks, signal, channel, ...consumerOptions } = options;
  const consumer = new Consumer(channel ?? connection, [queue], consumerOptions);
  return drainConsumer(consumer, { limit, timeout, callbacks, signal });
}

/** Options of {@link sendReply}: how to publish, with the producer to use. */
export interface SendReplyOptions extends Omit<PublishOptions, "exchange" | "routingKey"> {
  /** The producer that publishes the reply. */
  producer: Producer;
}

/**
 * Replies to a request (Kombu's `send_reply`): publishes to the request's `replyTo` with its
 * `correlationId` and serializer.
 *
 * @param exchange the reply exchange (`""` for the default exchange)
 * @param request the request message
 * @param body the reply
 * @param options the producer, retry, and other publish options
 * @throws {KombuError} when the request has no `replyTo`
 */
export async function sendReply(
  exchange: Exchange | string,
  request: Message,
  body: unknown,
  options: SendReplyOptions,
): Promise<void> {
  const { producer, ...publish } = options;
  const replyTo = request.properties.replyTo;
  if (!replyTo) {
    throw new KombuError("Cannot send a reply: the request has no reply_to property");
  }
  const contentType = request.properties.contentType;
  const serializer = publish.serializer ??
    (contentType ? serializers.get(contentType)?.name : undefined);
  const correlationId = publish.correlationId ?? request.properties.correlationId;
  await producer.publish(body, {
    ...publish,
    exchange,
    routingKey: replyTo,
    serializer,
    ...(correlationId === undefined ? {} : { correlationId }),
  });
}

/** Options of {@link collectReplies}. */
export interface CollectRepliesOptions extends IterMessagesOptions {
  /** Keep the reply queue; by default it is deleted once replies were received. */
  keepQueue?: boolean;
}

/**
 * Collects reply bodies from a reply queue (Kombu's `collect_replies`). Messages are taken
 * without acknowledgement unless `noAck: false` (then each is acked). When anything was
 * received, the reply queue is deleted at the end (Kombu's `after_reply_message_received`),
 * unless `keepQueue`.
 *
 * @param connection the connection
 * @param queue the reply queue
 * @param options how many waits (default 1), the timeout of each, consumer options
 * @returns an async generator of bodies
 */
export async function* collectReplies(
  connection: Connection,
  queue: Queue,
  options: CollectRepliesOptions = {},
): AsyncGenerator<unknown, void, undefined> {
  const { keepQueue, ...rest } = options;
  const noAck = rest.noAck ?? true;
  let received = false;
  try {
    for await (const [body, message] of itermessages(connection, queue, { ...rest, noAck })) {
      if (!noAck) await message.ack();
      received = true;
      yield body;
    }
  } finally {
    if (received && !keepQueue) {
      await ignoreErrors(async () => {
        const channel = options.channel ?? await connection.defaultChannel();
        await channel.queueDelete(queue.name);
        forgetDeclaration(connection, queue.declarationKey);
      });
    }
  }
}

/**
 * Runs an operation and ignores connection and channel errors (Kombu's `ignore_errors`); for
 * clean-up code only. Other errors are thrown.
 *
 * @param fn the operation (or a promise)
 * @returns its result, or `undefined` when it failed with a connection or channel error
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ignoreErrors } from "./common.ts";
 * import { ConnectionError } from "./errors.ts";
 * const result = await ignoreErrors(() => {
 *   throw new ConnectionError("gone");
 * });
 * assert.equal(result, undefined);
 * ```
 */
export async function ignoreErrors<R>(
  fn: (() => R | Promise<R>) | Promise<R>,
): Promise<R | undefined> {
  try {
    return await (typeof fn === "function" ? fn() : fn);
  } catch (error) {
    if (error instanceof OperationalError || error instanceof ChannelError) {
      log.debug("Ignoring an error:", error);
      return undefined;
    }
    throw error;
  }
}

/** Options of {@link insured}. */
export interface InsuredOptions extends EnsureOptions {
  /** Called with the error and the wait before each retry (Kombu's `errback`, ms here). */
  errback?: (error: unknown, delay: number) => void;
  /** Waits for the pooled connection this long (ms) before failing. */
  acquireTimeout?: number;
}

/**
 * Runs an operation on a pooled connection and retries it through connection failures
 * (Kombu's `insured`): the connection is ensured first, the operation gets the connection and
 * its default channel, and after a reconnect it runs again on the new channel.
 *
 * @param pool the connection pool
 * @param fn the operation
 * @param options retry policy (ms), `errback`, `onRevive`, how long to wait for a connection
 * @returns the operation's result
 * @throws the last error when the retries run out
 */
export async function insured<R>(
  pool: ConnectionPool,
  fn: (connection: Connection, channel: Channel) => Promise<R>,
  options: InsuredOptions = {},
): Promise<R> {
  const { errback, acquireTimeout, ...policy } = options;
  const onRetry: RetryPolicy["onRetry"] = async (error, attempt, delay) => {
    if (errback) errback(error, delay);
    else log.error(`Connection error: ${String(error)}. Retry in ${Math.round(delay)} ms`);
    await policy.onRetry?.(error, attempt, delay);
  };
  await using lease = await pool.acquire({ timeout: acquireTimeout, signal: policy.signal });
  const connection = lease.resource;
  await connection.ensureConnection({ ...policy, onRetry });
  const run = connection.ensure(
    async () => fn(connection, await connection.defaultChannel()),
    { ...policy, onRetry },
  );
  return await run();
}
