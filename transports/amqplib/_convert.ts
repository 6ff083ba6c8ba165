/**
 * Conversions between wakame's transport seam and amqplib's shapes: field tables, message
 * properties, deliveries and errors.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { ChannelError, channelErrorFor, ConnectionError } from "../../src/errors.ts";
import type {
  Delivery,
  FieldTable,
  FieldValue,
  MessageProperties,
  ReturnedMessage,
} from "../../src/transport.ts";

/** A value as amqplib's table codec takes it (`{"!": type, value}` picks the wire type). */
type AmqplibValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | Buffer
  | AmqplibValue[]
  | { [key: string]: AmqplibValue };

/** The parts of an amqplib message this transport reads. */
export interface AmqplibMessage {
  content: Uint8Array;
  fields: {
    deliveryTag: number;
    redelivered?: boolean;
    exchange: string;
    routingKey: string;
    consumerTag?: string;
    messageCount?: number;
    replyCode?: number;
    replyText?: string;
  };
  properties: Record<string, unknown>;
}

/**
 * A byte view amqplib accepts (a `Buffer` over the same memory, no copy).
 *
 * @param bytes the bytes
 * @returns a Buffer sharing the memory of `bytes`
 */
export function toBuffer(bytes: Uint8Array | string): Buffer {
  if (typeof bytes === "string") return Buffer.from(bytes, "utf8");
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A plain `Uint8Array` view of a Buffer (so values compare equal to ones made elsewhere).
 *
 * @param bytes a Buffer or Uint8Array
 * @returns a Uint8Array over the same memory
 */
export function toBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function encodeValue(value: FieldValue): AmqplibValue {
  if (value instanceof Uint8Array) return toBuffer(value);
  if (value instanceof Date) {
    return { "!": "timestamp", value: Math.floor(value.getTime() / 1000) };
  }
  if (typeof value === "bigint") return { "!": "int64", value: value as unknown as number };
  if (Array.isArray(value)) return value.map(encodeValue);
  if (value !== null && typeof value === "object") return encodeTable(value);
  return value;
}

/**
 * Turns a field table into amqplib's form (bytes as Buffers, dates as AMQP timestamps, bigints
 * as signed 64-bit).
 *
 * @param table headers or x-arguments
 * @returns the same table for amqplib's codec
 */
export function encodeTable(table: FieldTable): { [key: string]: AmqplibValue } {
  const out: { [key: string]: AmqplibValue } = {};
  for (const [key, value] of Object.entries(table)) {
    if (value !== undefined) out[key] = encodeValue(value);
  }
  return out;
}

function decodeValue(value: unknown): FieldValue {
  if (value instanceof Uint8Array) return toBytes(value);
  if (Array.isArray(value)) return value.map(decodeValue);
  if (value !== null && typeof value === "object") {
    const tagged = value as { "!"?: string; value?: unknown };
    if (tagged["!"] === "timestamp" && typeof tagged.value === "number") {
      return new Date(tagged.value * 1000);
    }
    if (tagged["!"] === "decimal") {
      const { places, digits } = tagged.value as { places: number; digits: number };
      return digits / 10 ** places;
    }
    return decodeTable(value as Record<string, unknown>);
  }
  return value as FieldValue;
}

/**
 * Turns a table decoded by amqplib into wakame's form (Buffers as Uint8Array, timestamps as
 * `Date`, decimals as numbers).
 *
 * @param table the decoded table
 * @returns a {@link FieldTable}
 */
export function decodeTable(table: Record<string, unknown>): FieldTable {
  const out: FieldTable = {};
  for (const [key, value] of Object.entries(table)) out[key] = decodeValue(value);
  return out;
}

/**
 * Publish options for amqplib from message properties, as Kombu sends them: `priority`
 * (default 0) and `deliveryMode` (default 2, persistent) always, `expiration` as a string of
 * milliseconds, headers as `application_headers`.
 *
 * @param properties the message properties
 * @param mandatory the AMQP mandatory flag
 * @returns amqplib's publish options
 */
export function publishOptions(
  properties: MessageProperties,
  mandatory: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    priority: properties.priority ?? 0,
    deliveryMode: properties.deliveryMode ?? 2,
    mandatory,
  };
  if (properties.contentType !== undefined) out.contentType = properties.contentType;
  if (properties.contentEncoding !== undefined) out.contentEncoding = properties.contentEncoding;
  if (properties.headers !== undefined) out.headers = encodeTable(properties.headers);
  if (properties.correlationId !== undefined) out.correlationId = properties.correlationId;
  if (properties.replyTo !== undefined) out.replyTo = properties.replyTo;
  if (properties.expiration !== undefined) out.expiration = String(properties.expiration);
  if (properties.messageId !== undefined) out.messageId = properties.messageId;
  if (properties.timestamp !== undefined) out.timestamp = properties.timestamp;
  if (properties.type !== undefined) out.type = properties.type;
  if (properties.userId !== undefined) out.userId = properties.userId;
  if (properties.appId !== undefined) out.appId = properties.appId;
  if (properties.clusterId !== undefined) out.clusterId = properties.clusterId;
  return out;
}

const PROPERTY_NAMES = [
  "contentType",
  "contentEncoding",
  "deliveryMode",
  "priority",
  "correlationId",
  "replyTo",
  "expiration",
  "messageId",
  "timestamp",
  "type",
  "userId",
  "appId",
  "clusterId",
] as const;

/**
 * Message properties from amqplib's decoded properties (absent ones left out).
 *
 * @param raw amqplib's `message.properties`
 * @returns wakame's {@link MessageProperties}
 */
export function readProperties(raw: Record<string, unknown>): MessageProperties {
  const out: Record<string, unknown> = {};
  for (const name of PROPERTY_NAMES) {
    const value = raw[name];
    if (value !== undefined && value !== null) out[name] = value;
  }
  const headers = raw.headers;
  if (headers !== undefined && headers !== null) {
    out.headers = decodeTable(headers as Record<string, unknown>);
  }
  return out as MessageProperties;
}

/**
 * A {@link Delivery} from an amqplib message (`consume` or `get`).
 *
 * @param message the amqplib message
 * @returns the delivery
 */
export function toDelivery(message: AmqplibMessage): Delivery {
  const { fields } = message;
  const delivery: Delivery = {
    body: toBytes(message.content),
    properties: readProperties(message.properties),
    deliveryTag: fields.deliveryTag,
    exchange: fields.exchange,
    routingKey: fields.routingKey,
    redelivered: fields.redelivered ?? false,
  };
  if (fields.consumerTag !== undefined) delivery.consumerTag = fields.consumerTag;
  if (fields.messageCount !== undefined) delivery.messageCount = fields.messageCount;
  return delivery;
}

/**
 * A {@link ReturnedMessage} from amqplib's `return` event.
 *
 * @param message the returned amqplib message
 * @returns the returned message
 */
export function toReturned(message: AmqplibMessage): ReturnedMessage {
  return {
    replyCode: message.fields.replyCode ?? 0,
    replyText: message.fields.replyText ?? "",
    exchange: message.fields.exchange,
    routingKey: message.fields.routingKey,
    body: toBytes(message.content),
    properties: readProperties(message.properties),
  };
}

/** Fields amqplib puts on the errors of a server close. */
interface AmqpErrorFields {
  code?: unknown;
  classId?: unknown;
  methodId?: unknown;
}

/**
 * The AMQP reply text of an amqplib error, without amqplib's prefixes.
 *
 * @param error amqplib's error
 * @returns the broker's reply text, or the error's message
 */
export function replyText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const match = /\d{3} \((?:[A-Z_-]+)\) with message "(.*)"$/s.exec(message);
  return match === null ? message : match[1];
}

/** AMQP reply codes that close the whole connection, not just a channel. */
/** AMQP 540 NOT_IMPLEMENTED: what RabbitMQ would answer, said before sending. */
export const NOT_IMPLEMENTED = 540;

const CONNECTION_CODES = new Set([320, 402, 501, 502, 503, 504, 505, 506, 530, 540, 541]);

/**
 * Translates an amqplib channel failure into wakame's error classes.
 *
 * @param action what was being done, such as `Cannot declare queue "video"`
 * @param error amqplib's error (with `code`, `classId`, `methodId` on a server close)
 * @param connectionGone whether the connection is known to be closed
 * @returns a {@link ChannelError} subclass for a server refusal, a {@link ConnectionError} when
 *   the connection is gone
 */
export function translateError(
  action: string,
  error: unknown,
  connectionGone: boolean,
): ChannelError | ConnectionError {
  if (error instanceof ChannelError || error instanceof ConnectionError) return error;
  const fields = (typeof error === "object" && error !== null ? error : {}) as AmqpErrorFields;
  const code = typeof fields.code === "number" ? fields.code : undefined;
  if (connectionGone || (code !== undefined && CONNECTION_CODES.has(code))) {
    return new ConnectionError(`${action}: ${replyText(error)}`, {
      cause: error,
      ...(code === undefined ? {} : { replyCode: code }),
    });
  }
  return channelErrorFor(`${action}: ${replyText(error)}`, {
    cause: error,
    replyCode: code ?? 0,
    classId: typeof fields.classId === "number" ? fields.classId : 0,
    methodId: typeof fields.methodId === "number" ? fields.methodId : 0,
  });
}
