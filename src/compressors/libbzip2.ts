/**
 * libbzip2 1.0.8, compiled to WebAssembly by the npm package `bzip2-wasm`, instantiated here
 * with a few lines of our own in place of the package's Emscripten loader. That loader sets
 * `globalThis.require` and `globalThis.__dirname` and adds `uncaughtException` and
 * `unhandledRejection` listeners to `process` that rethrow (so an application whose own
 * `uncaughtException` listener keeps it alive would crash); the module itself needs only six
 * small imports (copy memory, grow memory, and `exit`/`fd_*` for libbzip2's internal-error
 * message), all given below.
 *
 * @module
 */

import { importHidden, resolveHidden } from "../_import.ts";

/** The module file inside the package. */
const WASM_PATH = "bzip2-1.0.8/bzip2.wasm";

/** libbzip2's return codes, by name, for messages. */
const CODES: Record<number, string> = {
  [-2]: "BZ_PARAM_ERROR",
  [-3]: "BZ_MEM_ERROR",
  [-4]: "BZ_DATA_ERROR: the data is corrupt (a block or stream CRC does not match)",
  [-5]: "BZ_DATA_ERROR_MAGIC: not a bzip2 stream",
  [-7]: "BZ_UNEXPECTED_EOF: truncated (bzip2 stream cut short)",
  [-9]: "BZ_CONFIG_ERROR",
};

/** libbzip2's code for an output buffer too small. */
export const BZ_OUTBUFF_FULL = -8;

/** The functions of the module's exports that this file calls. */
interface Exports {
  readonly memory: WebAssembly.Memory;
  __wasm_call_ctors(): void;
  emscripten_stack_init(): void;
  malloc(size: number): number;
  free(pointer: number): void;
  BZ2_bzBuffToBuffCompress(
    dest: number,
    destLength: number,
    source: number,
    sourceLength: number,
    blockSize100k: number,
    verbosity: number,
    workFactor: number,
  ): number;
  BZ2_bzBuffToBuffDecompress(
    dest: number,
    destLength: number,
    source: number,
    sourceLength: number,
    small: number,
    verbosity: number,
  ): number;
}

/** libbzip2's one-shot functions over byte arrays. */
export interface LibBzip2 {
  /**
   * Compresses into one bzip2 stream.
   *
   * @param data the bytes
   * @param level the block size in 100 kB, 1 to 9
   * @returns the stream
   */
  compress(data: Uint8Array, level: number): Uint8Array;
  /**
   * Decompresses the first bzip2 stream of the data (libbzip2 ignores what follows it).
   *
   * @param data the stream
   * @param capacity the most bytes to write
   * @returns the bytes, or {@link BZ_OUTBUFF_FULL} when they do not fit in `capacity`
   */
  decompress(data: Uint8Array, capacity: number): Uint8Array | typeof BZ_OUTBUFF_FULL;
}

/**
 * Finds `bzip2-wasm`'s module file: where the runtime resolves the package (Node, Bun, Deno
 * with an import map or `node_modules`), or Deno's npm cache once `npm:bzip2-wasm` is loaded.
 *
 * @param range the package's semver range, for Deno's `npm:` specifier
 * @returns the file's URL
 */
export function wasmUrl(range: string): URL {
  for (const specifier of [`bzip2-wasm/${WASM_PATH}`, `npm:bzip2-wasm@${range}/${WASM_PATH}`]) {
    try {
      const url = resolveHidden(specifier);
      if (/^(file|https?):/.test(url)) return new URL(url);
    } catch {
      // not resolvable this way: the next one
    }
  }
  throw new Error(`cannot find ${WASM_PATH} of the package bzip2-wasm`);
}

/**
 * Reads and instantiates the module.
 *
 * @param url where the module file is (from {@link wasmUrl})
 * @returns libbzip2
 */
export async function loadLibBzip2(url: URL): Promise<LibBzip2> {
  const bytes = url.protocol === "file:"
    ? await (await importHidden<{ readFile(path: URL): Promise<Uint8Array> }>("node:fs/promises"))
      .readFile(url)
    : new Uint8Array(await (await fetch(url)).arrayBuffer());
  // The imports run only once `lib` below is set.
  const heap = () => new Uint8Array(lib.memory.buffer);
  let message = ""; // libbzip2's internal-error text, written to stderr before exit(3)
  const imports = {
    env: {
      emscripten_memcpy_big(dest: number, source: number, length: number): void {
        heap().copyWithin(dest, source, source + length);
      },
      emscripten_resize_heap(requested: number): number {
        const have = lib.memory.buffer.byteLength;
        const want = Math.min(2 ** 31, Math.max(requested >>> 0, Math.ceil(have * 1.2)));
        try {
          lib.memory.grow(Math.ceil((want - have) / 65536));
          return 1;
        } catch {
          return 0; // malloc returns NULL: libbzip2 says BZ_MEM_ERROR
        }
      },
      exit(code: number): never {
        throw new Error(`libbzip2 stopped (exit ${code}): ${message.trim()}`);
      },
    },
    wasi_snapshot_preview1: {
      fd_write(_fd: number, iov: number, count: number, written: number): number {
        const view = new DataView(lib.memory.buffer);
        let total = 0;
        for (let i = 0; i < count; i++) {
          const pointer = view.getUint32(iov + 8 * i, true);
          const length = view.getUint32(iov + 8 * i + 4, true);
          message += new TextDecoder().decode(heap().subarray(pointer, pointer + length));
          total += length;
        }
        view.setUint32(written, total, true);
        return 0;
      },
      fd_seek: (): number => 70, // ESPIPE: no files here
      fd_close: (): number => 0,
    },
  };
  const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  const instance = await WebAssembly.instantiate(module, imports);
  const lib = instance.exports as unknown as Exports;
  lib.emscripten_stack_init();
  lib.__wasm_call_ctors();

  /** Runs one libbzip2 call with the input and an output buffer in the module's memory. */
  function run(
    input: Uint8Array,
    capacity: number,
    call: (dest: number, destLength: number, source: number) => number,
  ): Uint8Array | number {
    const source = lib.malloc(Math.max(1, input.length));
    const dest = lib.malloc(Math.max(1, capacity));
    const destLength = lib.malloc(4);
    try {
      if (source === 0 || dest === 0 || destLength === 0) {
        throw new RangeError(`libbzip2: out of memory for ${capacity} bytes`);
      }
      heap().set(input, source);
      new DataView(lib.memory.buffer).setUint32(destLength, capacity, true);
      const code = call(dest, destLength, source);
      if (code !== 0) return code;
      const length = new DataView(lib.memory.buffer).getUint32(destLength, true);
      return heap().slice(dest, dest + length);
    } finally {
      lib.free(destLength);
      lib.free(dest);
      lib.free(source);
    }
  }

  const fail = (code: number): never => {
    throw new Error(`libbzip2: ${CODES[code] ?? `error ${code}`}`);
  };

  return {
    compress(data, level) {
      // libbzip2's bound for the output: 1 % more than the input, plus 600 bytes.
      const capacity = data.length + Math.ceil(data.length / 100) + 600;
      const out = run(
        data,
        capacity,
        (dest, destLength, source) =>
          lib.BZ2_bzBuffToBuffCompress(dest, destLength, source, data.length, level, 0, 30),
      );
      return typeof out === "number" ? fail(out) : out;
    },
    decompress(data, capacity) {
      const out = run(
        data,
        capacity,
        (dest, destLength, source) =>
          lib.BZ2_bzBuffToBuffDecompress(dest, destLength, source, data.length, 0, 0),
      );
      if (out === BZ_OUTBUFF_FULL) return BZ_OUTBUFF_FULL;
      return typeof out === "number" ? fail(out) : out;
    },
  };
}
