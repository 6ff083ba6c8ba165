/**
 * The work of the `bzip2` codec, loaded on its first use (so that an edge bundle, which has no
 * file system for the WebAssembly module, does not carry it): block sizes as Python writes
 * them, and concatenated streams as Python reads them.
 *
 * @module
 */

import type { CompressorCodec } from "./lazy.ts";
import { BZ_OUTBUFF_FULL, type LibBzip2, loadLibBzip2, wasmUrl } from "./libbzip2.ts";

/**
 * Loads libbzip2 from the package `bzip2-wasm` and makes the codec.
 *
 * @param range the package's semver range, for Deno's `npm:` specifier
 * @returns compress and decompress
 */
export async function makeBzip2Codec(range: string): Promise<CompressorCodec> {
  const lib = await loadLibBzip2(wasmUrl(range));
  return {
    // The smallest block size (100 kB steps, up to Python's 900 kB) that holds the body in as
    // few blocks as level 9 would: the same output, and a reader (ours, Python's) allocates
    // for the block size the header declares.
    compress: (data) => lib.compress(data, blockLevel(data.length)),
    decompress: (data) => decompressStreams(lib, data),
  };
}

/**
 * Decompresses one or more concatenated bzip2 streams, as Python's `bz2.decompress` reads
 * them; the data must end with an end-of-stream marker (as Python insists).
 *
 * @param lib libbzip2
 * @param data the body
 * @returns the bytes of every stream, in order
 */
export function decompressStreams(lib: LibBzip2, data: Uint8Array): Uint8Array {
  if (!endsWithStreamEnd(data)) {
    throw new Error("truncated: no end-of-stream marker (bzip2 stream cut short)");
  }
  // libbzip2's one-shot call reads one stream and ignores what follows, so the body is cut
  // where a stream ends (a marker, then a stream header at a byte boundary). The first cut
  // whose prefix decompresses is the real end of the first stream: a false match inside
  // compressed data cuts a stream short, and libbzip2 refuses that prefix.
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const end of streamStarts(data)) {
    if (end <= start) continue;
    try {
      parts.push(decompressStream(lib, data.subarray(start, end)));
      start = end;
    } catch {
      // not the end of this stream
    }
  }
  parts.push(decompressStream(lib, data.subarray(start)));
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Decompresses one stream, growing the output buffer until the bytes fit. */
function decompressStream(lib: LibBzip2, stream: Uint8Array): Uint8Array {
  for (let capacity = Math.max(64 * 1024, 8 * stream.length);; capacity *= 4) {
    const out = lib.decompress(stream, capacity);
    if (out !== BZ_OUTBUFF_FULL) return out;
  }
}

/** The first 6 bytes of a block header and of an end-of-stream marker, after "BZh1".."BZh9". */
const BLOCK_MAGIC = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
const END_MAGIC = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];

/**
 * Where a second or later stream may start: a stream header ("BZh" and a level, then a block
 * or an end-of-stream magic) right after an end-of-stream marker.
 *
 * @param data the body
 * @returns the offsets, ascending
 */
export function* streamStarts(data: Uint8Array): Generator<number> {
  for (let at = data.indexOf(0x42, 1); at !== -1; at = data.indexOf(0x42, at + 1)) {
    if (at + 10 > data.length || data[at + 1] !== 0x5a || data[at + 2] !== 0x68) continue;
    if (data[at + 3] < 0x31 || data[at + 3] > 0x39) continue;
    const magic = data.subarray(at + 4, at + 10);
    const is = (m: number[]) => m.every((byte, i) => magic[i] === byte);
    if ((is(BLOCK_MAGIC) || is(END_MAGIC)) && endsWithStreamEnd(data.subarray(0, at))) yield at;
  }
}

/**
 * The bzip2 level (block size in 100 kB) for a body: level 9 (Python's) for bodies of more than
 * one 900 kB block, else the smallest block that holds it whole (libbzip2 keeps 19 bytes of
 * each block spare).
 *
 * @param length the body's length in bytes
 * @returns 1 to 9
 */
export function blockLevel(length: number): number {
  return Math.min(9, Math.max(1, Math.ceil((length + 19) / 100_000)));
}

/** The 48-bit magic of a bzip2 end-of-stream marker (the digits of sqrt(pi)). */
const STREAM_END_MAGIC = 0x177245385090n;

/**
 * Whether the data ends with a bzip2 end-of-stream marker: the 48-bit magic and the 32-bit
 * stream CRC (which the decoder checks), then up to 7 zero bits of padding to the byte.
 *
 * @param data a bzip2 body
 * @returns true when its last bits are an end-of-stream marker
 */
export function endsWithStreamEnd(data: Uint8Array): boolean {
  if (data.length < 14) return false; // "BZh9" + the marker
  let tail = 0n; // the last 11 bytes, big-endian
  for (let i = data.length - 11; i < data.length; i++) tail = (tail << 8n) | BigInt(data[i]);
  for (let pad = 0n; pad < 8n; pad++) {
    if ((tail & ((1n << pad) - 1n)) !== 0n) break; // padding bits are zero
    if (((tail >> (pad + 32n)) & 0xffffffffffffn) === STREAM_END_MAGIC) return true;
  }
  return false;
}
