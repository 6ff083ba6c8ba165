/**
 * Turning a body into bytes and content headers (Kombu's `Producer._prepare`).
 *
 * @module
 */

import { EncodeError } from "../errors.ts";
import { type Encoded, serializers } from "../serialization.ts";

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
