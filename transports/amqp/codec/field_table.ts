/**
 * AMQP field tables and arrays with every type code of RabbitMQ's errata table.
 *
 * | code | type | decoded as |
 * | --- | --- | --- |
 * | `t` | boolean | boolean |
 * | `b` / `B` | signed / unsigned 8-bit | number |
 * | `s` / `u` | signed / unsigned 16-bit (RabbitMQ's `s` is a short int, not a short string) | number |
 * | `I` / `i` | signed / unsigned 32-bit | number |
 * | `l` | signed 64-bit | number when safe, else bigint |
 * | `D` | decimal (scale octet + signed 32-bit value) | number |
 * | `f` / `d` | 32 / 64-bit float | number |
 * | `S` | long string | string (UTF-8) |
 * | `x` | byte array | Uint8Array |
 * | `A` | array | array |
 * | `T` | timestamp (seconds) | Date |
 * | `F` | nested table | object |
 * | `V` | void | null |
 *
 * Encoding picks, like py-amqp: integers in the 32-bit range as `I`, other safe integers and
 * bigints as `l`, other numbers as `d`, strings `S`, bytes `x`, dates `T`, null and undefined `V`.
 *
 * @module
 */

import { ConfigurationError, ProtocolError } from "../../../src/errors.ts";
import type { FieldTable, FieldValue } from "../../../src/transport.ts";
import type { Decoder, Writer } from "./buffer.ts";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Encodes a field table with its 32-bit length prefix.
 *
 * @param w the writer
 * @param table the table; `undefined` writes an empty table
 * @throws {ConfigurationError} for a value that has no AMQP encoding
 */
export function encodeTable(w: Writer, table: FieldTable | undefined): void {
  w.ensure(4);
  const at = w.pos;
  w.pos += 4;
  if (table !== undefined) {
    for (const key in table) {
      if (!Object.prototype.hasOwnProperty.call(table, key)) continue;
      w.shortStr(key, "field table key");
      encodeValue(w, table[key]);
    }
  }
  patchLength(w, at);
}

function patchLength(w: Writer, at: number): void {
  const end = w.pos;
  w.pos = at;
  w.u32(end - at - 4);
  w.pos = end;
}

/**
 * Encodes one field value with its type code.
 *
 * @param w the writer
 * @param v the value
 * @throws {ConfigurationError} for a value that has no AMQP encoding
 */
export function encodeValue(w: Writer, v: FieldValue): void {
  switch (typeof v) {
    case "string":
      w.ensure(1);
      w.u8(0x53); // S
      w.longStr(v);
      return;
    case "number":
      w.ensure(9);
      if (Number.isInteger(v) && !Object.is(v, -0)) {
        if (v >= -0x8000_0000 && v <= 0x7fff_ffff) {
          w.u8(0x49); // I
          w.u32(v >>> 0);
          return;
        }
        if (Number.isSafeInteger(v)) {
          w.u8(0x6c); // l
          w.i64(BigInt(v));
          return;
        }
      }
      w.u8(0x64); // d
      w.f64(v);
      return;
    case "bigint":
      if (v < INT64_MIN || v > INT64_MAX) {
        throw new ConfigurationError(
          `Cannot encode integer "${v}": outside the signed 64-bit range`,
        );
      }
      w.ensure(9);
      w.u8(0x6c);
      w.i64(v);
      return;
    case "boolean":
      w.ensure(2);
      w.u8(0x74); // t
      w.u8(v ? 1 : 0);
      return;
    case "undefined":
      w.ensure(1);
      w.u8(0x56); // V
      return;
    case "object":
      if (v === null) {
        w.ensure(1);
        w.u8(0x56);
      } else if (v instanceof Uint8Array) {
        w.ensure(1);
        w.u8(0x78); // x
        w.longStr(v);
      } else if (v instanceof Date) {
        const ms = v.getTime();
        if (Number.isNaN(ms)) throw new ConfigurationError("Cannot encode date: it is invalid");
        w.ensure(9);
        w.u8(0x54); // T
        w.i64(BigInt(Math.floor(ms / 1000)));
      } else if (Array.isArray(v)) {
        w.ensure(5);
        w.u8(0x41); // A
        const at = w.pos;
        w.pos += 4;
        for (const item of v) encodeValue(w, item);
        patchLength(w, at);
      } else {
        w.ensure(1);
        w.u8(0x46); // F
        encodeTable(w, v as FieldTable);
      }
      return;
    default:
      throw new ConfigurationError(`Cannot encode field value of type "${typeof v}"`);
  }
}

/**
 * Decodes a field table with its 32-bit length prefix.
 *
 * @param d the reader
 * @returns the table (a plain object; a `__proto__` key is kept as data)
 * @throws {ProtocolError} when the bytes are malformed
 */
export function decodeTable(d: Decoder): FieldTable {
  const n = d.u32();
  d.need(n);
  const end = d.pos + n;
  const outerEnd = d.end;
  d.end = end;
  const table: FieldTable = {};
  try {
    while (d.pos < end) {
      const key = d.shortStr();
      const value = decodeValue(d);
      if (key === "__proto__") {
        Object.defineProperty(table, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        table[key] = value;
      }
    }
  } finally {
    d.end = outerEnd;
  }
  return table;
}

function decodeArray(d: Decoder): FieldValue[] {
  const n = d.u32();
  d.need(n);
  const end = d.pos + n;
  const outerEnd = d.end;
  d.end = end;
  const out: FieldValue[] = [];
  try {
    while (d.pos < end) out.push(decodeValue(d));
  } finally {
    d.end = outerEnd;
  }
  return out;
}

/**
 * Decodes one field value from its type code.
 *
 * @param d the reader, at the type code
 * @returns the value
 * @throws {ProtocolError} for an unknown type code or a short frame
 */
export function decodeValue(d: Decoder): FieldValue {
  const code = d.u8();
  switch (code) {
    case 0x74: // t
      return d.u8() !== 0;
    case 0x62: // b
      return d.i8();
    case 0x42: // B
      return d.u8();
    case 0x73: // s
      return d.i16();
    case 0x75: // u
      return d.u16();
    case 0x49: // I
      return d.i32();
    case 0x69: // i
      return d.u32();
    case 0x6c: // l
      return d.i64();
    case 0x44: { // D
      const scale = d.u8();
      const value = d.i32();
      return value / 10 ** scale;
    }
    case 0x66: // f
      return d.f32();
    case 0x64: // d
      return d.f64();
    case 0x53: // S
      return d.longStr();
    case 0x78: // x
      return d.longBytes();
    case 0x41: // A
      return decodeArray(d);
    case 0x54: { // T
      const s = d.i64();
      return new Date(Number(s) * 1000);
    }
    case 0x46: // F
      return decodeTable(d);
    case 0x56: // V
      return null;
    default:
      throw new ProtocolError(
        `Cannot decode field value: unknown type code ${code} ("${String.fromCharCode(code)}")`,
      );
  }
}
