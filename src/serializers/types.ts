/**
 * The shape of a serializer and of what it produces (Kombu's registry entries). Imported by the
 * registry and by every codec, so that none of them imports another to know the shape.
 *
 * @module
 */

import type { Body } from "../body.ts";

/**
 * A way to turn values into bytes and back (one entry of Kombu's serializer registry). Text
 * serializers may return a string from `encode` (it stands for its UTF-8 bytes) and read one in
 * `decodeText`, so that in-process transports never round-trip through UTF-8.
 */
export interface Serializer {
  /** The name producers ask for (`json`, `msgpack`). */
  readonly name: string;
  /** The MIME type written to the `content-type` property. */
  readonly contentType: string;
  /** The charset written to `content-encoding` (`utf-8`, or `binary` for bytes). */
  readonly contentEncoding: string;
  /**
   * Serializes a value.
   *
   * @param value the value
   * @returns the bytes, or text standing for its UTF-8 bytes
   */
  encode(value: unknown): Body;
  /**
   * Deserializes bytes.
   *
   * @param body the bytes
   * @returns the value
   */
  decode(body: Uint8Array): unknown;
  /**
   * Optional: deserializes a body that arrived as text (a string standing for UTF-8 bytes, from
   * an in-process store or a text envelope) without encoding it to bytes first. Without it, the
   * registry encodes the text and calls {@link Serializer.decode}.
   */
  decodeText?(text: string): unknown;
  /**
   * Optional: serializes with a content type and encoding that depend on the value (`raw` sends
   * bytes as `binary` and strings as `utf-8`). Used by {@link SerializerRegistry.dumps} instead
   * of {@link Serializer.encode} when present.
   */
  encodeWithType?(value: unknown): Encoded;
  /**
   * Optional: deserializes with the charset the message declares (`text`, `raw`). Used by
   * {@link SerializerRegistry.loads} instead of {@link Serializer.decode} when present.
   */
  decodeWithEncoding?(body: Uint8Array, contentEncoding: string | undefined): unknown;
  /**
   * Optional, for serializers whose code loads on first use: false until {@link Serializer.load}
   * has resolved.
   */
  readonly ready?: boolean;
  /** Optional: loads the serializer's code (an optional npm package). */
  load?(): Promise<void>;
}

/** A serialized body with the properties that describe it. */
export interface Encoded {
  /** The serialized bytes, or text standing for its UTF-8 bytes. */
  body: Body;
  /** Value for the `content-type` property. */
  contentType: string;
  /** Value for the `content-encoding` property. */
  contentEncoding: string;
}
