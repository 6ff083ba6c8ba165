/**
 * A streaming, bounded parser of RESP2 and RESP3 replies.
 *
 * Bytes may arrive split anywhere. Nothing is allocated from a length the peer declares before
 * the bytes themselves arrive: aggregates grow as their elements come, bulk strings are kept as
 * the pieces received. Limits (bulk length, line length, nesting) turn a hostile or broken peer
 * into a {@link ProtocolError} instead of memory exhaustion.
 *
 * @module
 */

import { ProtocolError } from "../../../src/errors.ts";
import { RespErrorReply, RespPush, type RespValue } from "./types.ts";

/** Limits of {@link RespParser}. */
export interface RespParserOptions {
  /** Largest bulk string accepted, in bytes (default 512 MiB, Redis' own `proto-max-bulk-len`). */
  maxBulkLength?: number;
  /** Longest line (simple string, error, number, length header) in bytes (default 64 KiB). */
  maxLineLength?: number;
  /** Deepest nesting of aggregates (default 64). */
  maxDepth?: number;
}

/** Default largest bulk string: 512 MiB. */
export const DEFAULT_MAX_BULK_LENGTH = 512 * 1024 * 1024;

const CR = 13;
const LF = 10;
const EMPTY = new Uint8Array(0);
const textDecoder = new TextDecoder();

type AggregateKind = "array" | "map" | "set" | "push" | "attribute";

interface Aggregate {
  kind: AggregateKind;
  /** Elements still expected (a map counts keys and values). */
  remaining: number;
  items: RespValue[];
}

type BulkKind = "bulk" | "verbatim" | "error";

interface PendingBulk {
  kind: BulkKind;
  length: number;
  received: number;
  pieces: Uint8Array[];
}

function decodeAscii(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

/**
 * Parses replies from a byte stream, one chunk at a time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RespParser } from "./parser.ts";
 * const parser = new RespParser();
 * const replies: unknown[] = [];
 * parser.feed(new TextEncoder().encode("+OK\r\n:4"), (v) => replies.push(v));
 * parser.feed(new TextEncoder().encode("2\r\n"), (v) => replies.push(v));
 * assert.equal(replies.length, 2);
 * assert.equal(replies[1], 42);
 * ```
 */
export class RespParser {
  #buffer: Uint8Array = EMPTY;
  #offset = 0;
  #stack: Aggregate[] = [];
  #bulk: PendingBulk | undefined;
  #failed: ProtocolError | undefined;
  readonly #maxBulk: number;
  readonly #maxLine: number;
  readonly #maxDepth: number;

  /**
   * Makes a parser at a reply boundary.
   *
   * @param options limits; see {@link RespParserOptions}
   */
  constructor(options: RespParserOptions = {}) {
    this.#maxBulk = options.maxBulkLength ?? DEFAULT_MAX_BULK_LENGTH;
    this.#maxLine = options.maxLineLength ?? 64 * 1024;
    this.#maxDepth = options.maxDepth ?? 64;
  }

  /** True when no partial reply is buffered (the stream is at a reply boundary). */
  get idle(): boolean {
    return this.#bulk === undefined && this.#stack.length === 0 &&
      this.#offset >= this.#buffer.length;
  }

  /**
   * Consumes one chunk, calling `onReply` for every complete top-level reply in order.
   *
   * @param chunk the bytes received (the parser copies what it keeps)
   * @param onReply receives each complete reply
   * @throws {ProtocolError} on bytes that are not RESP or break a limit; the parser then refuses
   *   further input
   */
  feed(chunk: Uint8Array, onReply: (value: RespValue) => void): void {
    if (this.#failed) throw this.#failed;
    if (this.#offset < this.#buffer.length) {
      const rest = this.#buffer.length - this.#offset;
      const joined = new Uint8Array(rest + chunk.length);
      joined.set(this.#buffer.subarray(this.#offset));
      joined.set(chunk, rest);
      this.#buffer = joined;
    } else {
      this.#buffer = chunk;
    }
    this.#offset = 0;
    try {
      this.#run(onReply);
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.#failed = error;
        this.#buffer = EMPTY;
        this.#offset = 0;
      }
      throw error;
    }
    if (this.#offset >= this.#buffer.length) {
      this.#buffer = EMPTY;
      this.#offset = 0;
    } else {
      // Keep only the unparsed tail (at most one line), copied: the caller may reuse `chunk`.
      this.#buffer = this.#buffer.slice(this.#offset);
      this.#offset = 0;
    }
  }

  #run(onReply: (value: RespValue) => void): void {
    const buf = this.#buffer;
    for (;;) {
      const bulk = this.#bulk;
      if (bulk !== undefined) {
        const want = bulk.length - bulk.received;
        const take = Math.min(want, buf.length - this.#offset);
        if (take > 0) {
          bulk.pieces.push(buf.slice(this.#offset, this.#offset + take));
          bulk.received += take;
          this.#offset += take;
        }
        if (bulk.received < bulk.length || buf.length - this.#offset < 2) return;
        if (buf[this.#offset] !== CR || buf[this.#offset + 1] !== LF) {
          throw new ProtocolError("Cannot parse Redis reply: bulk string not followed by CRLF");
        }
        this.#offset += 2;
        this.#bulk = undefined;
        this.#emit(finishBulk(bulk), onReply);
        continue;
      }
      if (this.#offset >= buf.length) return;
      const lf = buf.indexOf(LF, this.#offset + 1);
      if (lf < 0) {
        if (buf.length - this.#offset > this.#maxLine) {
          throw new ProtocolError(
            `Cannot parse Redis reply: line longer than ${this.#maxLine} bytes`,
          );
        }
        return;
      }
      if (buf[lf - 1] !== CR) {
        throw new ProtocolError("Cannot parse Redis reply: line not ended by CRLF");
      }
      if (lf - this.#offset > this.#maxLine) {
        throw new ProtocolError(
          `Cannot parse Redis reply: line longer than ${this.#maxLine} bytes`,
        );
      }
      const type = buf[this.#offset]!;
      const start = this.#offset + 1;
      const end = lf - 1;
      this.#offset = lf + 1;
      switch (type) {
        case 0x2b: // + simple string
          this.#emit(textDecoder.decode(buf.subarray(start, end)), onReply);
          break;
        case 0x2d: // - error
          this.#emit(new RespErrorReply(textDecoder.decode(buf.subarray(start, end))), onReply);
          break;
        case 0x3a: // : integer
          this.#emit(parseInteger(buf, start, end), onReply);
          break;
        case 0x24: // $ bulk string
          this.#startBulk("bulk", buf, start, end, onReply);
          break;
        case 0x3d: // = verbatim string
          this.#startBulk("verbatim", buf, start, end, onReply);
          break;
        case 0x21: // ! blob error
          this.#startBulk("error", buf, start, end, onReply);
          break;
        case 0x2a: // * array
          this.#startAggregate("array", buf, start, end, onReply);
          break;
        case 0x25: // % map
          this.#startAggregate("map", buf, start, end, onReply);
          break;
        case 0x7e: // ~ set
          this.#startAggregate("set", buf, start, end, onReply);
          break;
        case 0x3e: // > push
          this.#startAggregate("push", buf, start, end, onReply);
          break;
        case 0x7c: // | attribute
          this.#startAggregate("attribute", buf, start, end, onReply);
          break;
        case 0x5f: // _ null
          if (end !== start) throw new ProtocolError("Cannot parse Redis reply: bad null");
          this.#emit(null, onReply);
          break;
        case 0x23: { // # boolean
          const text = decodeAscii(buf, start, end);
          if (text !== "t" && text !== "f") {
            throw new ProtocolError(`Cannot parse Redis reply: bad boolean "${text}"`);
          }
          this.#emit(text === "t", onReply);
          break;
        }
        case 0x2c: // , double
          this.#emit(parseDouble(decodeAscii(buf, start, end)), onReply);
          break;
        case 0x28: { // ( big number
          const text = decodeAscii(buf, start, end);
          if (!/^[-+]?\d+$/.test(text)) {
            throw new ProtocolError(`Cannot parse Redis reply: bad big number "${text}"`);
          }
          this.#emit(BigInt(text), onReply);
          break;
        }
        default:
          throw new ProtocolError(
            `Cannot parse Redis reply: unknown type byte 0x${type.toString(16).padStart(2, "0")}`,
          );
      }
    }
  }

  #startBulk(
    kind: BulkKind,
    buf: Uint8Array,
    start: number,
    end: number,
    onReply: (value: RespValue) => void,
  ): void {
    const length = parseLength(buf, start, end);
    if (length < 0) {
      if (kind !== "bulk") throw new ProtocolError("Cannot parse Redis reply: negative length");
      this.#emit(null, onReply);
      return;
    }
    if (length > this.#maxBulk) {
      throw new ProtocolError(
        `Cannot parse Redis reply: bulk string of ${length} bytes exceeds the limit of ${this.#maxBulk}`,
      );
    }
    this.#bulk = { kind, length, received: 0, pieces: [] };
  }

  #startAggregate(
    kind: AggregateKind,
    buf: Uint8Array,
    start: number,
    end: number,
    onReply: (value: RespValue) => void,
  ): void {
    const count = parseLength(buf, start, end);
    if (count < 0) {
      if (kind !== "array") throw new ProtocolError("Cannot parse Redis reply: negative length");
      this.#emit(null, onReply);
      return;
    }
    if (this.#stack.length >= this.#maxDepth) {
      throw new ProtocolError(`Cannot parse Redis reply: nesting deeper than ${this.#maxDepth}`);
    }
    const remaining = kind === "map" || kind === "attribute" ? count * 2 : count;
    const aggregate: Aggregate = { kind, remaining, items: [] };
    if (remaining === 0) {
      this.#complete(aggregate, onReply);
    } else {
      this.#stack.push(aggregate);
    }
  }

  #emit(value: RespValue, onReply: (value: RespValue) => void): void {
    const top = this.#stack[this.#stack.length - 1];
    if (top === undefined) {
      onReply(value);
      return;
    }
    top.items.push(value);
    top.remaining--;
    if (top.remaining === 0) {
      this.#stack.pop();
      this.#complete(top, onReply);
    }
  }

  #complete(aggregate: Aggregate, onReply: (value: RespValue) => void): void {
    switch (aggregate.kind) {
      case "array":
      case "set":
        this.#emit(aggregate.items, onReply);
        return;
      case "push":
        this.#emit(new RespPush(aggregate.items), onReply);
        return;
      case "map": {
        const map = new Map<RespValue, RespValue>();
        for (let i = 0; i < aggregate.items.length; i += 2) {
          const key = aggregate.items[i]!;
          map.set(
            key instanceof Uint8Array ? textDecoder.decode(key) : key,
            aggregate.items[i + 1]!,
          );
        }
        this.#emit(map, onReply);
        return;
      }
      case "attribute":
        // Attributes describe the reply that follows; wakame has no use for them.
        return;
    }
  }
}

function finishBulk(bulk: PendingBulk): RespValue {
  let bytes: Uint8Array;
  if (bulk.pieces.length === 1) {
    bytes = bulk.pieces[0]!;
  } else {
    bytes = new Uint8Array(bulk.length);
    let at = 0;
    for (const piece of bulk.pieces) {
      bytes.set(piece, at);
      at += piece.length;
    }
  }
  switch (bulk.kind) {
    case "bulk":
      return bytes;
    case "error":
      return new RespErrorReply(textDecoder.decode(bytes));
    case "verbatim":
      // `txt:` or `mkd:` then the text.
      if (bytes.length < 4 || bytes[3] !== 0x3a) {
        throw new ProtocolError("Cannot parse Redis reply: verbatim string without a format");
      }
      return textDecoder.decode(bytes.subarray(4));
  }
}

function parseLength(buf: Uint8Array, start: number, end: number): number {
  if (end - start === 2 && buf[start] === 0x2d && buf[start + 1] === 0x31) return -1;
  if (end <= start || end - start > 15) {
    throw new ProtocolError(
      `Cannot parse Redis reply: bad length "${
        decodeAscii(buf, start, Math.min(end, start + 20))
      }"`,
    );
  }
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) {
      throw new ProtocolError(
        `Cannot parse Redis reply: bad length "${decodeAscii(buf, start, end)}"`,
      );
    }
    value = value * 10 + digit;
  }
  return value;
}

function parseInteger(buf: Uint8Array, start: number, end: number): number | bigint {
  // Fast path: up to 15 digits, optional minus (every reply count, length and index).
  let at = start;
  const negative = buf[at] === 0x2d;
  if (negative) at++;
  if (end > at && end - at <= 15) {
    let value = 0;
    for (; at < end; at++) {
      const digit = buf[at]! - 0x30;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (at === end) return negative ? -value : value;
  }
  const text = decodeAscii(buf, start, end);
  if (!/^[-+]?\d{1,20}$/.test(text)) {
    throw new ProtocolError(`Cannot parse Redis reply: bad integer "${text.slice(0, 40)}"`);
  }
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : BigInt(text);
}

function parseDouble(text: string): number {
  switch (text) {
    case "inf":
    case "+inf":
      return Infinity;
    case "-inf":
      return -Infinity;
    case "nan":
      return NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    throw new ProtocolError(`Cannot parse Redis reply: bad double "${text.slice(0, 40)}"`);
  }
  return Number(text);
}
