/**
 * Consuming (Kombu's `kombu.messaging.Consumer`), with `for await` over messages.
 *
 * @module
 */

import { type ConnectionInternals, connectionInternals } from "./_connection_internals.ts";
import { type ChannelSource, isChannel } from "./channel_source.ts";
import { type DeclarationCache, maybeDeclare, Queue } from "./entity.ts";
import { ConfigurationError, ConsumerCancelledError } from "./errors.ts";
import { getLogger } from "./logger.ts";
import { decodeFailed, reportError, settled } from "./consumer/_report.ts";
import { telemetry } from "./telemetry/instrument.ts";
import { Message } from "./message.ts";
import type { ConsumerOptions, MessageCallback } from "./consumer/options.ts";
import { IteratorSink } from "./consumer/_iterator_sink.ts";
import { serializers } from "./serialization.ts";
import type { Channel, Delivery, QosOptions } from "./transport.ts";
import { schemaOf, type StandardSchemaV1 } from "./schema/mod.ts";
import { isThenable } from "./utils/thenable.ts";

const log = getLogger("consumer");

export type { ConsumerOptions, MessageCallback } from "./consumer/options.ts";

let consumerSerial = 0;

/**
 * Receives messages from one or more queues.
 *
 * Deliveries are handled one at a time per consumer, in order: a callback that returns a promise
 * is awaited before the next message is handed over. A failing callback never stops the consumer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection, Queue } from "@wakame/wakame";
 * await using conn = new Connection("memory://");
 * const queue = new Queue("consumer-doc");
 * const seen: unknown[] = [];
 * await using consumer = conn.consumer([queue], {
 *   callbacks: [async (body, message) => { seen.push(body); await message.ack(); }],
 * });
 * await consumer.consume();
 * await conn.producer().publish({ n: 1 }, { routingKey: "consumer-doc" });
 * await conn.drainEvents({ timeout: 1000 });
 * assert.equal(seen.length, 1);
 * ```
 */
export class Consumer<T = unknown> {
  /** The queues consumed. */
  readonly queues: Queue<T>[];
  /** Callbacks run for each decoded message. */
  readonly callbacks: MessageCallback<T>[];
  /** The payload validator ({@link ConsumerOptions.schema}, else the queues'). */
  readonly schema: StandardSchemaV1<unknown, T> | undefined;
  /** See {@link ConsumerOptions.onMessage}. */
  onMessage: ((message: Message<T>) => unknown) | undefined;
  /** See {@link ConsumerOptions.onDecodeError}. */
  onDecodeError: ((message: Message<T>, error: unknown) => unknown) | undefined;
  /** See {@link ConsumerOptions.onError}. */
  onError: ((error: unknown, message: Message<T> | undefined) => void) | undefined;
  /** Consume without acknowledgements. */
  readonly noAck: boolean;
  /** Prefix of consumer tags. */
  readonly tagPrefix: string;
  /** The accepted content types. */
  readonly accept: ReadonlySet<string>;
  readonly #connection: ChannelSource | undefined;
  /** The connection's internals (revival, drain activity, declarations), looked up once. */
  readonly #internals: ConnectionInternals | undefined;
  readonly #cache: DeclarationCache | undefined;
  readonly #activity: { notify(): void } | undefined;
  readonly #autoDeclare: boolean;
  readonly #onCancel: "error" | "resume";
  #channel: Channel | undefined;
  #prefetch: QosOptions | undefined;
  readonly #tags = new Map<string, string>(); // queue name -> consumer tag
  #tagSerial = 0; // never reused: a cancelled queue's tag number must not come back
  #consuming = false;
  #paused = false; // flow(false): consuming, but no broker consumers
  readonly #pending: Message<T>[] = [];
  #dispatching = false;
  #sink: IteratorSink<T> | undefined;
  #idle: (() => void)[] = [];

  /**
   * Makes a consumer of some queues on a connection or a channel (call `consume()` or iterate).
   *
   * @param channelOrConnection a Connection (its default channel; consumers revive after a
   *   reconnect) or a channel
   * @param queues the queues to consume from
   * @param options callbacks, accept list, prefetch, noAck
   */
  constructor(
    channelOrConnection: ChannelSource | Channel,
    queues: Queue<T> | string | ReadonlyArray<Queue<T> | string>,
    options: ConsumerOptions<T> = {},
  ) {
    if (isChannel(channelOrConnection)) this.#channel = channelOrConnection;
    else {
      this.#connection = channelOrConnection;
      this.#internals = connectionInternals(channelOrConnection);
      if (this.#internals) {
        this.#cache = { declaredEntities: this.#internals.declared };
        this.#activity = this.#internals.activity;
      }
    }
    const list = Array.isArray(queues) ? queues : [queues];
    this.queues = list.map((q: Queue<T> | string) => (typeof q === "string" ? new Queue<T>(q) : q));
    this.schema = schemaOf(options.schema, this.queues);
    this.callbacks = [...(options.callbacks ?? [])];
    this.onMessage = options.onMessage;
    this.onDecodeError = options.onDecodeError;
    this.onError = options.onError;
    this.noAck = options.noAck ?? false;
    this.tagPrefix = options.tagPrefix ?? `wakame-${++consumerSerial}-`;
    this.accept = serializers.prepareAccept(options.accept);
    this.#autoDeclare = options.autoDeclare ?? true;
    this.#onCancel = options.onCancel ?? "error";
    if (this.#onCancel !== "error" && this.#onCancel !== "resume") {
      throw new ConfigurationError(
        `Cannot make a consumer with onCancel "${this.#onCancel}": expected "error" or "resume"`,
      );
    }
    if (options.prefetchCount) this.#prefetch = { prefetchCount: options.prefetchCount };
  }

  /** True while consuming. */
  get consuming(): boolean {
    return this.#consuming;
  }

  /** The consumer tags by queue name. */
  get consumerTags(): ReadonlyMap<string, string> {
    return this.#tags;
  }

  /** Adds a callback (Kombu's `register_callback`). */
  registerCallback(callback: MessageCallback<T>): void {
    this.callbacks.push(callback);
  }

  async #getChannel(): Promise<Channel> {
    if (this.#channel?.isOpen) return this.#channel;
    if (!this.#connection) {
      if (this.#channel) return this.#channel;
      throw new Error("unreachable: a consumer always has a channel or a connection");
    }
    this.#channel = await this.#connection.defaultChannel();
    return this.#channel;
  }

  /** Declares the queues (and their exchanges and bindings), once per connection. */
  async declare(): Promise<void> {
    const channel = await this.#getChannel();
    for (const queue of this.queues) await maybeDeclare(queue, channel, this.#cache);
  }

  /**
   * Sets the prefetch limit (Kombu's `qos`).
   *
   * @param options prefetchCount (0 = no limit), prefetchSize, global
   */
  async qos(options: QosOptions): Promise<void> {
    this.#prefetch = options;
    await (await this.#getChannel()).basicQos(options);
  }

  /**
   * Starts consuming from every queue (declaring them first unless `autoDeclare` is false).
   */
  async consume(): Promise<void> {
    if (this.#consuming) return;
    this.#consuming = true;
    try {
      await serializers.load(...this.accept);
      const channel = await this.#getChannel();
      if (this.#autoDeclare) await this.declare();
      if (this.#prefetch) await channel.basicQos(this.#prefetch);
      if (!this.#paused) {
        for (const queue of this.queues) await this.#consumeQueue(channel, queue);
      }
      this.#internals?.attach(this);
    } catch (error) {
      this.#consuming = false;
      throw error;
    }
  }

  async #consumeQueue(channel: Channel, queue: Queue): Promise<void> {
    if (this.#tags.has(queue.name)) return;
    const tag = `${this.tagPrefix}${this.#tagSerial++}`;
    this.#tags.set(queue.name, tag);
    await channel.basicConsume(queue.name, {
      consumerTag: tag,
      noAck: this.noAck || queue.noAck,
      exclusive: queue.exclusive,
      arguments: queue.options.consumerArguments,
    }, {
      onDelivery: (delivery) => this.#onDelivery(channel, delivery, this.noAck || queue.noAck),
      onCancel: () => {
        // A tag we cancelled ourselves is gone from the table already.
        if (this.#tags.get(queue.name) !== tag) return;
        this.#tags.delete(queue.name);
        void this.#cancelledByBroker(channel, queue, tag);
      },
    });
  }

  /** The broker cancelled `tag`: resume (declare and consume again) or report it. */
  async #cancelledByBroker(channel: Channel, queue: Queue, tag: string): Promise<void> {
    // The queue may be gone: the next declaration must reach the broker.
    this.#cache?.declaredEntities.delete(queue.declarationKey);
    log.info(`Consumer ${tag} of queue "${queue.name}" was cancelled by the broker`);
    let cause: unknown;
    if (this.#onCancel === "resume" && this.#consuming && channel.isOpen) {
      log.warn(`Consumer of queue "${queue.name}" was cancelled by the broker; consuming again`);
      try {
        await maybeDeclare(queue, channel, this.#cache);
        if (this.#consuming && !this.#tags.has(queue.name)) {
          await this.#consumeQueue(channel, queue);
        }
        return;
      } catch (error) {
        cause = error;
      }
    }
    const error = new ConsumerCancelledError(
      `Consumer of queue "${queue.name}" was cancelled by the broker (queue deleted or its node ` +
        `lost)${cause === undefined ? "" : "; consuming again failed"}`,
      { queue: queue.name, consumerTag: tag, cause },
    );
    if (this.#tags.size === 0 && this.#consuming) {
      this.#consuming = false;
      this.#internals?.detach(this);
    }
    reportError(this, error, undefined);
    this.#sink?.fail(error);
  }

  /**
   * Adds a queue; when consuming, it is declared and consumed at once (Kombu's `add_queue`).
   *
   * @param queue the queue
   */
  async addQueue(queue: Queue<T> | string): Promise<Queue<T>> {
    const q = typeof queue === "string" ? new Queue<T>(queue) : queue;
    this.queues.push(q);
    if (this.#consuming) {
      const channel = await this.#getChannel();
      if (this.#autoDeclare) await maybeDeclare(q, channel, this.#cache);
      if (!this.#paused) await this.#consumeQueue(channel, q);
    }
    return q;
  }

  /**
   * Stops consuming from one queue (Kombu's `cancel_by_queue`).
   *
   * @param name the queue name
   */
  async cancelByQueue(name: string): Promise<void> {
    const tag = this.#tags.get(name);
    const index = this.queues.findIndex((q) => q.name === name);
    if (index >= 0) this.queues.splice(index, 1);
    if (tag === undefined) return;
    this.#tags.delete(name);
    if (this.#channel?.isOpen) await this.#channel.basicCancel(tag);
  }

  /**
   * True while consuming from the queue, paused by `flow(false)` or not (Kombu's
   * `consuming_from`).
   * @param queue a queue or its name
   * @returns whether it is consumed
   */
  consumingFrom(queue: Queue | string): boolean {
    const name = typeof queue === "string" ? queue : queue.name;
    if (this.#tags.has(name)) return true;
    return this.#paused && this.#consuming && this.queues.some((q) => q.name === name);
  }

  /**
   * Removes the ready messages of every queue (Kombu's `Consumer.purge`); unacked ones stay.
   * @returns how many messages were removed
   */
  async purge(): Promise<number> {
    const channel = await this.#getChannel();
    let removed = 0;
    for (const queue of this.queues) removed += await channel.queuePurge(queue.name);
    return removed;
  }

  /**
   * Pauses (`false`) or resumes (`true`) deliveries (Kombu's `Consumer.flow`). Kombu sends AMQP's
   * `channel.flow`, which RabbitMQ refuses; here the broker consumers are cancelled and started
   * again, on every transport. Messages received before the pause still reach the callbacks.
   * @param active false to pause, true to resume
   */
  async flow(active: boolean): Promise<void> {
    this.#paused = !active;
    if (!this.#consuming) return;
    const channel = await this.#getChannel();
    if (active) {
      for (const queue of this.queues) await this.#consumeQueue(channel, queue);
      return;
    }
    const tags = [...this.#tags.values()];
    this.#tags.clear();
    if (channel.isOpen) { for (const tag of tags) await channel.basicCancel(tag); }
  }

  /** Stops consuming from every queue. Messages already delivered stay unacknowledged. */
  async cancel(): Promise<void> {
    this.#consuming = false;
    this.#internals?.detach(this);
    const tags = [...this.#tags.values()];
    this.#tags.clear();
    this.#sink?.end();
    if (this.#channel?.isOpen) { for (const tag of tags) await this.#channel.basicCancel(tag); }
  }

  /**
   * Stops without talking to the broker, for good: called by the Connection when it closes. A
   * `for await` over this consumer ends.
   */
  stop(): void {
    this.#consuming = false;
    this.#tags.clear();
    this.#sink?.end();
  }

  /** Redelivers this channel's unacknowledged messages (Kombu's `recover`). */
  async recover(requeue = true): Promise<void> {
    await (await this.#getChannel()).basicRecover(requeue);
  }

  /** Resolves once every message handed over so far has been through the callbacks. */
  idle(): Promise<void> {
    if (!this.#dispatching && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Starts again on a new channel after the connection was re-established: re-declares,
   * re-applies QoS and re-consumes (Kombu's `revive`). Called by the Connection.
   *
   * @param channel the new channel (default: the connection's default channel)
   */
  async revive(channel?: Channel): Promise<void> {
    // Deliveries of the dead channel cannot be acked; the broker redelivers them.
    const live = this.#pending.filter((m) => m.channel.isOpen);
    if (live.length < this.#pending.length) this.#pending.splice(0, Infinity, ...live);
    this.#channel = channel;
    if (!this.#consuming) return;
    this.#tags.clear();
    this.#consuming = false;
    await this.consume();
  }

  #onDelivery(channel: Channel, delivery: Delivery, noAck: boolean): void {
    const message = new Message<T>(channel, delivery, {
      accept: this.accept,
      noAck,
      schema: this.schema,
    });
    if (this.#sink) {
      this.#sink.push(message);
      this.#activity?.notify();
      return;
    }
    this.#pending.push(message);
    if (!this.#dispatching) this.#dispatch();
  }

  /**
   * Runs the callbacks of pending messages in order. Synchronous while the callbacks are (no
   * promise per message); a callback's promise is awaited before the next message.
   */
  #dispatch(): void {
    this.#dispatching = true;
    let message: Message<T> | undefined;
    while ((message = this.#pending.shift()) !== undefined) {
      // #receive reports every failure itself (hooks, logger); it neither throws nor rejects.
      const otel = telemetry();
      const result = otel
        ? otel.deliver(this.#connection, message, this.#receive.bind(this, message))
        : this.#receive(message);
      if (result !== undefined) {
        const resume = () => {
          this.#activity?.notify();
          this.#dispatch();
        };
        result.then(resume, resume);
        return;
      }
      this.#activity?.notify();
    }
    this.#dispatching = false;
    if (this.#idle.length > 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }

  /** Runs the callbacks for one message; returns a promise only when something was async. */
  #receive(message: Message<T>): Promise<void> | undefined {
    try {
      if (this.onMessage) {
        const result = this.onMessage(message);
        return isThenable(result) ? settled(this, result, message) : undefined;
      }
      let decoded: unknown;
      try {
        decoded = message.decodeNow();
      } catch (error) {
        return decodeFailed(this, message, error);
      }
      if (isThenable(decoded)) {
        return Promise.resolve(decoded).then(
          (body) => this.#runCallbacks(body, message, 0),
          (error) => decodeFailed(this, message, error),
        );
      }
      return this.#runCallbacks(decoded, message, 0);
    } catch (error) {
      reportError(this, error, message);
      return undefined;
    }
  }

  #runCallbacks(body: unknown, message: Message<T>, from: number): Promise<void> | undefined {
    const callbacks = this.callbacks;
    for (let i = from; i < callbacks.length; i++) {
      let result: unknown;
      try {
        result = callbacks[i](body as T, message);
      } catch (error) {
        reportError(this, error, message);
        continue;
      }
      if (isThenable(result)) {
        return Promise.resolve(result).then(
          () => this.#runCallbacks(body, message, i + 1),
          (error) => {
            reportError(this, error, message);
            return this.#runCallbacks(body, message, i + 1);
          },
        );
      }
    }
    return undefined;
  }

  /**
   * Iterates over messages as they arrive, decoded (`message.payload` is ready). Starts consuming
   * if needed; `break` cancels the consumer and requeues messages received but not yet yielded.
   * Undecodable messages go to `onDecodeError` and are not yielded.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Message<T>, void, undefined> {
    const sink = new IteratorSink<T>();
    this.#sink = sink;
    try {
      await this.consume();
      for (;;) {
        // cancel() from elsewhere, or the connection closed: the loop ends; a cancel by the
        // broker ends it with the error.
        const message = await sink.next();
        if (message === undefined) return;
        telemetry()?.deliver(this.#connection, message);
        try {
          await message.decode();
        } catch (error) {
          await decodeFailed(this, message, error);
          continue;
        }
        yield message;
      }
    } finally {
      try {
        // The sink stays until the cancel is done: deliveries racing it land in the buffer and
        // are requeued below instead of reaching a consumer without callbacks.
        await this.cancel();
      } finally {
        this.#sink = undefined;
        await sink.requeueRest();
      }
    }
  }

  /** Cancels the consumer (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.cancel();
  }
}
