/**
 * A received message (Kombu's `kombu.message.Message`): body, decoding, ack / reject / requeue.
 *
 * @module
 */

import { type Body, bodyBytes } from "./body.ts";
import { decompress } from "./compression.ts";
import { MessageStateError } from "./errors.ts";
import { serializers } from "./serialization.ts";
import type { StandardSchemaV1 } from "./schema/standard_schema.ts";
import { validate } from "./schema/validate.ts";
import { telemetry } from "./telemetry/instrument.ts";
import type { Channel, Delivery, DeliveryTag, FieldTable, MessageProperties } from "./transport.ts";

/** Where a message came from (Kombu's `delivery_info`). */
export interface DeliveryInfo {
  /** Exchange it was published to. */
  exchange: string;
  /** Routing key it was published with. */
  routingKey: string;
  /** Tag of the consumer that received it (absent for `get`). */
  consumerTag: string | undefined;
  /** True when delivered before without an ack. */
  redelivered: boolean;
  /** The delivery tag. */
  deliveryTag: DeliveryTag;
}

/** The states of a message, as in Kombu. */
export const MessageState = {
  RECEIVED: "RECEIVED",
  ACK: "ACK",
  REJECTED: "REJECTED",
  REQUEUED: "REQUEUED",
} as const;

/** One of {@link MessageState}. */
export type MessageStateName = typeof MessageState[keyof typeof MessageState];

/** How a message is decoded. */
export interface DecodeOptions {
  /** Allowed content types (a set made by `serializers.prepareAccept`). */
  accept?: ReadonlySet<string>;
  /** Validates the decoded value (a `ValidationError` then fails the decode). */
  schema?: StandardSchemaV1;
}

/**
 * A message received from a queue.
 *
 * `body` holds the bytes as they came; `decode()` decompresses and deserializes them once
 * (checking the accept list first); `payload` is the decoded value after `decode()`.
 */
export class Message<T = unknown> {
  /** All AMQP properties (camelCase). */
  readonly properties: MessageProperties;
  /** The channel that delivered it; acks go there only. */
  readonly channel: Channel;
  readonly #accept: ReadonlySet<string> | undefined;
  readonly #schema: StandardSchemaV1 | undefined;
  readonly #noAck: boolean;
  #body: Body;
  readonly #delivery: Delivery;
  #deliveryInfo: DeliveryInfo | undefined;
  #state: MessageStateName = MessageState.RECEIVED;
  #decoded = false;
  #payload: unknown;

  /**
   * Wraps a channel's delivery as a message (the consumer makes these; you rarely need to).
   *
   * @param channel the delivering channel
   * @param delivery what the channel delivered
   * @param options accept list, and whether the consumer is no-ack
   */
  constructor(
    channel: Channel,
    delivery: Delivery,
    options: DecodeOptions & { noAck?: boolean } = {},
  ) {
    this.channel = channel;
    this.#body = delivery.body;
    this.#delivery = delivery;
    this.properties = delivery.properties;
    this.#accept = options.accept;
    this.#schema = options.schema;
    this.#noAck = options.noAck ?? false;
  }

  /** The raw body bytes (a body that arrived as text is encoded to UTF-8 on first use). */
  get body(): Uint8Array {
    const body = this.#body;
    if (typeof body !== "string") return body;
    return (this.#body = bodyBytes(body));
  }

  /** Where it came from (made on first use: most consumers never ask). */
  get deliveryInfo(): DeliveryInfo {
    const d = this.#delivery;
    return this.#deliveryInfo ??= {
      exchange: d.exchange,
      routingKey: d.routingKey,
      consumerTag: d.consumerTag,
      redelivered: d.redelivered,
      deliveryTag: d.deliveryTag,
    };
  }

  /** The delivery tag. */
  get deliveryTag(): DeliveryTag {
    return this.#delivery.deliveryTag;
  }

  /** Application headers (never undefined). */
  get headers(): FieldTable {
    return this.properties.headers ?? {};
  }

  /** MIME type of the serialized body. */
  get contentType(): string | undefined {
    return this.properties.contentType;
  }

  /** Charset of the serialized body. */
  get contentEncoding(): string | undefined {
    return this.properties.contentEncoding;
  }

  /** Reply-to queue name. */
  get replyTo(): string | undefined {
    return this.properties.replyTo;
  }

  /** Correlation id. */
  get correlationId(): string | undefined {
    return this.properties.correlationId;
  }

  /** `RECEIVED`, `ACK`, `REJECTED` or `REQUEUED`. */
  get state(): MessageStateName {
    return this.#state;
  }

  /** True once acked, rejected or requeued. */
  get acknowledged(): boolean {
    return this.#state !== MessageState.RECEIVED;
  }

  /** Delivered without acknowledgement (nothing to ack, reject or requeue on the broker). */
  get noAck(): boolean {
    return this.#noAck;
  }

  /** The decoded body; decodes on first use (a `DecodeError` or `ContentDisallowedError` throws). */
  get payload(): T {
    if (!this.#decoded) throw new MessageStateError("Cannot read the payload: call decode() first");
    return this.#payload as T;
  }

  /** The compression header value, if the body is compressed. */
  get compression(): string | undefined {
    const value = this.properties.headers?.compression;
    return typeof value === "string" ? value : undefined;
  }

  /**
   * Decompresses and deserializes the body, once.
   *
   * @returns the decoded value
   * @throws {ContentDisallowedError} when the content type is not accepted (before decoding)
   * @throws {DecodeError} when the body cannot be decompressed or parsed
   */
  async decode(): Promise<T> {
    if (this.#decoded) return this.#payload as T;
    let body = this.#body;
    const compression = this.compression;
    if (compression) body = await decompress(this.body, compression);
    const loading = this.contentType === undefined
      ? undefined
      : serializers.loadAccepted(this.contentType, this.#accept);
    if (loading !== undefined) await loading;
    const loaded = serializers.loads(body, this.contentType, this.contentEncoding, this.#accept);
    this.#payload = this.#schema ? await this.#validated(loaded) : loaded;
    this.#decoded = true;
    return this.#payload as T;
  }

  #validated(value: unknown): unknown {
    return validate(this.#schema!, value, `Message ${String(this.deliveryTag)}`);
  }

  /**
   * Decodes synchronously when the body is not compressed (the consumer's fast path).
   *
   * @returns the decoded value, or a promise when decompression is needed
   */
  decodeNow(): unknown {
    if (this.#decoded) return this.#payload;
    if (this.compression) return this.decode();
    const loaded = serializers.loads(
      this.#body,
      this.contentType,
      this.contentEncoding,
      this.#accept,
    );
    const checked = this.#schema ? this.#validated(loaded) : loaded;
    if (checked instanceof Promise) return checked.then((value) => this.#done(value)); // async schema
    return this.#done(checked);
  }

  #done(value: unknown): unknown {
    this.#payload = value;
    this.#decoded = true;
    return value;
  }

  #settle(action: string, next: MessageStateName): boolean {
    if (this.#state !== MessageState.RECEIVED) {
      throw new MessageStateError(
        `Cannot ${action} message ${this.deliveryTag}: it was already ${this.#state.toLowerCase()}`,
      );
    }
    if (!this.#noAck && !this.channel.isOpen) {
      throw new MessageStateError(
        `Cannot ${action} message ${this.deliveryTag}: the channel that delivered it is closed ` +
          "(the broker redelivers it)",
      );
    }
    this.#state = next;
    telemetry()?.settled(this, next);
    return !this.#noAck;
  }

  /**
   * Acknowledges the message.
   *
   * @param options `multiple` acks every earlier delivery of the channel too
   * @throws {MessageStateError} when already acked, rejected or requeued, or the channel died
   */
  ack(options?: { multiple?: boolean }): Promise<void> {
    try {
      if (!this.#settle("ack", MessageState.ACK)) return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.channel.basicAck(this.deliveryTag, options?.multiple ?? false);
  }

  /**
   * Rejects the message; with `requeue` it goes back to the queue.
   *
   * @throws {MessageStateError} when already acked, rejected or requeued
   */
  reject(options?: { requeue?: boolean }): Promise<void> {
    const requeue = options?.requeue ?? false;
    try {
      const next = requeue ? MessageState.REQUEUED : MessageState.REJECTED;
      if (!this.#settle(requeue ? "requeue" : "reject", next)) return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.channel.basicReject(this.deliveryTag, requeue);
  }

  /**
   * Puts the message back in its queue (Kombu's `requeue()`).
   *
   * @throws {MessageStateError} when already acked, rejected or requeued
   */
  requeue(): Promise<void> {
    return this.reject({ requeue: true });
  }

  /** Acks unless already settled (Kombu's `ack_log_error` without the log). */
  async ackIfPending(): Promise<void> {
    if (!this.acknowledged) await this.ack();
  }

  /** Kombu-style text. */
  toString(): string {
    return `<Message ${this.deliveryTag} ${this.#state} ${this.contentType ?? ""}>`;
  }
}
