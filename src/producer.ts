/**
 * Publishing (Kombu's `kombu.messaging.Producer`).
 *
 * @module
 */

import { bodyBytes } from "./body.ts";
import { compress } from "./compression.ts";
import { connectionInternals } from "./_connection_internals.ts";
import { type ChannelSource, isChannel } from "./channel_source.ts";
import { type DeclarationCache, Exchange, maybeDeclare, type Queue } from "./entity.ts";
import { EncodeError, NotBoundError } from "./errors.ts";
import type { RetryPolicy } from "./retry.ts";
import { type Encoded, serializers } from "./serialization.ts";
import type {
  BasicPublishOptions,
  Channel,
  FieldTable,
  MessageProperties,
  OutgoingMessage,
  ReturnedMessage,
} from "./transport.ts";

/** Options of {@link Producer.publish} (Kombu's keyword arguments in camelCase). */
export interface PublishOptions {
  /** Exchange to publish to (default: the producer's). */
  exchange?: Exchange | string;
  /** Routing key (default: the producer's). */
  routingKey?: string;
  /** Entities to declare first (once per connection). */
  declare?: ReadonlyArray<Exchange | Queue>;
  /** Retry on connection failures, reconnecting between attempts. */
  retry?: boolean;
  /** How to retry (defaults: 3 retries, 0 ms then +200 ms steps up to 1 s, as Celery). */
  retryPolicy?: RetryPolicy;
  /** Serializer name (default: the producer's, else `json`). */
  serializer?: string;
  /** Compression method (`zlib`, `gzip`, `brotli`, ... or the MIME type). */
  compression?: string;
  /** Content type of a body that is already serialized (bytes or text). */
  contentType?: string;
  /** Charset of a raw body (default `utf-8` for text, `binary` for bytes). */
  contentEncoding?: string;
  /** Application headers. */
  headers?: FieldTable;
  /** Priority (0..255 on AMQP, 0..9 on Redis); default 0. */
  priority?: number;
  /** 1 / "transient" or 2 / "persistent" (default: the exchange's, else 2). */
  deliveryMode?: 1 | 2 | "transient" | "persistent";
  /**
   * Message TTL in milliseconds (sent as AMQP's string of whole milliseconds). Kombu's
   * `expiration` is in seconds: its `expiration=1.5` is `expiration: 1500` here.
   */
  expiration?: number;
  /** Correlation id. */
  correlationId?: string;
  /** Where replies go (a queue name or a Queue). */
  replyTo?: string | Queue;
  /** Return the message through `onReturn` when no queue takes it. */
  mandatory?: boolean;
  /** Message id. */
  messageId?: string;
  /** Timestamp: a Date or seconds since the epoch. */
  timestamp?: Date | number;
  /** Message type. */
  type?: string;
  /** User id (RabbitMQ checks it). */
  userId?: string;
  /** Application id. */
  appId?: string;
  /** Other AMQP properties to set as they are. */
  properties?: Partial<MessageProperties>;
}

/** Options of a {@link Producer}. */
export interface ProducerOptions {
  /** Default exchange (default: the default exchange `""`). */
  exchange?: Exchange | string;
  /** Default routing key. */
  routingKey?: string;
  /** Default serializer (default `json`). */
  serializer?: string;
  /** Default compression. */
  compression?: string;
  /** Declare the default exchange on first use (default true). */
  autoDeclare?: boolean;
  /** Receives messages the broker returned (mandatory without a route). */
  onReturn?: (message: ReturnedMessage) => void;
}

const MANDATORY: BasicPublishOptions = Object.freeze({ mandatory: true });

const CELERY_RETRY_POLICY: RetryPolicy = {
  maxRetries: 3,
  intervalStart: 0,
  intervalStep: 200,
  intervalMax: 1000,
};

/**
 * Serializes a body the way Kombu's `Producer._prepare` does.
 *
 * @param body the value (or raw bytes / text with `contentType`)
 * @param options serializer, or contentType and contentEncoding for a raw body
 * @returns the body (bytes, or text standing for its UTF-8 bytes) with its content type and
 *   encoding
 */
export function prepareBody(
  body: unknown,
  options: { serializer?: string; contentType?: string; contentEncoding?: string },
): Encoded {
  if (options.contentType) {
    if (body instanceof Uint8Array) {
      return {
        body,
        contentType: options.contentType,
        contentEncoding: options.contentEncoding ?? "binary",
      };
    }
    if (typeof body === "string") {
      return {
        body,
        contentType: options.contentType,
        contentEncoding: options.contentEncoding ?? "utf-8",
      };
    }
    throw new EncodeError(
      `Cannot publish a body with content type "${options.contentType}": it must be a string or Uint8Array`,
    );
  }
  return serializers.dumps(body, options.serializer);
}

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
export class Producer {
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
  readonly #connection: ChannelSource | undefined;
  /** The connection's declaration cache, looked up once (the hot path reads its set). */
  readonly #cache: DeclarationCache | undefined;
  #channel: Channel | undefined;

  /**
   * Makes a producer on a connection or a channel.
   *
   * @param channelOrConnection a Connection (its default channel is used, and `retry` works) or a
   *   channel
   * @param options defaults for every publish
   */
  constructor(channelOrConnection: ChannelSource | Channel, options: ProducerOptions = {}) {
    if (isChannel(channelOrConnection)) this.#channel = channelOrConnection;
    else {
      this.#connection = channelOrConnection;
      const declared = connectionInternals(channelOrConnection)?.declared;
      if (declared !== undefined) this.#cache = { declaredEntities: declared };
    }
    const exchange = options.exchange ?? "";
    this.exchange = typeof exchange === "string" ? new Exchange(exchange) : exchange;
    this.routingKey = options.routingKey ?? "";
    this.serializer = options.serializer;
    this.compression = options.compression;
    this.autoDeclare = options.autoDeclare ?? true;
    this.onReturn = options.onReturn;
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
   * @throws {ConnectionError} when the broker is unreachable (after the retries, with `retry`)
   */
  publish(body: unknown, options: PublishOptions = {}): Promise<void> {
    try {
      const serializer = options.serializer ?? this.serializer;
      if (serializer !== undefined && serializers.needsLoad(serializer)) {
        // msgpack / yaml load their package on first use.
        return serializers.load(serializer).then(() => this.publish(body, options));
      }
      const exchange = options.exchange ?? this.exchange;
      const prepared = this.#prepare(body, options, exchange);
      // The hot path: nothing to compress, no retry, an open channel and nothing left to
      // declare go straight to the channel, without an async frame of their own.
      const channel = this.#channel;
      if (
        prepared instanceof Promise || (options.retry && this.#connection) ||
        !channel?.isOpen || this.#needsDeclare(exchange, options.declare)
      ) {
        return this.#publish(exchange, prepared, options);
      }
      return channel.basicPublish(
        typeof exchange === "string" ? exchange : exchange.name,
        options.routingKey ?? this.routingKey,
        prepared,
        options.mandatory ? MANDATORY : undefined,
      );
    } catch (error) {
      return Promise.reject(error);
    }
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
        await channel.basicPublish(exchangeName, routingKey, message, publishOptions);
      }, {
        ...CELERY_RETRY_POLICY,
        ...options.retryPolicy,
        onRevive: (channel: Channel) => this.revive(channel),
      })();
      return;
    }
    const channel = this.#channel?.isOpen ? this.#channel : await this.channel();
    if (this.#needsDeclare(exchange, options.declare)) {
      await this.#declareFor(channel, exchange, options.declare);
    }
    await channel.basicPublish(exchangeName, routingKey, message, publishOptions);
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
