/**
 * Kombu's `lzma` codec (`application/x-lzma`, aliases `lzma` and `xz`; Python's `lzma` module)
 * through the optional package `node-liblzma`, whose WebAssembly build of liblzma runs on every
 * runtime that has WebAssembly and can read the package's `.wasm` file (Deno: `--allow-read`;
 * not in a Worker bundle, which does not hold it: the error names the package). It writes the xz
 * container with a CRC64 check at preset 6, as `lzma.compress` does, and reads what
 * `lzma.decompress` reads: xz or the legacy `.lzma` format, checks verified.
 *
 * @module
 */

import type { Compressor } from "../compression.ts";
import { lazyCompressor } from "./lazy.ts";

interface LzmaStream {
  free(): void;
}
interface LiblzmaWasm {
  initModule(): Promise<unknown>;
  xzAsync(data: Uint8Array, options: { preset: number }): Promise<Uint8Array>;
  WasmLzmaStream: new (module: unknown) => LzmaStream;
  autoDecoderInit(stream: LzmaStream, memlimit?: number): void;
  processStream(stream: LzmaStream, input: Uint8Array): Uint8Array;
}

/** The most memory a decoder may take (liblzma's own default in node-liblzma). */
const MEMORY_LIMIT = 256 * 1024 * 1024;

/** The `lzma` codec; `node-liblzma` loads on its first use. */
export const lzmaCompressor: Compressor = lazyCompressor<LiblzmaWasm>({
  name: "lzma",
  contentType: "application/x-lzma",
  aliases: ["lzma", "xz"],
  package: {
    name: "node-liblzma",
    subpath: "wasm",
    range: "^5.1.3",
    feature: "the lzma (xz) compression",
  },
  async make(lib) {
    const module = await lib.initModule();
    return {
      compress: (data) => lib.xzAsync(data, { preset: 6 }),
      decompress(data) {
        // The streaming decoder: it grows its output as needed and reads xz or legacy .lzma
        // (liblzma's auto decoder, as Python's FORMAT_AUTO); a cut stream fails.
        const stream = new lib.WasmLzmaStream(module);
        try {
          lib.autoDecoderInit(stream, MEMORY_LIMIT);
        } catch (error) {
          stream.free();
          throw error;
        }
        return lib.processStream(stream, data); // frees the stream
      },
    };
  },
});
