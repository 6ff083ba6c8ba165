/**
 * Kombu's `bzip2` codec (`application/x-bz2`, aliases `bzip2` and `bzip`; Python's `bz2` module)
 * through the optional pure-JavaScript package `compressjs`, which runs on every runtime.
 * Blocks of 900 kB as Python's `bz2.compress` writes them; every block CRC and the stream CRC
 * are checked when decompressing.
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
      compress: (data) => plain(Bzip2.compressFile(data, undefined, 9)),
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
