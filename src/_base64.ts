/**
 * Base64 (RFC 4648, standard alphabet, padded) for every runtime.
 *
 * Uses `Uint8Array.prototype.toBase64` / `Uint8Array.fromBase64` where the runtime has them and
 * falls back to `btoa` / `atob` over chunks elsewhere. Kombu's virtual transports put message
 * bodies in envelopes as base64; SQS adds a second layer.
 *
 * @module
 */

import { DecodeError } from "./errors.ts";

interface Base64Native {
  toBase64?: (this: Uint8Array) => string;
}
interface Base64NativeStatic {
  fromBase64?: (text: string, options?: { lastChunkHandling?: string }) => Uint8Array;
}

const nativeTo = (Uint8Array.prototype as Base64Native).toBase64;
const nativeFrom = (Uint8Array as unknown as Base64NativeStatic).fromBase64;

/** Bytes per `String.fromCharCode` call: a multiple of 3 so chunks need no padding inside. */
const CHUNK = 3 * 8192;

/**
 * Encodes bytes as standard, padded base64 (Python's `base64.b64encode`).
 *
 * @param bytes the bytes to encode
 * @returns the base64 text
 */
export function encodeBase64(bytes: Uint8Array): string {
  if (nativeTo !== undefined) return nativeTo.call(bytes);
  let out = "";
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const chunk = bytes.subarray(start, Math.min(start + CHUNK, bytes.length));
    out += btoa(String.fromCharCode.apply(null, chunk as unknown as number[]));
  }
  return out;
}

/**
 * Decodes standard base64. ASCII whitespace is skipped and missing padding is tolerated (as
 * `atob` and `Uint8Array.fromBase64` do); any other character outside the alphabet is an error.
 *
 * @param text base64 text
 * @returns the decoded bytes
 * @throws {DecodeError} when `text` is not base64
 */
export function decodeBase64(text: string): Uint8Array {
  if (nativeFrom !== undefined) {
    try {
      return nativeFrom(text);
    } catch (cause) {
      throw new DecodeError(`Cannot decode base64 text: ${describe(text)}`, { cause });
    }
  }
  let binary: string;
  try {
    binary = atob(text);
  } catch (cause) {
    throw new DecodeError(`Cannot decode base64 text: ${describe(text)}`, { cause });
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Tells whether `text` is canonical, padded base64 (only the alphabet, `=` padding, length a
 * multiple of 4). Used where a transport must guess whether a payload is base64 at all (SQS).
 *
 * @param text the text to test
 * @returns true when `text` is canonical padded base64
 */
export function isBase64(text: string): boolean {
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}

function describe(text: string): string {
  return text.length > 40 ? `"${text.slice(0, 40)}..." (${text.length} characters)` : `"${text}"`;
}
