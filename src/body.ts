/**
 * Message bodies as they travel between the core and the transports.
 *
 * A serialized body is either bytes or a string that stands for its UTF-8 bytes. Text
 * serializers (JSON, text, YAML) produce strings, as Kombu's do; an in-process store keeps the
 * string as it is and the consumer parses it without a UTF-8 round trip, while a wire transport
 * encodes it once, straight into its frame or envelope.
 *
 * @module
 */

/** A serialized body: bytes, or a string that stands for its UTF-8 bytes. */
export type Body = Uint8Array | string;

import { DecodeError } from "./errors.ts";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const strictUtf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The bytes of a body (a string is encoded as UTF-8).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bodyBytes } from "@wakame/wakame";
 * assert.equal(bodyBytes("é").length, 2);
 * ```
 *
 * @param body bytes or text
 * @returns the bytes (the same array when `body` is bytes)
 */
export function bodyBytes(body: Body): Uint8Array {
  return typeof body === "string" ? utf8Encoder.encode(body) : body;
}

/**
 * The body as text, the same whether it travelled as text or as bytes: bytes decoded as UTF-8
 * (invalid sequences become U+FFFD), a string with any lone surrogate replaced by U+FFFD (what
 * its UTF-8 bytes hold). For strict decoding with an error, use the serializer registry.
 *
 * @param body bytes or text
 * @returns the text
 */
export function bodyText(body: Body): string {
  if (typeof body !== "string") return utf8Decoder.decode(body);
  return body.isWellFormed() ? body : body.toWellFormed();
}

/**
 * Decodes UTF-8 strictly.
 *
 * @param body the bytes
 * @returns the text
 * @throws {DecodeError} for invalid UTF-8
 */
export function decodeUtf8Strict(body: Uint8Array): string {
  try {
    return strictUtf8Decoder.decode(body);
  } catch (cause) {
    throw new DecodeError(`Cannot decode body as "utf-8": invalid UTF-8`, { cause });
  }
}

/**
 * A plain `Uint8Array` view of the same memory (no copy) when `bytes` is a subclass (Buffer).
 *
 * @param bytes the bytes
 * @returns `bytes` itself, or a plain view of its memory
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
