/**
 * Kombu's `bzip2` codec (`application/x-bz2`, aliases `bzip2` and `bzip`; Python's `bz2` module)
 * through the optional pure-JavaScript package `compressjs`, which runs on every runtime.
 * Bodies over 900 kB go in blocks of 900 kB as Python's `bz2.compress` writes them, smaller
 * ones in one block just large enough; every block CRC and the stream CRC are checked when
 * decompressing. Pure JavaScript is slow at compressing: roughly 170 kB/s and 10 ms or more
 * per body (Python's C library: about 7 MB/s); decompressing runs at about 5 MB/s.
 *
 * @module
 */

import type { Compressor } from "../compression.ts";
import { lazyCompressor } from "./lazy.ts";

interface CompressJs {
  Bzip2: {
    compressFile(input: Uint8Array, output?: undefined, blockSize?: number): Uint8Array;
    decompressFile(input: Uint8Array, output?: undefined, multistream?: boolean): Uint8Array;
  };
}

/** The `bzip2` codec; `compressjs` loads on its first use. */
export const bzip2Compressor: Compressor = lazyCompressor<CompressJs | { default: CompressJs }>({
  name: "bzip2",
  contentType: "application/x-bz2",
  aliases: ["bzip2", "bzip"],
  package: { name: "compressjs", range: "^1.0.3", feature: "the bzip2 compression" },
  make(module) {
    const { Bzip2 } = "default" in module ? module.default : module;
    return {
      // The smallest block size (100 kB steps, up to Python's 900 kB) that holds the body in as
      // few blocks as level 9 would: the same output, and a reader (ours, Python's) allocates
      // for the block size the header declares (ours: a 1 kB body decodes 3 times faster).
      compress: (data) => plain(Bzip2.compressFile(data, undefined, blockLevel(data.length))),
      decompress(data) {
        // compressjs stops without an error where a cut stream ends between two blocks, so the
        // end-of-stream marker must be there (as Python's bz2 insists).
        if (!endsWithStreamEnd(data)) {
          throw new Error("truncated: no end-of-stream marker (bzip2 stream cut short)");
        }
        // Python's bz2.decompress reads concatenated streams: so does this.
        return plain(Bzip2.decompressFile(data, undefined, true));
      },
    };
  },
});

/**
 * The bzip2 level (block size in 100 kB) for a body: level 9 (Python's) for bodies of more than
 * one 900 kB block, else the smallest block that holds it whole (compressjs keeps 19 bytes of
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

/** compressjs returns a Uint8Array or, on old runtimes, a plain array. */
function plain(out: Uint8Array | number[]): Uint8Array {
  return out instanceof Uint8Array ? out : Uint8Array.from(out);
}
