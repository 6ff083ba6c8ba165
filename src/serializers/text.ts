/**
 * The `text` (`text/plain`) and `raw` (`application/data`) serializers.
 *
 * @module
 */

import { type Body, decodeUtf8Strict } from "../body.ts";
import { EncodeError } from "../errors.ts";
import { decodeCharset } from "./charset.ts";
import type { Encoded, Serializer } from "./types.ts";

/** Plain text (`text/plain`, `utf-8`): encodes strings only. */
export const textSerializer: Serializer = {
  name: "text",
  contentType: "text/plain",
  contentEncoding: "utf-8",
  encode(value: unknown): string {
    if (typeof value !== "string") {
      throw new EncodeError(`Cannot serialize a ${typeof value} as text: only strings`);
    }
    return value;
  },
  decode(body: Uint8Array): unknown {
    return decodeUtf8Strict(body);
  },
  decodeText(text: string): unknown {
    return text;
  },
  decodeWithEncoding(body: Uint8Array, contentEncoding: string | undefined): unknown {
    return decodeCharset(body, contentEncoding || "utf-8");
  },
};

/**
 * Raw bytes (`application/data`): a `Uint8Array` goes as it is (`binary`), a string as UTF-8
 * (`utf-8`), like Kombu's `raw_encode`. Decoding gives a string for a text charset, else bytes.
 */
export const rawSerializer: Serializer = {
  name: "raw",
  contentType: "application/data",
  contentEncoding: "binary",
  encode(value: unknown): Body {
    return rawSerializer.encodeWithType!(value).body;
  },
  encodeWithType(value: unknown): Encoded {
    if (value instanceof Uint8Array) {
      return { body: value, contentType: "application/data", contentEncoding: "binary" };
    }
    if (typeof value === "string") {
      return { body: value, contentType: "application/data", contentEncoding: "utf-8" };
    }
    throw new EncodeError(
      `Cannot serialize a ${typeof value} as raw data: only Uint8Array or string`,
    );
  },
  decode(body: Uint8Array): unknown {
    return body;
  },
  decodeWithEncoding(body: Uint8Array, contentEncoding: string | undefined): unknown {
    return decodeCharset(body, contentEncoding);
  },
};
