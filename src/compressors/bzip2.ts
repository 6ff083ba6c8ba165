/**
 * Kombu's `bzip2` codec (`application/x-bz2`, aliases `bzip2` and `bzip`; Python's `bz2` module)
 * through the optional package `bzip2-wasm`: libbzip2 1.0.8 (the library Python's `bz2` uses)
 * compiled to WebAssembly, on Node, Bun and Deno. Bodies over 900 kB go in blocks of 900 kB as
 * Python's `bz2.compress` writes them, smaller ones in one block just large enough; libbzip2
 * checks every block CRC and the stream CRC when decompressing. A 256 kB JSON body compresses
 * at 12 to 19 MB/s and decompresses at 26 to 46 MB/s (the pure-JavaScript `compressjs` it
 * replaces compressed at 0.2 to 2.8 MB/s).
 *
 * @module
 */

import { importSibling } from "../_import.ts";
import type { Compressor } from "../compression.ts";
import { lazyCompressor } from "./lazy.ts";

const RANGE = "^1.0.1";

/** The `bzip2` codec; `bzip2-wasm` loads on its first use. */
export const bzip2Compressor: Compressor = lazyCompressor<unknown>({
  name: "bzip2",
  contentType: "application/x-bz2",
  aliases: ["bzip2", "bzip"],
  package: { name: "bzip2-wasm", range: RANGE, feature: "the bzip2 compression" },
  // The package's own loader is not used (see libbzip2.ts): importing the package only proves
  // it is there, and lets Deno's npm: specifier resolve to its files.
  async make() {
    const { makeBzip2Codec } = await importSibling<typeof import("./bzip2_streams.ts")>(
      "./bzip2_streams",
      import.meta.url,
    );
    return await makeBzip2Codec(RANGE);
  },
});
