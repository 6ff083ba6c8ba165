/**
 * Body compression (Kombu's `kombu.compression`).
 *
 * A compressed message carries the codec's MIME type in its `compression` header; the body is
 * compressed after serialization. Codecs and where they work:
 *
 * | name | header value | aliases | runtimes |
 * | --- | --- | --- | --- |
 * | `gzip` | `application/x-gzip` | gzip, zlib | all (Web `CompressionStream("deflate")`; `node:zlib` for small bodies where present) |
 * | `brotli` | `application/x-brotli` | brotli | Web streams where they know brotli (Node 24, Deno, Bun), else `node:zlib` (Node 20) |
 * | `zstd` | `application/zstd` | zstd, zstandard | where `node:zlib` has zstd (Node >= 22.15, Deno, Bun) |
 * | `bzip2` | `application/x-bz2` | bzip2, bzip | Node, Deno, Bun, with the optional package `bzip2-wasm` (libbzip2 in WebAssembly, loaded on first use) |
 * | `lzma` | `application/x-lzma` | lzma, xz | all with WebAssembly, with the optional package `node-liblzma` (its WebAssembly build, loaded on first use) |
 *
 * Decompression checks integrity where a runtime does not: the zlib Adler-32 trailer, and that
 * every zstd frame is complete and as long as it declares.
 *
 * Kombu's `application/x-gzip` is the zlib format (RFC 1950), not gzip (RFC 1952).
 *
 * @module
 */

import { bzip2Compressor } from "./compressors/bzip2.ts";
import { lzmaCompressor } from "./compressors/lzma.ts";
import { ConfigurationError, DecodeError, EncodeError } from "./errors.ts";

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
 * Names, aliases and content types are matched without regard to case.
 *
 * @param c the codec
 */
export function registerCompressor(c: Compressor): void {
  const type = c.contentType.toLowerCase();
  byType.set(type, c);
  aliasToType.set(c.name.toLowerCase(), type);
  for (const alias of c.aliases) aliasToType.set(alias.toLowerCase(), type);
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
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compress, decompress } from "@wakame/wakame";
 * const data = new TextEncoder().encode("hello ".repeat(100));
 * const { body, contentType } = await compress(data, "zlib");
 * assert.equal(contentType, "application/x-gzip"); // the `compression` header
 * assert.equal((await decompress(body, contentType)).length, data.length);
 * ```
 *
 * @param body the serialized body
 * @param method a codec name, alias or MIME type
 * @returns the compressed body and the value for the `compression` header
 * @throws {EncodeError} when the codec is unknown, unavailable or fails
 * @throws {ConfigurationError} when the codec's optional package is not installed
 */
export async function compress(
  body: Uint8Array,
  method: string,
): Promise<{ body: Uint8Array; contentType: string }> {
  const c = getCompressor(method);
  try {
    return { body: await c.compress(body), contentType: c.contentType };
  } catch (cause) {
    if (cause instanceof EncodeError || cause instanceof ConfigurationError) throw cause;
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
 * @throws {ConfigurationError} when the codec's optional package is not installed
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
    if (cause instanceof DecodeError || cause instanceof ConfigurationError) throw cause;
    throw new DecodeError(
      `Cannot decompress "${contentTypeOrAlias}" body of ${body.length} bytes: ${errorText(cause)}`,
      { cause },
    );
  }
}

/**
 * Lists the codecs that work on this runtime (Kombu's `compression.encoders`, by name).
 *
 * `bzip2` and `lzma` are always listed: their packages load on first use.
 *
 * @returns names such as `["gzip", "bzip2", "lzma", "brotli", "zstd"]`
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

/**
 * Adler-32 of `data` (RFC 1950), the checksum that ends a zlib stream.
 *
 * @param data the bytes
 * @returns the checksum as an unsigned 32-bit number
 */
export function adler32(data: Uint8Array): number {
  let a = 1, b = 0;
  const n = data.length;
  for (let i = 0; i < n;) {
    // The sums are exact in doubles; taking the modulo every few thousand bytes keeps them small.
    const end = Math.min(i + 3800, n);
    for (; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function readUint32BE(data: Uint8Array, offset: number): number {
  return ((data[offset] << 24) | (data[offset + 1] << 16) | (data[offset + 2] << 8) |
    data[offset + 3]) >>> 0;
}

// --- codecs from node:zlib (Node, Deno, Bun, Workers with nodejs_compat) ----------------------

type Callback = (error: Error | null, result: Uint8Array) => void;
type AsyncCodec = (data: Uint8Array, options: object, callback: Callback) => void;
interface NodeZlib {
  deflateSync?: (data: Uint8Array) => Uint8Array;
  inflateSync?: (data: Uint8Array) => Uint8Array;
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

/** A plain Uint8Array over the same memory as a Buffer. */
function plainView(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function viaCallback(fn: AsyncCodec, data: Uint8Array, options: object): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    fn(data, options, (error, result) => {
      if (error) reject(error);
      else resolve(plainView(result));
    });
  });
}

const zlib = nodeZlib();

/**
 * Bodies up to this size are deflated/inflated synchronously through `node:zlib` where it exists:
 * for small bodies that is 5 to 40 times faster than a Web stream, and blocks for microseconds.
 */
const SYNC_ZLIB_LIMIT = 64 * 1024;

/**
 * Kombu's default codec: the zlib format through the Web Compression Streams API
 * (`"deflate"`), or `node:zlib` for small bodies where the runtime has it.
 */
export const zlibCompressor: Compressor = {
  name: "gzip",
  contentType: "application/x-gzip",
  aliases: ["gzip", "zlib"],
  async compress(data: Uint8Array): Promise<Uint8Array> {
    if (zlib?.deflateSync !== undefined && data.length <= SYNC_ZLIB_LIMIT) {
      return plainView(zlib.deflateSync(data));
    }
    return await throughStream(data, new CompressionStream("deflate"));
  },
  async decompress(data: Uint8Array): Promise<Uint8Array> {
    const out = zlib?.inflateSync !== undefined && data.length <= SYNC_ZLIB_LIMIT
      ? plainView(zlib.inflateSync(data))
      : await throughStream(data, new DecompressionStream("deflate"));
    // Some runtimes (Deno) return what they inflated from a truncated stream without an error:
    // the Adler-32 trailer must match what came out, or the body is cut or corrupt.
    if (data.length < 6 || readUint32BE(data, data.length - 4) !== adler32(out)) {
      throw new DecodeError(
        `Cannot decompress "application/x-gzip" body of ${data.length} bytes: ` +
          "truncated or corrupt (Adler-32 mismatch)",
      );
    }
    return out;
  },
};

registerCompressor(zlibCompressor);
// Their packages load on first use, so they are registered on every runtime.
registerCompressor(bzip2Compressor);
registerCompressor(lzmaCompressor);

/** True when the Web Compression Streams API of this runtime knows `format` both ways. */
function streamsSupport(format: string): boolean {
  try {
    new CompressionStream(format as CompressionFormat);
    new DecompressionStream(format as CompressionFormat);
    return true;
  } catch {
    return false;
  }
}

// --- zstd frame check ------------------------------------------------------------------------

const ZSTD_MAGIC = 0xfd2fb528;

function readUint32LE(data: Uint8Array, offset: number): number {
  return (data[offset] | (data[offset + 1] << 8) | (data[offset + 2] << 16) |
    (data[offset + 3] << 24)) >>> 0;
}

/**
 * Walks the frames of a zstd body (RFC 8878) and checks that each one is complete: every runtime
 * tested decompresses a truncated frame to fewer bytes without an error.
 *
 * @param data the compressed body
 * @returns the sum of the frames' declared content sizes, or -1 when a frame does not declare it
 * @throws {DecodeError} when a frame is truncated or malformed
 */
export function checkZstdFrames(data: Uint8Array): number {
  const bad = (why: string): never => {
    throw new DecodeError(
      `Cannot decompress "application/zstd" body of ${data.length} bytes: ${why}`,
    );
  };
  let pos = 0;
  let total = 0;
  if (data.length === 0) bad("empty");
  while (pos < data.length) {
    if (pos + 4 > data.length) bad("truncated frame");
    const magic = readUint32LE(data, pos);
    if ((magic & 0xfffffff0) === 0x184d2a50) { // skippable frame
      if (pos + 8 > data.length) bad("truncated skippable frame");
      pos += 8 + readUint32LE(data, pos + 4);
      if (pos > data.length) bad("truncated skippable frame");
      continue;
    }
    if (magic !== ZSTD_MAGIC) bad("not a zstd frame");
    pos += 4;
    if (pos >= data.length) bad("truncated frame header");
    const descriptor = data[pos++];
    const fcsFlag = descriptor >> 6;
    const singleSegment = (descriptor & 0x20) !== 0;
    const checksum = (descriptor & 0x04) !== 0;
    const dictBytes = [0, 1, 2, 4][descriptor & 0x03];
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag];
    if ((descriptor & 0x08) !== 0) bad("reserved bit set in frame header");
    pos += (singleSegment ? 0 : 1) + dictBytes;
    if (pos + fcsBytes > data.length) bad("truncated frame header");
    if (fcsBytes === 0) {
      total = -1;
    } else {
      let size = 0;
      for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + data[pos + i];
      if (fcsBytes === 2) size += 256;
      if (total !== -1) total += size;
    }
    pos += fcsBytes;
    for (;;) {
      if (pos + 3 > data.length) bad("truncated block");
      const header = data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16);
      pos += 3;
      const last = (header & 1) === 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) bad("reserved block type");
      pos += type === 1 ? 1 : size;
      if (pos > data.length) bad("truncated block");
      if (last) break;
    }
    if (checksum) {
      pos += 4;
      if (pos > data.length) bad("truncated checksum");
    }
  }
  return total;
}

// Brotli: the Web streams where they know it (Deno's node:zlib returns a truncated stream's
// prefix without an error; its DecompressionStream does not), else node:zlib.
if (streamsSupport("brotli")) {
  registerCompressor({
    name: "brotli",
    contentType: "application/x-brotli",
    aliases: ["brotli"],
    compress: (data) => throughStream(data, new CompressionStream("brotli" as CompressionFormat)),
    decompress: (data) =>
      throughStream(data, new DecompressionStream("brotli" as CompressionFormat)),
  });
} else if (zlib?.brotliCompress !== undefined && zlib.brotliDecompress !== undefined) {
  const enc = zlib.brotliCompress.bind(zlib), dec = zlib.brotliDecompress.bind(zlib);
  registerCompressor({
    name: "brotli",
    contentType: "application/x-brotli",
    aliases: ["brotli"],
    compress: (data) => viaCallback(enc, data, {}),
    decompress: (data) => viaCallback(dec, data, {}),
  });
}

// Zstandard through node:zlib. The content size goes in the frame header (pledgedSrcSize):
// Python's zstandard (Kombu's codec) cannot decompress a frame without it.
if (zlib?.zstdCompress !== undefined && zlib.zstdDecompress !== undefined) {
  const enc = zlib.zstdCompress.bind(zlib), dec = zlib.zstdDecompress.bind(zlib);
  registerCompressor({
    name: "zstd",
    contentType: "application/zstd",
    aliases: ["zstd", "zstandard"],
    compress: (data) => viaCallback(enc, data, { pledgedSrcSize: data.length }),
    async decompress(data: Uint8Array): Promise<Uint8Array> {
      const declared = checkZstdFrames(data);
      const out = await viaCallback(dec, data, {});
      if (declared !== -1 && out.length !== declared) {
        throw new DecodeError(
          `Cannot decompress "application/zstd" body of ${data.length} bytes: ` +
            `${out.length} bytes came out, the frames declare ${declared}`,
        );
      }
      return out;
    },
  });
}
