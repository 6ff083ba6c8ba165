/**
 * Publishing (Kombu's `kombu.messaging.Producer`).
 *
 * @module
 */

import { bodyBytes } from "./body.ts";
import { compress } from "./compression.ts";
import { type ConnectionInternals, connectionInternals } from "./_connection_internals.ts";
import { type ChannelSource, isChannel } from "./channel_source.ts";
import { type DeclarationCache, Exchange, maybeDeclare, type Queue } from "./entity.ts";
import { ConfigurationError, ConnectionError, isRecoverable, NotBoundError } from "./errors.ts";
import { nameOf } from "./entity/_name_of.ts";
import { type HeldPublish, OfflineBuffer } from "./producer/offline_buffer.ts";
import { timeLimit } from "./producer/_time_limit.ts";
import { prepareBody } from "./producer/prepare_body.ts";
import type { ProducerOptions, PublishOptions } from "./producer/options.ts";
import type { RetryPolicy } from "./retry.ts";
import { type StandardSchemaV1, validate } from "./schema/mod.ts";
import { telemetry } from "./telemetry/instrument.ts";
import { type Encoded, serializers } from "./serialization.ts";
import type {
  BasicPublishOptions,
  Channel,
  FieldTable,
  MessageProperties,
  OutgoingMessage,
  ReturnedMessage,
} from "./transport.ts";

export type { OfflineBufferOptions } from "./producer/offline_buffer.ts";
export { prepareBody } from "./producer/prepare_body.ts";
export type { ProducerOptions, PublishOptions } from "./producer/options.ts";

const MANDATORY: BasicPublishOptions = Object.freeze({ mandatory: true });

const CELERY_RETRY_POLICY: RetryPolicy = {
  maxRetries: 3,
  intervalStart: 0,
  intervalStep: 200,
  intervalMax: 1000,
};

/**
 * Publishes messages to an exchange.
 *
 * @example
 * ```ts
 * import { Connection, Exchange, Queue } from "@wakame/wakame";
 * await using conn = new Connection("memory://");
 * const media = new Exchange("media", { type: "direct" });
 * const video = new Queue("video-producer-doc", { exchange: media, routingKey: "video" });
 * const producer = conn.producer({ exchange: media });
 * await producer.publish({ name: "clip.mp4" }, { routingKey: "video", declare: [video] });
 * ```
 */
export class Producer<T = unknown> {
  /** The default exchange. */
  readonly exchange: Exchange;
  /** The default routing key. */
  readonly routingKey: string;
  /** The default serializer. */
  readonly serializer: string | undefined;
  /** The default compression. */
  readonly compression: string | undefined;
  /** Whether the default exchange is declared on first use. */
  readonly autoDeclare: boolean;
  /** Receives returned messages. */
  onReturn: ((message: ReturnedMessage) => void) | undefined;
  /** Validates every payload before it is published ({@link ProducerOptions.schema}). */
  readonly schema: StandardSchemaV1<unknown, T> | undefined;
  readonly #connection: ChannelSource | undefined;
  /** The connection's declaration cache, looked up once (the hot path reads its set). */
  readonly #cache: DeclarationCache | undefined;
  #channel: Channel | undefined;
  readonly #internals: ConnectionInternals | undefined;
  readonly #buffer: OfflineBuffer | undefined;
  /** The last serializer name found ready (no package left to load). */
  #readySerializer: string | undefined;
  /** Publishes made (numbers the buffered ones, to keep their order). */
  #seq = 0;

  /**
   * Makes a producer on a connection or a channel.
   *
   * @param channelOrConnection a Connection (its default channel is used, and `retry` works) or a
   *   channel
   * @param options defaults for every publish
   * @throws {ConfigurationError} for an `offlineBuffer` without a `Connection`, or with limits
   *   that are not positive
   */
  constructor(channelOrConnection: ChannelSource | Channel, options: ProducerOptions<T> = {}) {
    if (isChannel(channelOrConnection)) this.#channel = channelOrConnection;
    else {
      this.#connection = channelOrConnection;
      this.#internals = connectionInternals(channelOrConnection);
      const declared = this.#internals?.declared;
      if (declared !== undefined) this.#cache = { declaredEntities: declared };
    }
    if (options.offlineBuffer !== undefined) {
      const internals = this.#internals;
      const connection = this.#connection;
      if (!internals || !connection) {
        throw new ConfigurationError(
          "Cannot make a producer with an offline buffer: it needs a Connection to recover",
        );
      }
      this.#buffer = new OfflineBuffer(options.offlineBuffer, {
        internals,
        channel: () => this.channel(),
        uri: () => connection.asUri(),
        closed: () => connection.closed,
      });
    }
    const exchange = options.exchange ?? "";
    this.exchange = typeof exchange === "string" ? new Exchange(exchange) : exchange;
    this.routingKey = options.routingKey ?? "";
    this.serializer = options.serializer;
    this.compression = options.compression;
    this.autoDeclare = options.autoDeclare ?? true;
    this.onReturn = options.onReturn;
    this.schema = options.schema;
  }

  /**
   * Publishes the offline buffer holds: waiting for the connection, or sent from the buffer and
   * not yet confirmed (0 without a buffer). For monitoring, like amqp-connection-manager's
   * `queueLength()`.
   */
  get buffered(): number {
    return this.#buffer?.size ?? 0;
  }

  /** The connection, when made from one. */
  get connection(): ChannelSource | undefined {
    return this.#connection;
  }

  /**
   * The channel publishes go to (the connection's default channel, re-obtained after a
   * reconnect).
   *
   * @returns the channel
   * @throws {NotBoundError} when the producer has neither a channel nor a connection
   */
  async channel(): Promise<Channel> {
    if (this.#channel?.isOpen || !this.#connection) {
      if (!this.#channel) throw new NotBoundError("Cannot publish: the producer has no channel");
      return this.#channel;
    }
    const channel = await this.#connection.defaultChannel();
    this.#channel = channel;
    if (this.onReturn) this.#attachReturns(channel);
    return channel;
  }

  #attachReturns(channel: Channel): void {
    const previous = channel.onReturn;
    channel.onReturn = (message) => {
      this.onReturn?.(message);
      if (previous && previous !== channel.onReturn) previous(message);
    };
  }

  /**
   * Re-attaches to a new channel after a reconnect (Kombu's `revive`).
   *
   * @param channel the new channel
   */
  revive(channel: Channel): void {
    this.#channel = channel;
    if (this.onReturn) this.#attachReturns(channel);
  }

  /**
   * Declares the default exchange (once per connection).
   */
  async declare(): Promise<void> {
    if (this.exchange.name === "") return;
    await maybeDeclare(this.exchange, await this.channel(), this.#cache);
  }

  /**
   * Serializes, compresses and publishes a message.
   *
   * @param body the payload (any value the serializer takes; bytes or text with `contentType`)
   * @param options routing, properties, declarations, retry
   * @throws {EncodeError} when the body cannot be serialized or compressed
   * @throws {ValidationError} when the body fails the producer's or the publish's `schema`
   * @throws {ConnectionError} when the broker is unreachable (after the retries, with `retry`)
   */
  publish(body: T, options: PublishOptions<T> = {}): Promise<void> {
    const schema = options.schema ?? this.schema;
    if (schema === undefined) return this.#publishNow(body, options);
    try {
      const checked = validate(
        schema,
        body,
        `Publish to "${nameOf(options.exchange ?? this.exchange)}"`,
      );
      return checked instanceof Promise
        ? checked.then((v) => this.#publishNow(v, options))
        : this.#publishNow(checked, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #publishNow(body: unknown, options: PublishOptions<T>): Promise<void> {
    const otel = telemetry();
    if (otel === undefined) return this.#sendNow(body, options);
    const exchange = nameOf(options.exchange ?? this.exchange);
    const routingKey = options.routingKey ?? this.routingKey;
    return otel.publish(
      this.#connection,
      exchange,
      routingKey,
      options.headers,
      (headers) => this.#sendNow(body, { ...options, headers: headers as FieldTable }),
    );
  }

  #sendNow(body: unknown, options: PublishOptions<T>): Promise<void> {
    try {
      const serializer = options.serializer ?? this.serializer;
      // msgpack / yaml load their package on first use; asked once per serializer name, not on
      // every publish.
      if (serializer !== undefined && serializer !== this.#readySerializer) {
        if (serializers.needsLoad(serializer)) {
          return serializers.load(serializer).then(() => this.#sendNow(body, options));
        }
        this.#readySerializer = serializer;
      }
      const exchange = options.exchange ?? this.exchange;
      const prepared = this.#prepare(body, options, exchange);
      // The hot path: nothing to compress, no retry, an open channel and nothing left to
      // declare go straight to the channel, without an async frame of their own.
      const channel = this.#channel;
      const buffer = this.#buffer;
      if (
        prepared instanceof Promise || (options.retry && this.#connection) ||
        options.timeout !== undefined || options.confirmTimeout !== undefined ||
        !channel?.isOpen || this.#needsDeclare(exchange, options.declare) ||
        (buffer !== undefined && buffer.busy)
      ) {
        const slow = buffer !== undefined
          ? this.#publishBuffered(buffer, exchange, prepared, options)
          : this.#publish(exchange, prepared, options);
        return options.timeout === undefined
          ? slow
          : timeLimit(slow, options.timeout, () =>
            `Cannot publish to exchange "${
              nameOf(exchange)
            }": no answer within ${options.timeout} ms`);
      }
      const exchangeName = typeof exchange === "string" ? exchange : exchange.name;
      const routingKey = options.routingKey ?? this.routingKey;
      const publishOptions = options.mandatory ? MANDATORY : undefined;
      const sent = channel.basicPublish(exchangeName, routingKey, prepared, publishOptions);
      if (buffer === undefined) return sent;
      const seq = ++this.#seq;
      return buffer.guard(
        sent,
        () =>
          this.#held(seq, exchange, exchangeName, routingKey, prepared, publishOptions, options),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** With an offline buffer: held while the connection recovers, else sent (held if it fails). */
  async #publishBuffered(
    buffer: OfflineBuffer,
    exchange: Exchange | string,
    prepared: OutgoingMessage | Promise<OutgoingMessage>,
    options: PublishOptions,
  ): Promise<void> {
    const seq = ++this.#seq;
    const message = await prepared;
    const held = () =>
      this.#held(
        seq,
        exchange,
        typeof exchange === "string" ? exchange : exchange.name,
        options.routingKey ?? this.routingKey,
        message,
        options.mandatory ? MANDATORY : undefined,
        options,
      );
    // Behind what is held already, or while a recovery runs: no attempt of its own.
    if (buffer.busy || this.#internals?.recovering()) return await buffer.hold(held());
    try {
      await this.#publish(exchange, message, options);
    } catch (error) {
      if (!isRecoverable(error)) throw error;
      return await buffer.hold(held(), error);
    }
  }

  #held(
    seq: number,
    exchange: Exchange | string,
    exchangeName: string,
    routingKey: string,
    message: OutgoingMessage,
    publishOptions: BasicPublishOptions | undefined,
    options: PublishOptions,
  ): HeldPublish {
    return {
      seq,
      exchange: exchangeName,
      routingKey,
      message,
      options: publishOptions,
      declare: (channel) =>
        this.#needsDeclare(exchange, options.declare)
          ? this.#declareFor(channel, exchange, options.declare)
          : Promise.resolve(),
    };
  }

  /**
   * Closes the producer (Kombu's `Producer.close`): publishes its offline buffer holds reject with
   * a `ConnectionError`, and so does any later publish it would have held. The connection stays
   * open; without a buffer this does nothing, as in Kombu.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Connection, Queue } from "@wakame/wakame";
   * await using conn = new Connection("memory://");
   * const queue = new Queue("offline-buffer-doc");
   * const producer = conn.producer({
   *   routingKey: queue.name,
   *   offlineBuffer: { maxMessages: 1000, maxWaitMs: 30_000 },
   * });
   * await producer.publish({ n: 1 }, { declare: [queue] }); // connected: sent at once
   * producer.close();
   * const channel = await conn.channel();
   * assert.equal((await channel.queueDeclare({ name: queue.name, passive: true })).messageCount, 1);
   * ```
   */
  close(): void {
    this.#buffer?.close(new ConnectionError("the producer was closed"));
  }

  /** Same as {@link Producer.close} (Kombu's `release`). */
  release(): void {
    this.close();
  }

  async #publish(
    exchange: Exchange | string,
    prepared: OutgoingMessage | Promise<OutgoingMessage>,
    options: PublishOptions,
  ): Promise<void> {
    const exchangeName = typeof exchange === "string" ? exchange : exchange.name;
    const routingKey = options.routingKey ?? this.routingKey;
    const message = await prepared;
    const publishOptions = options.mandatory ? MANDATORY : undefined;
    if (options.retry && this.#connection) {
      await this.#connection.ensure(async () => {
        const channel = await this.channel();
        await this.#declareFor(channel, exchange, options.declare);
        await this.#send(channel, exchangeName, routingKey, message, publishOptions, options);
      }, {
        ...CELERY_RETRY_POLICY,
        ...options.retryPolicy,
        onRevive: (channel: Channel) => this.revive(channel),
      })();
      return;
    }
    if (!this.#channel?.isOpen && this.#internals?.recovering()) {
      // Joining the recovery would wait as long as it takes (forever, by default).
      throw new ConnectionError(
        `Cannot publish to exchange "${exchangeName}" with routing key "${routingKey}": the ` +
          `connection to ${this.#connection?.asUri()} is down and recovering (publish with ` +
          "retry, or give the producer an offlineBuffer, to wait for it)",
      );
    }
    const channel = this.#channel?.isOpen ? this.#channel : await this.channel();
    if (this.#needsDeclare(exchange, options.declare)) {
      await this.#declareFor(channel, exchange, options.declare);
    }
    await this.#send(channel, exchangeName, routingKey, message, publishOptions, options);
  }

  /** The channel's publish, within `confirmTimeout`. */
  #send(
    channel: Channel,
    exchangeName: string,
    routingKey: string,
    message: OutgoingMessage,
    publishOptions: BasicPublishOptions | undefined,
    options: PublishOptions,
  ): Promise<void> {
    const sent = channel.basicPublish(exchangeName, routingKey, message, publishOptions);
    return timeLimit(
      sent,
      options.confirmTimeout,
      () =>
        `Cannot publish to exchange "${exchangeName}" with routing key "${routingKey}": not ` +
        `confirmed within ${options.confirmTimeout} ms`,
    );
  }

  /** False when every entity to declare is in the connection's cache already (the hot path). */
  #needsDeclare(
    exchange: Exchange | string,
    declare: ReadonlyArray<Exchange | Queue> | undefined,
  ): boolean {
    const cache = this.#cache?.declaredEntities;
    if (!cache) return true;
    if (typeof exchange !== "string" && exchange.name !== "" && this.autoDeclare) {
      if (!cache.has(exchange.declarationKey)) return true;
    }
    if (declare) {
      for (const entity of declare) {
        if (!cache.has(entity.declarationKey)) return true;
      }
    }
    return false;
  }

  async #declareFor(
    channel: Channel,
    exchange: Exchange | string,
    declare: ReadonlyArray<Exchange | Queue> | undefined,
  ): Promise<void> {
    const cache = this.#cache;
    if (typeof exchange !== "string" && exchange.name !== "" && this.autoDeclare) {
      await maybeDeclare(exchange, channel, cache);
    }
    if (declare) { for (const entity of declare) await maybeDeclare(entity, channel, cache); }
  }

  #prepare(
    body: unknown,
    options: PublishOptions,
    exchange: Exchange | string,
  ): OutgoingMessage | Promise<OutgoingMessage> {
    const prepared = prepareBody(body, {
      serializer: options.serializer ?? this.serializer,
      contentType: options.contentType,
      contentEncoding: options.contentEncoding,
    });
    const compression = options.compression ?? this.compression;
    const message = this.#properties(prepared, options, exchange);
    if (!compression) return message;
    return compress(bodyBytes(message.body), compression).then((compressed) => {
      message.body = compressed.body;
      message.properties.headers = {
        ...message.properties.headers,
        compression: compressed.contentType,
      };
      return message;
    });
  }

  #properties(
    prepared: Encoded,
    options: PublishOptions,
    exchange: Exchange | string,
  ): OutgoingMessage {
    const headers = options.headers;
    // Kombu's _delivery_details: an exchange given by name takes the producer exchange's mode.
    const mode = options.deliveryMode ??
      (typeof exchange === "string" ? this.exchange.deliveryMode : exchange.deliveryMode);
    const properties: MessageProperties = {
      contentType: prepared.contentType,
      contentEncoding: prepared.contentEncoding,
      headers,
      deliveryMode: mode === 1 || mode === "transient" ? 1 : 2,
      priority: options.priority ?? 0,
    };
    if (options.correlationId !== undefined) properties.correlationId = options.correlationId;
    if (options.replyTo !== undefined) {
      properties.replyTo = typeof options.replyTo === "string"
        ? options.replyTo
        : options.replyTo.name;
    }
    if (options.expiration !== undefined) {
      properties.expiration = String(Math.trunc(options.expiration));
    }
    if (options.messageId !== undefined) properties.messageId = options.messageId;
    if (options.timestamp !== undefined) {
      properties.timestamp = options.timestamp instanceof Date
        ? Math.trunc(options.timestamp.getTime() / 1000)
        : options.timestamp;
    }
    if (options.type !== undefined) properties.type = options.type;
    if (options.userId !== undefined) properties.userId = options.userId;
    if (options.appId !== undefined) properties.appId = options.appId;
    if (options.properties) Object.assign(properties, options.properties);
    return { body: prepared.body, properties };
  }
}
