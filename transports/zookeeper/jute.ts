/**
 * Jute, ZooKeeper's record encoding: big-endian `int` (32 bits), `long` (64 bits, as bigint),
 * `boolean` (one byte), `buffer` and `ustring` (an `int` length, -1 for null, then the bytes),
 * `vector` (an `int` count, -1 for null, then the items).
 *
 * @module
 */

import { ProtocolError } from "../../src/errors.ts";

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Builds one record; {@link JuteWriter.bytes} returns what was written. */
export class JuteWriter {
  #buffer = new Uint8Array(256);
  #view = new DataView(this.#buffer.buffer);
  #length = 0;

  #room(n: number): void {
    if (this.#length + n <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.#length + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = bigger;
    this.#view = new DataView(bigger.buffer);
  }

  /** Writes a 32-bit signed integer. */
  int(value: number): this {
    this.#room(4);
    this.#view.setInt32(this.#length, value);
    this.#length += 4;
    return this;
  }

  /** Writes a 64-bit signed integer. */
  long(value: bigint): this {
    this.#room(8);
    this.#view.setBigInt64(this.#length, value);
    this.#length += 8;
    return this;
  }

  /** Writes a boolean as one byte. */
  bool(value: boolean): this {
    this.#room(1);
    this.#buffer[this.#length++] = value ? 1 : 0;
    return this;
  }

  /** Writes bytes with their length (`undefined` for null, -1). */
  buffer(value: Uint8Array | undefined): this {
    if (value === undefined) return this.int(-1);
    this.int(value.length);
    this.#room(value.length);
    this.#buffer.set(value, this.#length);
    this.#length += value.length;
    return this;
  }

  /** Writes a UTF-8 string with its byte length. */
  ustring(value: string): this {
    return this.buffer(utf8.encode(value));
  }

  /** The bytes written so far. */
  bytes(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}

/** Reads one record. Reading past its end throws {@link ProtocolError}. */
export class JuteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  /**
   * Reads from `bytes`.
   *
   * @param bytes one record (a frame without its length)
   */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(n: number): void {
    if (this.#offset + n > this.#bytes.length) {
      throw new ProtocolError(
        `Cannot read ZooKeeper record: ${n} byte(s) wanted at ${this.#offset} of ${this.#bytes.length}`,
      );
    }
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** Reads a 32-bit signed integer. */
  int(): number {
    this.#need(4);
    const value = this.#view.getInt32(this.#offset);
    this.#offset += 4;
    return value;
  }

  /** Reads a 64-bit signed integer. */
  long(): bigint {
    this.#need(8);
    const value = this.#view.getBigInt64(this.#offset);
    this.#offset += 8;
    return value;
  }

  /** Reads a one-byte boolean. */
  bool(): boolean {
    this.#need(1);
    return this.#bytes[this.#offset++] !== 0;
  }

  /** Reads length-prefixed bytes (`undefined` for null). */
  buffer(): Uint8Array | undefined {
    const length = this.int();
    if (length < 0) return undefined;
    this.#need(length);
    const value = this.#bytes.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  /** Reads a UTF-8 string (`""` for null). */
  ustring(): string {
    const bytes = this.buffer();
    if (!bytes) return "";
    try {
      return fromUtf8.decode(bytes);
    } catch (error) {
      throw new ProtocolError("Cannot read ZooKeeper string: not UTF-8", { cause: error });
    }
  }

  /** Reads a vector of strings (`[]` for null). */
  ustrings(): string[] {
    const count = this.int();
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.ustring());
    return out;
  }
}

/** A znode's `Stat` (68 bytes on the wire). */
export interface Stat {
  /** Zxid of the creation. */
  readonly czxid: bigint;
  /** Zxid of the last change. */
  readonly mzxid: bigint;
  /** Data version (the condition of a conditional delete or set). */
  readonly version: number;
  /** Child version. */
  readonly cversion: number;
  /** Session id of an ephemeral node's owner, 0 otherwise. */
  readonly ephemeralOwner: bigint;
  /** Bytes of data. */
  readonly dataLength: number;
  /** Number of children. */
  readonly numChildren: number;
}

/**
 * Reads a `Stat` record.
 *
 * @param reader where
 * @returns the fields the transport uses
 */
export function readStat(reader: JuteReader): Stat {
  const czxid = reader.long();
  const mzxid = reader.long();
  reader.long(); // ctime
  reader.long(); // mtime
  const version = reader.int();
  const cversion = reader.int();
  reader.int(); // aversion
  const ephemeralOwner = reader.long();
  const dataLength = reader.int();
  const numChildren = reader.int();
  reader.long(); // pzxid
  return { czxid, mzxid, version, cversion, ephemeralOwner, dataLength, numChildren };
}
