/**
 * Kombu's virtual message envelope: the JSON object every non-AMQP transport stores (Redis
 * lists, SQS bodies, Azure queue messages, filesystem files). This is the only place where
 * Kombu's snake_case property names live.
 *
 * ```
 * {"body": "<base64>", "content-encoding": "utf-8", "content-type": "application/json",
 *  "headers": {...},
 *  "properties": {"body_encoding": "base64", "delivery_tag": "<uuid4>",
 *                 "delivery_info": {"exchange": "...", "routing_key": "..."},
 *                 "priority": 0, "delivery_mode": 2, ...}}
 * ```
 *
 * Mirrors `Channel.prepare_message`, `Channel._inplace_augment_message` and `Message.__init__`
 * of `kombu/transport/virtual/base.py`.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./_base64.ts";
import { type Body, bodyBytes } from "./body.ts";
import { DecodeError, EncodeError } from "./errors.ts";
import { parseKombuJson, tagBytes } from "./serialization.ts";
import type { FieldTable, MessageProperties } from "./transport.ts";
import type { StoredMessage } from "./virtual/backend.ts";

/** camelCase property <-> snake_case key inside `properties`, for the plain one-to-one ones. */
const STRING_PROPERTIES = [
  ["correlationId", "correlation_id"],
  ["replyTo", "reply_to"],
  ["expiration", "expiration"],
  ["messageId", "message_id"],
  ["type", "type"],
  ["userId", "user_id"],
  ["appId", "app_id"],
  ["clusterId", "cluster_id"],
] as const;

const NUMBER_PROPERTIES = [
  ["deliveryMode", "delivery_mode"],
  ["priority", "priority"],
  ["timestamp", "timestamp"],
] as const;

/** Keys of `properties` this module maps itself; any other key is kept as an extra. */
const KNOWN_PROPERTY_KEYS: ReadonlySet<string> = new Set([
  ...STRING_PROPERTIES.map(([, wire]) => wire),
  ...NUMBER_PROPERTIES.map(([, wire]) => wire),
  "body_encoding",
  "delivery_tag",
  "delivery_info",
]);
const KNOWN_TOP_KEYS: ReadonlySet<string> = new Set([
  "body",
  "content-type",
  "content-encoding",
  "headers",
  "properties",
  "redelivered",
]);
const KNOWN_DELIVERY_INFO_KEYS: ReadonlySet<string> = new Set([
  "exchange",
  "routing_key",
  "redelivered",
]);

/** Sets an own property, even one named `__proto__` (which `=` would turn into a prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    !(value instanceof Uint8Array) && !(value instanceof Date);
}

/**
 * Builds the envelope object of a message (before JSON): Kombu's layout with the body in base64.
 * Extra envelope keys the message was read with ({@link StoredMessage.envelopeExtras}) come
 * back; the fields wakame models win over them.
 *
 * @param message the stored message
 * @returns the envelope as a plain object, snake_case inside `properties`
 */
export function envelopeToObject(message: StoredMessage): Record<string, unknown> {
  const p = message.properties;
  const extras = message.envelopeExtras;
  const extraProps = isPlainObject(extras?.properties) ? extras.properties : undefined;
  const extraInfo = isPlainObject(extraProps?.delivery_info) ? extraProps.delivery_info : undefined;

  const properties: Record<string, unknown> = {};
  if (extraProps !== undefined) {
    for (const key of Object.keys(extraProps)) {
      if (!KNOWN_PROPERTY_KEYS.has(key)) setOwn(properties, key, extraProps[key]);
    }
  }
  for (const [camel, wire] of STRING_PROPERTIES) {
    const value = p[camel];
    if (value !== undefined) properties[wire] = value;
  }
  for (const [camel, wire] of NUMBER_PROPERTIES) {
    const value = p[camel];
    if (value !== undefined) properties[wire] = value;
  }
  const deliveryInfo: Record<string, unknown> = {};
  if (extraInfo !== undefined) {
    for (const key of Object.keys(extraInfo)) {
      if (!KNOWN_DELIVERY_INFO_KEYS.has(key)) setOwn(deliveryInfo, key, extraInfo[key]);
    }
  }
  deliveryInfo.exchange = message.exchange;
  deliveryInfo.routing_key = message.routingKey;
  properties.delivery_info = deliveryInfo;
  properties.body_encoding = "base64";
  properties.delivery_tag = message.tag;

  const envelope: Record<string, unknown> = {
    body: encodeBase64(bodyBytes(message.body)),
    "content-encoding": p.contentEncoding ?? null,
    "content-type": p.contentType ?? null,
    headers: p.headers ?? {},
    properties,
  };
  if (extras !== undefined) {
    for (const key of Object.keys(extras)) {
      if (!KNOWN_TOP_KEYS.has(key)) setOwn(envelope, key, extras[key]);
    }
  }
  if (message.redelivered) envelope.redelivered = true;
  return envelope;
}

/**
 * Marks an envelope redelivered the way Kombu's Redis transport does: `headers.redelivered` and
 * `properties.delivery_info.redelivered` (a generic restore sets the top-level `redelivered`
 * instead, which {@link envelopeToObject} writes). Works on an envelope read from the store as
 * it is (Redis's visibility sweep restores raw `unacked` entries).
 *
 * @param envelope the envelope object (changed in place; nested objects are copied)
 * @returns the same object
 */
export function markRedeliveredInHeaders(
  envelope: Record<string, unknown>,
): Record<string, unknown> {
  const headers = isPlainObject(envelope.headers) ? { ...envelope.headers } : {};
  headers.redelivered = true;
  envelope.headers = headers;
  if (isPlainObject(envelope.properties)) {
    const properties = { ...envelope.properties };
    const info = isPlainObject(properties.delivery_info) ? { ...properties.delivery_info } : {};
    info.redelivered = true;
    properties.delivery_info = info;
    envelope.properties = properties;
  }
  return envelope;
}

/**
 * Serializes a message as Kombu's envelope JSON text, formatted like Python's `json.dumps`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeEnvelope, encodeEnvelope } from "@wakame/wakame";
 * const text = encodeEnvelope({
 *   body: new TextEncoder().encode('{"x": 1}'),
 *   properties: { contentType: "application/json", contentEncoding: "utf-8", priority: 0 },
 *   exchange: "media",
 *   routingKey: "video",
 *   tag: "5c9d3f9e-8d0a-4a8e-9d9b-3a1f1f1f1f1f",
 *   redelivered: false,
 * });
 * // {"body": "eyJ4IjogMX0=", "content-encoding": "utf-8", ... "properties": {"priority": 0, ...}}
 * assert.equal(decodeEnvelope(text).routingKey, "video");
 * ```
 *
 * @param message the stored message
 * @param mark how a redelivered message says so: `top` (the top-level `redelivered` of Kombu's
 *   generic restore, the default) or `headers` (Kombu's Redis transport)
 * @returns the JSON text
 * @throws {EncodeError} when a header cannot be written as JSON
 */
export function encodeEnvelope(
  message: StoredMessage,
  mark: "top" | "headers" = "top",
): string {
  if (mark === "top" || !message.redelivered) return pythonJsonDumps(envelopeToObject(message));
  return pythonJsonDumps(
    markRedeliveredInHeaders(envelopeToObject({ ...message, redelivered: false })),
  );
}

/**
 * Parses Kombu envelope JSON text (written by Python Kombu or by {@link encodeEnvelope}).
 * Kombu 5.3 tagged types inside headers are decoded.
 *
 * @param text the JSON text
 * @returns the message
 * @throws {DecodeError} when the text is not JSON or not a Kombu envelope
 */
export function decodeEnvelope(text: string): StoredMessage {
  return envelopeFromObject(parseKombuJson(text));
}

function fail(reason: string): never {
  throw new DecodeError(`Cannot decode Kombu envelope: ${reason}`);
}

function optionalString(
  o: Record<string, unknown>,
  key: string,
  where: string,
): string | undefined {
  const value = o[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") fail(`${where}"${key}" is a ${typeof value}, not a string`);
  return value;
}

/**
 * Turns a parsed envelope into a message. Accepts both body encodings Kombu writes (`base64`,
 * and raw text when `body_encoding` is absent, empty or `utf-8`) and every redelivery mark:
 * the top-level `redelivered` of a generic restore and the `headers.redelivered` /
 * `properties.delivery_info.redelivered` of the Redis transport.
 *
 * @param o the parsed JSON value
 * @returns the message
 * @throws {DecodeError} when `o` is not a Kombu envelope
 */
export function envelopeFromObject(o: unknown): StoredMessage {
  if (!isPlainObject(o)) fail("not a JSON object");
  const props = o.properties;
  if (!isPlainObject(props)) fail('"properties" is missing or not an object');

  const tagValue = props.delivery_tag;
  let tag: string;
  if (typeof tagValue === "string") tag = tagValue;
  else if (typeof tagValue === "number" && Number.isFinite(tagValue)) tag = String(tagValue);
  else fail('"properties.delivery_tag" is missing or not a string');

  const bodyEncoding = optionalString(props, "body_encoding", "properties.");
  const rawBody = o.body;
  let body: Body;
  if (rawBody === undefined || rawBody === null || rawBody === "") {
    body = new Uint8Array(0);
  } else if (typeof rawBody !== "string") {
    fail(`"body" is a ${typeof rawBody}, not a string`);
  } else if (bodyEncoding === "base64") {
    body = decodeBase64(rawBody);
  } else if (bodyEncoding === undefined || bodyEncoding === "" || bodyEncoding === "utf-8") {
    // Text stays text: it is the UTF-8 body, and a text serializer reads it as it is.
    body = rawBody;
  } else {
    fail(`unknown body_encoding "${bodyEncoding}"`);
  }

  const properties: MessageProperties = {};
  const contentType = optionalString(o, "content-type", "");
  if (contentType !== undefined) properties.contentType = contentType;
  const contentEncoding = optionalString(o, "content-encoding", "");
  if (contentEncoding !== undefined) properties.contentEncoding = contentEncoding;
  const headers = o.headers;
  if (headers !== undefined && headers !== null) {
    if (!isPlainObject(headers)) fail('"headers" is not an object');
    properties.headers = headers as FieldTable;
  }
  for (const [camel, wire] of STRING_PROPERTIES) {
    let value = props[wire];
    if (value === undefined || value === null) continue;
    // Kombu writes expiration as a string; tolerate a number from other producers.
    if (camel === "expiration" && typeof value === "number") value = String(value);
    if (typeof value !== "string") fail(`"properties.${wire}" is a ${typeof value}, not a string`);
    properties[camel] = value;
  }
  for (const [camel, wire] of NUMBER_PROPERTIES) {
    const value = props[wire];
    if (value === undefined || value === null) continue;
    if (typeof value !== "number") fail(`"properties.${wire}" is a ${typeof value}, not a number`);
    properties[camel] = value;
  }

  const info = props.delivery_info ?? {};
  if (!isPlainObject(info)) fail('"properties.delivery_info" is not an object');
  const exchange = optionalString(info, "exchange", "properties.delivery_info.") ?? "";
  const routingKey = optionalString(info, "routing_key", "properties.delivery_info.") ?? "";

  const redelivered = o.redelivered === true || info.redelivered === true ||
    (isPlainObject(headers) && headers.redelivered === true);

  const message: StoredMessage = { body, properties, exchange, routingKey, tag, redelivered };

  // Keep what wakame does not model, in the envelope's own layout, for a lossless rewrite.
  let extras: Record<string, unknown> | undefined;
  for (const key of Object.keys(o)) {
    if (!KNOWN_TOP_KEYS.has(key)) setOwn(extras ??= {}, key, o[key]);
  }
  let extraProps: Record<string, unknown> | undefined;
  for (const key of Object.keys(props)) {
    if (!KNOWN_PROPERTY_KEYS.has(key)) setOwn(extraProps ??= {}, key, props[key]);
  }
  let extraInfo: Record<string, unknown> | undefined;
  for (const key of Object.keys(info)) {
    if (!KNOWN_DELIVERY_INFO_KEYS.has(key)) setOwn(extraInfo ??= {}, key, info[key]);
  }
  if (extraInfo !== undefined) (extraProps ??= {}).delivery_info = extraInfo;
  if (extraProps !== undefined) (extras ??= {}).properties = extraProps;
  if (extras !== undefined) message.envelopeExtras = extras;
  return message;
}

// ---------------------------------------------------------------------------------------------
// Python's json.dumps

// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
// deno-lint-ignore no-control-regex
const ESCAPE_ALL = /["\\\u0000-\u001f\u007f-\uffff]/g;
const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

function escapeChar(ch: string): string {
  return SHORT_ESCAPES[ch] ?? "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0");
}

/**
 * Quotes a string like Python's `json.dumps` with `ensure_ascii=True`: everything outside
 * printable ASCII becomes a lowercase `\uXXXX` escape, one per UTF-16 unit (so surrogate pairs
 * become two escapes, as in Python).
 *
 * @param text the string
 * @returns the quoted JSON string
 */
export function pythonJsonString(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return `"${text}"`;
  return `"${text.replace(ESCAPE_ALL, escapeChar)}"`;
}

/**
 * Writes a finite number as Python would: integers as integers, other values as `repr(float)`
 * (the same shortest digits as JavaScript, but scientific below 1e-4 with a two-digit exponent,
 * `1e-05`, where JavaScript writes `0.00001`), and -0 as `-0.0`.
 */
function pythonNumber(value: number): string {
  if (Object.is(value, -0)) return "-0.0";
  const abs = Math.abs(value);
  if (abs !== 0 && abs < 1e-4) {
    return value.toExponential().replace(/e([+-])(\d)$/, (_, sign, digit) => `e${sign}0${digit}`);
  }
  return String(value);
}

function dumpValue(value: unknown, stack: unknown[]): string | undefined {
  switch (typeof value) {
    case "string":
      return pythonJsonString(value);
    case "number":
      if (!Number.isFinite(value)) {
        throw new EncodeError(`Cannot write ${value} as JSON: not a finite number`);
      }
      return pythonNumber(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return "null";
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw new EncodeError("Cannot write an invalid Date as JSON");
    }
    return pythonJsonString(value.toISOString());
  }
  if (value instanceof Uint8Array) return dumpValue(tagBytes(value), stack);
  if (stack.includes(value)) throw new EncodeError("Cannot write a circular structure as JSON");
  stack.push(value);
  let out: string;
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (const item of value) parts.push(dumpValue(item, stack) ?? "null");
    out = `[${parts.join(", ")}]`;
  } else {
    const parts: string[] = [];
    const o = value as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      const item = dumpValue(o[key], stack);
      if (item !== undefined) parts.push(`${pythonJsonString(key)}: ${item}`);
    }
    out = `{${parts.join(", ")}}`;
  }
  stack.pop();
  return out;
}

/**
 * Writes JSON text the way Python's `json.dumps` does with its defaults: separators `", "` and
 * `": "`, non-ASCII escaped (`ensure_ascii`), keys in insertion order. Unlike Python it refuses
 * `NaN` and the infinities (they are not JSON). A `Date` becomes its ISO string (what Kombu 5.2
 * writes), a `bigint` its digits, a `Uint8Array` a Kombu 5.3 tagged `bytes`/`base64` value;
 * `undefined` members are left out, as `JSON.stringify` does.
 *
 * @param value the value
 * @returns the JSON text
 * @throws {EncodeError} for non-finite numbers, invalid dates, cycles, or a top-level value with
 *   no JSON form
 */
export function pythonJsonDumps(value: unknown): string {
  const text = dumpValue(value, []);
  if (text === undefined) throw new EncodeError(`Cannot write a ${typeof value} as JSON`);
  return text;
}
