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

/** Python's names for UTF-8 (`codecs.lookup`), after {@link normalize}. */
const UTF8_NAMES: ReadonlySet<string> = new Set(["utf-8", "utf8", "u8", "utf", "cp65001"]);
/** Python's names for Latin-1: each byte is the code point (not WHATWG's windows-1252). */
const LATIN1_NAMES: ReadonlySet<string> = new Set([
  "latin-1",
  "latin1",
  "latin",
  "l1",
  "iso-8859-1",
  "iso8859-1",
  "8859",
  "cp819",
  "iso-ir-100",
]);
/** Python's names for 7-bit ASCII (strict: a byte above 127 fails, as in Python). */
const ASCII_NAMES: ReadonlySet<string> = new Set(["ascii", "us-ascii", "646", "us"]);
/** Python's spellings that WHATWG's labels lack. */
const WHATWG_LABELS: Readonly<Record<string, string>> = {
  "utf-16-le": "utf-16le",
  "utf-16-be": "utf-16be",
  "utf16": "utf-16",
  "u16": "utf-16",
};

/** Python's normalization of a codec name: case and `_` / space versus `-` do not matter. */
function normalize(charset: string): string {
  return charset.trim().toLowerCase().replace(/[_\s]+/g, "-");
}

function decodeLatin1(body: Uint8Array): string {
  let text = "";
  for (let i = 0; i < body.length; i += 8192) {
    text += String.fromCharCode(...body.subarray(i, i + 8192));
  }
  return text;
}

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
  const label = normalize(charset);
  if (BINARY_CHARSETS.has(label)) return bodyBytes(body);
  if (UTF8_NAMES.has(label)) {
    // A lone surrogate in text reads as U+FFFD, as its UTF-8 bytes do.
    return typeof body === "string" ? bodyText(body) : decodeUtf8Strict(body);
  }
  body = bodyBytes(body);
  if (LATIN1_NAMES.has(label)) return decodeLatin1(body);
  if (ASCII_NAMES.has(label)) {
    const bad = body.findIndex((b) => b > 127);
    if (bad >= 0) {
      throw new DecodeError(
        `Cannot decode body as "${charset}": byte 0x${
          body[bad].toString(16)
        } at ${bad} is not ASCII`,
      );
    }
    return decodeLatin1(body);
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(WHATWG_LABELS[label] ?? label, { fatal: true });
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
  return UTF8_NAMES.has(normalize(charset));
}
