/**
 * Compression codecs whose code lives in an optional npm package, loaded on first use (Kombu's
 * `bzip2` needs `bzip2-wasm`, `lzma` needs `node-liblzma`). Compression is asynchronous anyway,
 * so the first `compress` or `decompress` loads the package and later calls find it loaded; a
 * missing package fails that call with a `ConfigurationError` that names it and how to install it.
 *
 * @module
 */

import { importOptional, type OptionalPackage } from "../_import.ts";
import type { Compressor } from "../compression.ts";

/** The two functions a loaded package provides. */
export interface CompressorCodec {
  /** Compresses bytes. */
  compress(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Decompresses bytes; throws on truncated or corrupt data. */
  decompress(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** How to describe and build a lazily loaded {@link Compressor}. */
export interface LazyCompressorSpec<M> {
  /** Its short name (`bzip2`). */
  readonly name: string;
  /** The MIME type of the `compression` header (`application/x-bz2`). */
  readonly contentType: string;
  /** Other names that select it. */
  readonly aliases: readonly string[];
  /** The optional package to load. */
  readonly package: OptionalPackage;
  /** Builds the codec from the loaded package (may wait, e.g. for a WebAssembly module). */
  make(module: M): CompressorCodec | Promise<CompressorCodec>;
}

/**
 * Makes a codec that loads its optional package on first use.
 *
 * @param spec the codec's names, package and builder
 * @returns the codec, ready to register
 */
export function lazyCompressor<M>(spec: LazyCompressorSpec<M>): Compressor {
  let codec: CompressorCodec | undefined;
  let loading: Promise<CompressorCodec> | undefined;
  const load = (): CompressorCodec | Promise<CompressorCodec> => {
    if (codec !== undefined) return codec;
    loading ??= importOptional<M>(spec.package).then(spec.make).then(
      (made) => codec = made,
      (error) => {
        loading = undefined; // installed later: the next call tries again
        throw error;
      },
    );
    return loading;
  };
  return {
    name: spec.name,
    contentType: spec.contentType,
    aliases: spec.aliases,
    async compress(data: Uint8Array): Promise<Uint8Array> {
      return await (await load()).compress(data);
    },
    async decompress(data: Uint8Array): Promise<Uint8Array> {
      return await (await load()).decompress(data);
    },
  };
}
