/**
 * Charsets: reading a body in the `content-encoding` a message declares (Kombu's
 * `bytes_to_str` with `SKIP_DECODE`).
 *
 * @module
 */

import { type Body, bodyBytes, bodyText, decodeUtf8Strict } from "../body.ts";
import { DecodeError } from "../errors.ts";
import { errorText } from "./_error_text.ts";

/** Charsets that mean "these are bytes, do not decode" (Kombu's `SKIP_DECODE`). */
const BINARY_CHARSETS: ReadonlySet<string> = new Set(["binary", "ascii-8bit"]);

/**
 * Decodes bytes as text in `charset`, or returns them as they are when the charset is absent or
 * binary.
 *
 * @param body the bytes (a string stands for its UTF-8 bytes)
 * @param charset the declared `content-encoding`
 * @returns a string, or the bytes themselves
 * @throws {DecodeError} when the charset is unknown or the bytes are not valid in it
 */
export function decodeCharset(body: Body, charset: string | undefined): string | Uint8Array {
  if (charset === undefined || charset === "") return bodyBytes(body);
  const label = charset.trim().toLowerCase();
  if (BINARY_CHARSETS.has(label)) return bodyBytes(body);
  if (label === "utf-8" || label === "utf8") {
    // A lone surrogate in text reads as U+FFFD, as its UTF-8 bytes do.
    return typeof body === "string" ? bodyText(body) : decodeUtf8Strict(body);
  }
  body = bodyBytes(body);
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label, { fatal: true });
  } catch (cause) {
    throw new DecodeError(`Cannot decode body: unknown content encoding "${charset}"`, { cause });
  }
  try {
    return decoder.decode(body);
  } catch (cause) {
    throw new DecodeError(`Cannot decode body as "${charset}": ${errorText(cause)}`, { cause });
  }
}

/** True for the charsets a text body may be read in as it is (absent means UTF-8 for text). */
export function isUtf8Label(charset: string | undefined): boolean {
  if (charset === undefined || charset === "" || charset === "utf-8") return true;
  const label = charset.trim().toLowerCase();
  return label === "utf-8" || label === "utf8";
}
