/**
 * Kombu's `SimpleQueue` and `SimpleBuffer`: a queue with put / get, like `queue.Queue`.
 *
 * @module
 */

import type { ChannelSource } from "./channel_source.ts";
import { Consumer } from "./consumer.ts";
import {
  Exchange,
  type ExchangeOptions,
  maybeDeclare,
  Queue,
  type QueueOptions,
} from "./entity.ts";
import { TimeoutError } from "./errors.ts";
import { Message } from "./message.ts";
import { serializers } from "./serialization.ts";
import { Producer, type PublishOptions } from "./producer.ts";
import type { Channel } from "./transport.ts";

/** Options of a {@link SimpleQueue}. */
export interface SimpleQueueOptions {
  /** Consume without acknowledgements. */
  noAck?: boolean;
  /** Options of the queue. */
  queueOptions?: QueueOptions;
  /** Options of the direct exchange named like the queue. */
  exchangeOptions?: ExchangeOptions;
  /** Serializer of `put` (default json). */
  serializer?: string;
  /** Compression of `put`. */
  compression?: string;
  /** Content types to accept. */
  accept?: readonly string[];
}

/** Raised by `get` when nothing arrived in time (Kombu's `SimpleQueue.Empty`). */
export class EmptyError extends TimeoutError {}

/**
 * A named queue with `put` and `get` (Kombu's `SimpleQueue`). Messages survive restarts on
 * persistent transports; each `get` returns a message to `ack()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection } from "@wakame/wakame";
 * await using conn = new Connection("memory://");
 * await using queue = conn.simpleQueue("simple-doc");
 * await queue.put({ hello: "world" });
 * const message = await queue.get({ timeout: 1000 });
 * assert.equal((message.payload as { hello: string }).hello, "world");
 * await message.ack();
 * ```
 */
export class SimpleQueue {
  /** The queue. */
  readonly queue: Queue;
  /** Its exchange (direct, named like the queue). */
  readonly exchange: Exchange;
  /** Consume without acknowledgements. */
  readonly noAck: boolean;
  readonly #connection: ChannelSource;
  readonly #options: SimpleQueueOptions;
  readonly #accept: ReadonlySet<string>;
  #channel: Channel | undefined;
  #producer: Producer | undefined;
  #consumer: Consumer | undefined;
  readonly #buffer: Message[] = [];
  /** Every waiting `get` (several may wait at once); each checks the buffer when woken. */
  readonly #wakers = new Set<() => void>();
  #closed = false;

  /**
   * Makes a simple queue on a connection; its channel opens on first use.
   *
   * @param connection the connection
   * @param name the queue name, or a Queue
   * @param options see {@link SimpleQueueOptions}
   */
  constructor(connection: ChannelSource, name: string | Queue, options: SimpleQueueOptions = {}) {
    this.#connection = connection;
    this.#options = options;
    this.#accept = serializers.prepareAccept(options.accept);
    this.noAck = options.noAck ?? this.defaultNoAck;
    if (typeof name === "string") {
      this.exchange = new Exchange(name, {
        type: "direct",
        ...this.defaultExchangeOptions,
        ...options.exchangeOptions,
      });
      this.queue = new Queue(name, {
        exchange: this.exchange,
        routingKey: name,
        ...this.defaultQueueOptions,
        ...options.queueOptions,
      });
    } else {
      this.queue = name;
      this.exchange = name.exchange ?? new Exchange("");
    }
  }

  /** Default of `noAck` (false; true for a buffer). */
  protected get defaultNoAck(): boolean {
    return false;
  }

  /** Default queue options. */
  protected get defaultQueueOptions(): QueueOptions {
    return {};
  }

  /** Default exchange options. */
  protected get defaultExchangeOptions(): ExchangeOptions {
    return {};
  }

  async #ensureChannel(): Promise<Channel> {
    if (this.#closed) throw new TimeoutError(`Cannot use queue "${this.queue.name}": it is closed`);
    if (!this.#channel?.isOpen) {
      this.#channel = await this.#connection.channel();
      this.#consumer = undefined;
      this.#producer = new Producer(this.#channel, {
        exchange: this.exchange,
        routingKey: this.queue.routingKey || this.queue.name,
        serializer: this.#options.serializer,
        compression: this.#options.compression,
      });
      await maybeDeclare(this.queue, this.#channel);
    }
    return this.#channel;
  }

  /**
   * Publishes a message to the queue.
   *
   * @param body the payload
   * @param options publish options (serializer, headers, compression, priority, ...)
   */
  async put(body: unknown, options: PublishOptions = {}): Promise<void> {
    await this.#ensureChannel();
    await this.#producer!.publish(body, options);
  }

  async #startConsumer(): Promise<void> {
    const channel = await this.#ensureChannel();
    if (this.#consumer) return;
    const consumer = new Consumer(channel, [this.queue], {
      noAck: this.noAck,
      accept: this.#options.accept,
      prefetchCount: this.noAck ? 0 : 1,
      autoDeclare: false,
      onMessage: (message) => {
        this.#buffer.push(message);
        for (const wake of [...this.#wakers]) wake();
      },
    });
    this.#consumer = consumer;
    await consumer.consume();
  }

  async #decoded(message: Message): Promise<Message> {
    try {
      await message.decode();
    } catch (error) {
      // Rejected without requeue, as the Consumer does by default: unsettled, it would hold the
      // prefetch slot for good and every later get() would wait in vain.
      if (!message.acknowledged) await message.reject().catch(() => {});
      throw error;
    }
    return message;
  }

  /**
   * Takes the next message, waiting for one when the queue is empty (Kombu's `get`).
   *
   * @param options `timeout` in ms (absent: wait forever), or a `signal`; `block: false` is
   *   `getNowait()`
   * @returns the message, decoded (`payload`)
   * @throws {EmptyError} when nothing arrived in time
   * @throws {DecodeError} or {ContentDisallowedError} when the message cannot be decoded; it is
   *   rejected without requeue
   */
  async get(
    options: { timeout?: number; signal?: AbortSignal; block?: boolean } = {},
  ): Promise<Message> {
    if (options.block === false) return await this.getNowait();
    const buffered = this.#buffer.shift();
    if (buffered) return await this.#decoded(buffered);
    await this.#startConsumer();
    const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout;
    for (;;) {
      const message = this.#buffer.shift();
      if (message) return await this.#decoded(message);
      if (this.#closed) {
        throw new TimeoutError(`Cannot get from queue "${this.queue.name}": it is closed`);
      }
      options.signal?.throwIfAborted();
      const left = deadline - Date.now();
      if (left <= 0) throw new EmptyError(`Queue "${this.queue.name}" is empty`);
      const wakers = this.#wakers;
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(left) ? setTimeout(done, left) : undefined;
        const signal = options.signal;
        function done() {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          wakers.delete(done);
          resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
        wakers.add(done);
      });
    }
  }

  /**
   * Takes the next message without waiting (Kombu's `get_nowait`).
   *
   * @returns the message, decoded
   * @throws {EmptyError} when the queue is empty
   */
  async getNowait(): Promise<Message> {
    const buffered = this.#buffer.shift();
    if (buffered) return await this.#decoded(buffered);
    const channel = await this.#ensureChannel();
    const delivery = await channel.basicGet(this.queue.name, { noAck: this.noAck });
    if (!delivery) throw new EmptyError(`Queue "${this.queue.name}" is empty`);
    return await this.#decoded(
      new Message(channel, delivery, { noAck: this.noAck, accept: this.#accept }),
    );
  }

  /** Removes every waiting message; resolves to how many (Kombu's `clear`). */
  async clear(): Promise<number> {
    const channel = await this.#ensureChannel();
    return await channel.queuePurge(this.queue.name);
  }

  /** How many messages wait in the queue (Kombu's `qsize`). */
  async qsize(): Promise<number> {
    const channel = await this.#ensureChannel();
    const ok = await channel.queueDeclare({
      name: this.queue.name,
      passive: true,
      durable: this.queue.durable,
      exclusive: this.queue.exclusive,
      autoDelete: this.queue.autoDelete,
    });
    return ok.messageCount + this.#buffer.length;
  }

  /** Stops consuming and closes the queue's channel; unacked messages go back. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of [...this.#wakers]) wake();
    await this.#consumer?.cancel();
    await this.#channel?.close();
    this.#buffer.length = 0;
  }

  /** Closes (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * A transient queue without acknowledgements (Kombu's `SimpleBuffer`): not durable, auto-delete,
 * messages are transient.
 */
export class SimpleBuffer extends SimpleQueue {
  /** Buffers need no acks. */
  protected override get defaultNoAck(): boolean {
    return true;
  }

  /** Not durable, auto-delete. */
  protected override get defaultQueueOptions(): QueueOptions {
    return { durable: false, autoDelete: true };
  }

  /** Not durable, auto-delete, transient messages. */
  protected override get defaultExchangeOptions(): ExchangeOptions {
    return { durable: false, autoDelete: true, deliveryMode: "transient" };
  }
}
