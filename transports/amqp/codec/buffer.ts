/**
 * Byte-level primitives of the AMQP codec: a growable writer and a bounds-checked reader.
 *
 * Both work on plain `Uint8Array`s with manual big-endian arithmetic, so the hot paths (publish,
 * deliver, ack) allocate nothing per field. Every read checks the end of its frame first and
 * throws a {@link ProtocolError} instead of reading into the next frame.
 *
 * @module
 */

import { ConfigurationError, ProtocolError } from "../../../src/errors.ts";

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();
const TWO_32 = 0x1_0000_0000;

/**
 * Decodes UTF-8 bytes, with a fast path for short ASCII strings (tags, names, routing keys).
 *
 * @param bytes the buffer
 * @param start first byte
 * @param length how many bytes
 * @returns the text
 */
export function decodeUtf8(bytes: Uint8Array, start: number, length: number): string {
  if (length === 0) return "";
  if (length <= 48) {
    let s = "";
    const end = start + length;
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c > 0x7f) return utf8Decoder.decode(bytes.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8Decoder.decode(bytes.subarray(start, start + length));
}

/** A growable output buffer with big-endian writers. Fields are public for the hot paths. */
export class Writer {
  /** The bytes written so far are `buf[0..pos)`. */
  buf: Uint8Array;
  /** Next write position. */
  pos = 0;
  #view: DataView | undefined;

  /**
   * Makes an empty writer.
   *
   * @param size initial capacity in bytes (it grows by doubling)
   */
  constructor(size = 16384) {
    this.buf = new Uint8Array(size);
  }

  /**
   * Makes room for `n` more bytes.
   *
   * @param n bytes needed after `pos`
   */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.#view = undefined;
  }

  /** Resets to empty, keeping the capacity. */
  reset(): void {
    this.pos = 0;
  }

  /** Writes an octet (caller ensured room). */
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  /** Writes a big-endian 16-bit unsigned integer (caller ensured room). */
  u16(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }

  /** Writes a big-endian 32-bit unsigned integer (caller ensured room). */
  u32(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  /** Writes a non-negative safe integer as a 64-bit unsigned integer (caller ensured room). */
  u64(v: number): void {
    const hi = Math.floor(v / TWO_32);
    this.u32(hi);
    this.u32(v - hi * TWO_32);
  }

  /** Writes a signed 64-bit integer (caller ensured room). */
  i64(v: bigint): void {
    this.view().setBigInt64(this.pos, v);
    this.pos += 8;
  }

  /** Writes a 32-bit float (caller ensured room). */
  f32(v: number): void {
    this.view().setFloat32(this.pos, v);
    this.pos += 4;
  }

  /** Writes a 64-bit float (caller ensured room). */
  f64(v: number): void {
    this.view().setFloat64(this.pos, v);
    this.pos += 8;
  }

  /** A DataView over the current buffer (made on first use after a growth). */
  view(): DataView {
    return this.#view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /**
   * Writes UTF-8 text with no length prefix; ensures room itself.
   *
   * @param s the text
   * @returns the number of bytes written
   */
  utf8(s: string): number {
    const n = s.length;
    this.ensure(n * 3);
    const b = this.buf;
    const start = this.pos;
    let p = start;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        const r = utf8Encoder.encodeInto(s.slice(i), b.subarray(p));
        p += r.written;
        break;
      }
      b[p++] = c;
    }
    this.pos = p;
    return p - start;
  }

  /**
   * Writes an AMQP short string (octet length, at most 255 bytes).
   *
   * @param s the text
   * @param what what the string is, for the error message
   * @throws {ConfigurationError} when it is longer than 255 bytes
   */
  shortStr(s: string, what = "short string"): void {
    this.ensure(1);
    const at = this.pos++;
    const n = this.utf8(s);
    if (n > 255) {
      this.pos = at;
      throw new ConfigurationError(
        `Cannot encode ${what} "${s.slice(0, 40)}...": longer than 255 bytes (${n})`,
      );
    }
    this.buf[at] = n;
  }

  /** Writes an AMQP long string (32-bit length) from text or bytes; ensures room itself. */
  longStr(s: string | Uint8Array): void {
    if (typeof s === "string") {
      this.ensure(4);
      const at = this.pos;
      this.pos += 4;
      const n = this.utf8(s);
      const end = this.pos;
      this.pos = at;
      this.u32(n);
      this.pos = end;
    } else {
      this.ensure(4 + s.length);
      this.u32(s.length);
      this.buf.set(s, this.pos);
      this.pos += s.length;
    }
  }

  /** Copies raw bytes; ensures room itself. */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The bytes written so far (a view, valid until the next write). */
  view8(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** A bounds-checked reader over one frame payload; reused across frames to avoid allocation. */
export class Decoder {
  /** The buffer being read. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Next read position. */
  pos = 0;
  /** End of the readable region (exclusive). */
  end = 0;

  /**
   * Points the reader at a region.
   *
   * @param bytes the buffer
   * @param start first byte
   * @param end one past the last byte
   * @returns this reader
   */
  reset(bytes: Uint8Array, start: number, end: number): this {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    return this;
  }

  /**
   * Checks that `n` more bytes are there.
   *
   * @throws {ProtocolError} when the frame is too short
   */
  need(n: number): void {
    if (this.pos + n > this.end) {
      throw new ProtocolError(
        `Cannot decode frame: needs ${n} more bytes at offset ${this.pos}, ${
          this.end - this.pos
        } left`,
      );
    }
  }

  /** Reads an octet. */
  u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }

  /** Reads a big-endian unsigned 16-bit integer. */
  u16(): number {
    this.need(2);
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p] << 8) | b[p + 1];
  }

  /** Reads a big-endian unsigned 32-bit integer. */
  u32(): number {
    this.need(4);
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + 4;
    return b[p] * 0x100_0000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
  }

  /** Reads an unsigned 64-bit integer as a number (exact up to 2^53). */
  u64(): number {
    const hi = this.u32();
    return hi * TWO_32 + this.u32();
  }

  /** Reads a signed 64-bit integer: a number when safe, else a bigint. */
  i64(): number | bigint {
    this.need(8);
    const v = this.#view(8).getBigInt64(0);
    this.pos += 8;
    return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
  }

  /** Reads a signed 8-bit integer. */
  i8(): number {
    return (this.u8() << 24) >> 24;
  }

  /** Reads a signed 16-bit integer. */
  i16(): number {
    return (this.u16() << 16) >> 16;
  }

  /** Reads a signed 32-bit integer. */
  i32(): number {
    return this.u32() | 0;
  }

  /** Reads a 32-bit float. */
  f32(): number {
    this.need(4);
    const v = this.#view(4).getFloat32(0);
    this.pos += 4;
    return v;
  }

  /** Reads a 64-bit float. */
  f64(): number {
    this.need(8);
    const v = this.#view(8).getFloat64(0);
    this.pos += 8;
    return v;
  }

  /** Reads an AMQP short string. */
  shortStr(): string {
    const n = this.u8();
    this.need(n);
    const s = decodeUtf8(this.bytes, this.pos, n);
    this.pos += n;
    return s;
  }

  /** Reads an AMQP long string as text. */
  longStr(): string {
    const n = this.u32();
    this.need(n);
    const s = decodeUtf8(this.bytes, this.pos, n);
    this.pos += n;
    return s;
  }

  /** Reads an AMQP long string as a copy of its bytes. */
  longBytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const b = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  #view(n: number): DataView {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, n);
  }
}

/**
 * Remembers the last string decoded from one field, so repeated consumer tags, exchanges and
 * routing keys on a busy channel are compared, not decoded and allocated again.
 */
export class ShortStringCache {
  #bytes = new Uint8Array(255);
  #length = -1;
  #value = "";

  /**
   * Reads a short string through the cache.
   *
   * @param d the reader, positioned at the length octet
   * @returns the string
   */
  read(d: Decoder): string {
    const n = d.u8();
    d.need(n);
    const b = d.bytes;
    const start = d.pos;
    d.pos = start + n;
    if (n === this.#length) {
      const mine = this.#bytes;
      let i = 0;
      while (i < n && mine[i] === b[start + i]) i++;
      if (i === n) return this.#value;
    }
    const s = decodeUtf8(b, start, n);
    this.#bytes.set(b.subarray(start, start + n));
    this.#length = n;
    this.#value = s;
    return s;
  }
}
