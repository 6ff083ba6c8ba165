/**
 * Body compression (Kombu's `kombu.compression`).
 *
 * A compressed message carries the codec's MIME type in its `compression` header; the body is
 * compressed after serialization. Codecs and where they work:
 *
 * | name | header value | aliases | runtimes |
 * | --- | --- | --- | --- |
 * | `gzip` | `application/x-gzip` | gzip, zlib | all (Web `CompressionStream("deflate")`) |
 * | `brotli` | `application/x-brotli` | brotli | where `node:zlib` has brotli (Node, Deno, Bun) |
 * | `zstd` | `application/zstd` | zstd, zstandard | where `node:zlib` has zstd (Node >= 22.15, Deno, Bun) |
 * | `bzip2` | `application/x-bz2` | bzip2, bzip | none: no portable codec |
 * | `lzma` | `application/x-lzma` | lzma, xz | none: no portable codec |
 *
 * Kombu's `application/x-gzip` is the zlib format (RFC 1950), not gzip (RFC 1952).
 *
 * @module
 */

import { DecodeError, EncodeError } from "./errors.ts";

/** A compression codec (one entry of Kombu's compression registry). */
export interface Compressor {
  /** Its short name (`gzip`, `brotli`, `zstd`). */
  readonly name: string;
  /** The MIME type written to the `compression` header. */
  readonly contentType: string;
  /** Other names that select it (`zlib` for gzip, `xz` for lzma). */
  readonly aliases: readonly string[];
  /**
   * Compresses bytes.
   *
   * @param data the bytes
   * @returns the compressed bytes
   */
  compress(data: Uint8Array): Promise<Uint8Array>;
  /**
   * Decompresses bytes.
   *
   * @param data compressed bytes
   * @returns the original bytes
   */
  decompress(data: Uint8Array): Promise<Uint8Array>;
}

/** Codecs Kombu knows that this runtime may lack: named in the error when asked for. */
const KNOWN_CODECS: readonly { name: string; contentType: string; aliases: string[] }[] = [
  { name: "gzip", contentType: "application/x-gzip", aliases: ["gzip", "zlib"] },
  { name: "bzip2", contentType: "application/x-bz2", aliases: ["bzip2", "bzip"] },
  { name: "brotli", contentType: "application/x-brotli", aliases: ["brotli"] },
  { name: "lzma", contentType: "application/x-lzma", aliases: ["lzma", "xz"] },
  { name: "zstd", contentType: "application/zstd", aliases: ["zstd", "zstandard"] },
];

/** Registered codecs by content type. */
const byType = new Map<string, Compressor>();
/** Names and aliases to content types. */
const aliasToType = new Map<string, string>();

/**
 * Registers a codec (Kombu's `compression.register`), replacing one with the same content type.
 *
 * @param c the codec
 */
export function registerCompressor(c: Compressor): void {
  byType.set(c.contentType, c);
  aliasToType.set(c.name, c.contentType);
  for (const alias of c.aliases) aliasToType.set(alias, c.contentType);
}

function lookup(nameOrTypeOrAlias: string): Compressor | undefined {
  const key = nameOrTypeOrAlias.trim().toLowerCase();
  return byType.get(aliasToType.get(key) ?? key);
}

function missingReason(nameOrTypeOrAlias: string): string {
  const key = nameOrTypeOrAlias.trim().toLowerCase();
  const known = KNOWN_CODECS.find((k) =>
    k.name === key || k.contentType === key || k.aliases.includes(key)
  );
  return known === undefined
    ? "no such compression method is registered"
    : `no ${known.name} codec is available on this runtime`;
}

/**
 * Finds a codec by name, header value (MIME type) or alias.
 *
 * @param nameOrTypeOrAlias `gzip`, `application/x-gzip`, `zlib`, ...
 * @returns the codec
 * @throws {EncodeError} when the codec is unknown or not available on this runtime
 */
export function getCompressor(nameOrTypeOrAlias: string): Compressor {
  const c = lookup(nameOrTypeOrAlias);
  if (c === undefined) {
    throw new EncodeError(
      `Cannot compress with "${nameOrTypeOrAlias}": ${missingReason(nameOrTypeOrAlias)}`,
    );
  }
  return c;
}

/**
 * Compresses a body (Kombu's `compression.compress`).
 *
 * @param body the serialized body
 * @param method a codec name, alias or MIME type
 * @returns the compressed body and the value for the `compression` header
 * @throws {EncodeError} when the codec is unknown, unavailable or fails
 */
export async function compress(
  body: Uint8Array,
  method: string,
): Promise<{ body: Uint8Array; contentType: string }> {
  const c = getCompressor(method);
  try {
    return { body: await c.compress(body), contentType: c.contentType };
  } catch (cause) {
    if (cause instanceof EncodeError) throw cause;
    throw new EncodeError(`Cannot compress with "${method}": ${errorText(cause)}`, { cause });
  }
}

/**
 * Decompresses a body (Kombu's `compression.decompress`).
 *
 * @param body the compressed body
 * @param contentTypeOrAlias the `compression` header (a MIME type) or an alias
 * @returns the original body
 * @throws {DecodeError} when the codec is unknown or unavailable, or the data is corrupt
 */
export async function decompress(
  body: Uint8Array,
  contentTypeOrAlias: string,
): Promise<Uint8Array> {
  const c = lookup(contentTypeOrAlias);
  if (c === undefined) {
    throw new DecodeError(
      `Cannot decompress "${contentTypeOrAlias}": ${missingReason(contentTypeOrAlias)}`,
    );
  }
  try {
    return await c.decompress(body);
  } catch (cause) {
    if (cause instanceof DecodeError) throw cause;
    throw new DecodeError(
      `Cannot decompress "${contentTypeOrAlias}" body of ${body.length} bytes: ${errorText(cause)}`,
      { cause },
    );
  }
}

/**
 * Lists the codecs that work on this runtime (Kombu's `compression.encoders`, by name).
 *
 * @returns names such as `["gzip", "brotli", "zstd"]`
 */
export function availableCompressors(): string[] {
  return [...byType.values()].map((c) => c.name);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

async function throughStream(
  data: Uint8Array,
  stream: {
    readonly writable: WritableStream<BufferSource>;
    readonly readable: ReadableStream<Uint8Array>;
  },
): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  // Write and close without awaiting: the readable side must be drained concurrently.
  const written = writer.write(data as Uint8Array<ArrayBuffer>).then(() => writer.close());
  written.catch(() => {}); // the error surfaces on the readable side
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
  }
  await written;
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Kombu's default codec: zlib format through the Web Compression Streams API. */
export const zlibCompressor: Compressor = {
  name: "gzip",
  contentType: "application/x-gzip",
  aliases: ["gzip", "zlib"],
  compress(data: Uint8Array): Promise<Uint8Array> {
    return throughStream(data, new CompressionStream("deflate"));
  },
  decompress(data: Uint8Array): Promise<Uint8Array> {
    return throughStream(data, new DecompressionStream("deflate"));
  },
};

registerCompressor(zlibCompressor);

// --- codecs from node:zlib (Node, Deno, Bun, Workers with nodejs_compat) ----------------------

type Callback = (error: Error | null, result: Uint8Array) => void;
type AsyncCodec = (data: Uint8Array, callback: Callback) => void;
interface NodeZlib {
  brotliCompress?: AsyncCodec;
  brotliDecompress?: AsyncCodec;
  zstdCompress?: AsyncCodec;
  zstdDecompress?: AsyncCodec;
}

/**
 * `node:zlib` when the runtime offers it synchronously through `process.getBuiltinModule`
 * (Node >= 20.16, Deno 2, Bun, Workers with nodejs_compat). No import statement names it, so
 * bundles for the edge never pull it in.
 */
function nodeZlib(): NodeZlib | undefined {
  const proc = (globalThis as {
    process?: { getBuiltinModule?: (id: string) => unknown };
  }).process;
  try {
    return proc?.getBuiltinModule?.("node:zlib") as NodeZlib | undefined;
  } catch {
    return undefined;
  }
}

function viaCallback(fn: AsyncCodec, data: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    fn(data, (error, result) => {
      if (error) reject(error);
      else resolve(new Uint8Array(result.buffer, result.byteOffset, result.byteLength));
    });
  });
}

function nodeCodec(
  name: string,
  contentType: string,
  aliases: string[],
  enc: AsyncCodec,
  dec: AsyncCodec,
): Compressor {
  return {
    name,
    contentType,
    aliases,
    compress: (data) => viaCallback(enc, data),
    decompress: (data) => viaCallback(dec, data),
  };
}

const zlib = nodeZlib();
if (zlib?.brotliCompress !== undefined && zlib.brotliDecompress !== undefined) {
  registerCompressor(
    nodeCodec(
      "brotli",
      "application/x-brotli",
      ["brotli"],
      zlib.brotliCompress.bind(zlib),
      zlib.brotliDecompress.bind(zlib),
    ),
  );
}
if (zlib?.zstdCompress !== undefined && zlib.zstdDecompress !== undefined) {
  registerCompressor(
    nodeCodec(
      "zstd",
      "application/zstd",
      ["zstd", "zstandard"],
      zlib.zstdCompress.bind(zlib),
      zlib.zstdDecompress.bind(zlib),
    ),
  );
}
