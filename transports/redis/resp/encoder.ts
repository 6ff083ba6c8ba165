/**
 * Encodes commands as RESP arrays of bulk strings into one growing, reused buffer.
 *
 * @module
 */

import type { RespArg } from "./types.ts";

const textEncoder = new TextEncoder();

/** Byte length of `text` in UTF-8 (lone surrogates count as U+FFFD, as TextEncoder writes them). */
export function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      length += 1;
    } else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        // A pair: two UTF-16 units, four bytes.
        length += 2;
        i++;
      } else {
        length += 2;
      }
    } else {
      length += 2;
    }
  }
  return length;
}

/**
 * Writes commands one after the other; {@link RespEncoder.take} hands over what was written and
 * starts again at the beginning of the same buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RespEncoder } from "./encoder.ts";
 * const encoder = new RespEncoder();
 * encoder.write(["SET", "k", "v"]);
 * const bytes = encoder.take();
 * assert.equal(new TextDecoder().decode(bytes), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
 * ```
 */
export class RespEncoder {
  #buffer: Uint8Array;
  #length = 0;

  /**
   * Makes an empty encoder.
   *
   * @param initialSize bytes reserved at first (the buffer grows by doubling)
   */
  constructor(initialSize = 64 * 1024) {
    this.#buffer = new Uint8Array(initialSize);
  }

  /** Bytes written since the last {@link RespEncoder.take}. */
  get length(): number {
    return this.#length;
  }

  /**
   * Appends one command.
   *
   * @param args the command name and its arguments
   */
  write(args: readonly RespArg[]): void {
    this.#header(0x2a, args.length);
    for (const arg of args) {
      if (typeof arg === "string") {
        if (arg.length > 64) {
          this.#longString(arg);
        } else {
          const size = utf8Length(arg);
          this.#header(0x24, size);
          this.#reserve(size + 2);
          if (size === arg.length) {
            const buf = this.#buffer;
            let at = this.#length;
            for (let i = 0; i < arg.length; i++) buf[at++] = arg.charCodeAt(i);
          } else {
            textEncoder.encodeInto(arg, this.#buffer.subarray(this.#length, this.#length + size));
          }
          this.#length += size;
        }
      } else if (typeof arg === "number") {
        const text = Number.isInteger(arg) ? String(arg) : formatFloat(arg);
        this.#header(0x24, text.length);
        this.#ascii(text);
      } else {
        this.#header(0x24, arg.length);
        this.#reserve(arg.length + 2);
        this.#buffer.set(arg, this.#length);
        this.#length += arg.length;
      }
      this.#crlf();
    }
  }

  /**
   * Returns a copy of the bytes written and empties the buffer for reuse.
   *
   * @returns the encoded commands
   */
  take(): Uint8Array {
    const bytes = this.#buffer.slice(0, this.#length);
    this.#length = 0;
    return bytes;
  }

  /** Forgets what was written. */
  reset(): void {
    this.#length = 0;
  }

  /**
   * A long string: encoded natively straight into the buffer behind room for the longest
   * possible header, then the header is written and the bytes moved up to meet it.
   */
  #longString(arg: string): void {
    const most = arg.length * 3;
    const room = String(most).length + 3;
    this.#reserve(room + most + 2);
    const start = this.#length;
    const { written } = textEncoder.encodeInto(
      arg,
      this.#buffer.subarray(start + room, start + room + most),
    );
    const header = `$${written}\r\n`;
    const buf = this.#buffer;
    for (let i = 0; i < header.length; i++) buf[start + i] = header.charCodeAt(i);
    if (header.length < room) {
      buf.copyWithin(start + header.length, start + room, start + room + written);
    }
    this.#length = start + header.length + written;
  }

  #header(type: number, count: number): void {
    const text = String(count);
    this.#reserve(text.length + 3);
    this.#buffer[this.#length++] = type;
    this.#ascii(text);
    this.#crlf();
  }

  #ascii(text: string): void {
    this.#reserve(text.length + 2);
    const buf = this.#buffer;
    let at = this.#length;
    for (let i = 0; i < text.length; i++) buf[at++] = text.charCodeAt(i);
    this.#length = at;
  }

  #crlf(): void {
    this.#reserve(2);
    this.#buffer[this.#length++] = 13;
    this.#buffer[this.#length++] = 10;
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }
}

function formatFloat(value: number): string {
  if (value === Infinity) return "+inf";
  if (value === -Infinity) return "-inf";
  return String(value);
}

/**
 * Encodes one command on its own (tests, one-off writes).
 *
 * @param args the command name and its arguments
 * @returns the RESP bytes
 */
export function encodeCommand(args: readonly RespArg[]): Uint8Array {
  const encoder = new RespEncoder(256);
  encoder.write(args);
  return encoder.take();
}
