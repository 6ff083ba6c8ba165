/**
 * The options of a `Producer` and of its `publish` (Kombu's keyword arguments in camelCase).
 *
 * @module
 */

import type { StandardSchemaV1 } from "../schema/standard_schema.ts";
import type { Exchange, Queue } from "../entity.ts";
import type { RetryPolicy } from "../retry.ts";
import type { FieldTable, MessageProperties, ReturnedMessage } from "../transport.ts";
import type { OfflineBufferOptions } from "./offline_buffer.ts";

/** Options of `Producer.publish` (Kombu's keyword arguments in camelCase). */
export interface PublishOptions<T = unknown> {
  /** Validates this body before publishing (any Standard Schema); overrides the producer's. */
  schema?: StandardSchemaV1<unknown, T>;
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
  /**
   * Most ms the whole publish may take: connecting, declaring, sending, retries and the confirm
   * (Kombu's `timeout`, in seconds there); then it rejects with `TimeoutError`. The message may
   * still reach the broker: a publish cannot be taken back.
   */
  timeout?: number;
  /**
   * Most ms to wait for the channel to take the message, with publisher confirms
   * (`confirmPublish` on AMQP) for the broker's confirm (Kombu's `confirm_timeout`, seconds
   * there); then it rejects with `TimeoutError` (recoverable: `retry` publishes again).
   */
  confirmTimeout?: number;
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

/** Options of a `Producer`. */
export interface ProducerOptions<T = unknown> {
  /**
   * Validates every body before publishing (any Standard Schema: zod, valibot ...); a body that
   * fails throws a `ValidationError` and nothing is sent. Its output type types `publish`.
   */
  schema?: StandardSchemaV1<unknown, T>;
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
  /**
   * Holds publishes while the connection is down and recovering, and sends them, in order, once
   * it is back (off by default: a publish then fails at once with a `ConnectionError`). A held
   * publish resolves only when the channel took it (confirmed, on a confirming channel); one
   * more than `maxMessages` / `maxBytes` rejects with `LimitExceededError`, one held past
   * `maxWaitMs` with `TimeoutError`, held ones on `close()` with `ConnectionError`. Needs a
   * `Connection`.
   */
  offlineBuffer?: OfflineBufferOptions;
}
