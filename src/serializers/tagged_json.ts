/**
 * JSON with Kombu's tagged types (`{"__type__": "datetime", "__value__": ...}`, Kombu 5.3) and
 * Python's non-finite literals: the `json` and `json-tagged` serializers.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "../_base64.ts";
import { decodeUtf8Strict } from "../body.ts";
import { DecodeError, EncodeError } from "../errors.ts";
import { errorText } from "./_error_text.ts";
import { encodeRegistered, registeredDecoder } from "./json_types.ts";
import { MicrosecondDate } from "./microsecond_date.ts";
import type { Serializer } from "./types.ts";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const TYPE_KEY = "__type__";
const VALUE_KEY = "__value__";

const ISO_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2}(?::?\d{2}(?:\.\d{1,6})?)?)?)?$/i;

/**
 * Parses the ISO 8601 text Python's `datetime.isoformat()` writes. A naive time (no offset) is
 * taken as UTC, as Celery writes UTC. Microseconds are kept: a time with sub-millisecond digits
 * comes back as a {@link MicrosecondDate}; digits beyond the sixth are dropped, as Python does.
 *
 * @param text e.g. `2024-05-01T12:00:00.123456+02:00`
 * @returns the instant (a `MicrosecondDate` when it has sub-millisecond digits)
 * @throws {DecodeError} when the text is not such a date-time
 */
export function parseIsoDateTime(text: string): Date {
  const m = ISO_DATETIME.exec(text);
  if (m === null) throw new DecodeError(`Cannot decode datetime "${text}": not ISO 8601`);
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = m;
  const month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new DecodeError(`Cannot decode datetime "${text}": a field is out of range`);
  }
  const ms = frac === "" ? 0 : Math.floor(Number(frac.padEnd(3, "0").slice(0, 3)));
  const date = new Date(0);
  date.setUTCFullYear(Number(y), month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  if (date.getUTCDate() !== day) {
    throw new DecodeError(`Cannot decode datetime "${text}": no such day`);
  }
  let offsetMs = 0;
  if (zone !== undefined && zone.toUpperCase() !== "Z") {
    const digits = zone.slice(1).replace(/:/g, "");
    const oh = Number(digits.slice(0, 2)), om = Number(digits.slice(2, 4));
    const os = digits.length > 4 ? Number(digits.slice(4)) : 0;
    offsetMs = (zone[0] === "-" ? -1 : 1) * ((oh * 60 + om) * 60 + os) * 1000;
  }
  const instant = date.getTime() - offsetMs;
  const micro = frac.length > 3 ? Number(frac.padEnd(6, "0").slice(0, 6)) : 0;
  return micro % 1000 === 0 ? new Date(instant) : new MicrosecondDate(instant, micro);
}

function formatUuid(value: unknown): string {
  const raw = typeof value === "string" ? value : value !== null && typeof value === "object" &&
      typeof (value as { hex?: unknown }).hex === "string"
    ? (value as { hex: string }).hex
    : undefined;
  if (raw === undefined) {
    throw new DecodeError(`Cannot decode uuid: expected {"hex": ...} or a string`);
  }
  const hex = raw.replace(/^urn:uuid:/i, "").replace(/[{}-]/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) {
    throw new DecodeError(`Cannot decode uuid "${raw}": not 32 hex digits`);
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

function taggedString(type: string, value: unknown): string {
  if (typeof value !== "string") {
    throw new DecodeError(`Cannot decode tagged type "${type}": its value is not a string`);
  }
  return value;
}

/**
 * Turns one Kombu tagged value (`{"__type__": T, "__value__": V}`) into its JavaScript form: a
 * type registered with `registerType` by its decoder, `datetime` to `Date`, `date`/`time`/`decimal`/`uuid` to strings, `bytes`/`base64` to
 * `Uint8Array`.
 *
 * @param type the `__type__`
 * @param value the `__value__`
 * @returns the decoded value
 * @throws {DecodeError} for an unknown type or a malformed value
 */
export function decodeTaggedValue(type: unknown, value: unknown): unknown {
  const custom = registeredDecoder(type);
  if (custom !== undefined) return custom(value);
  switch (type) {
    case "datetime":
      return parseIsoDateTime(taggedString(type, value));
    case "date":
    case "time":
    case "decimal":
      return taggedString(type, value);
    case "uuid":
      return formatUuid(value);
    case "bytes":
      return utf8Encoder.encode(taggedString(type, value));
    case "base64":
      return decodeBase64(taggedString(type, value));
    default:
      throw new DecodeError(`Cannot decode tagged type "${String(type)}": unsupported type`);
  }
}

function reviveTagged(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (TYPE_KEY in o && VALUE_KEY in o) {
      let count = 0;
      for (const _ in o) count++;
      if (count === 2) return decodeTaggedValue(o[TYPE_KEY], o[VALUE_KEY]);
    }
  }
  return value;
}

/** Strings, or the non-finite literals Python's `json.dumps` writes (`NaN`, `Infinity`). */
const PYTHON_NON_FINITE = /"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g;
/** A key no JSON text can hold (a lone NUL is escaped in JSON strings), for the placeholders. */
const NON_FINITE_KEY = "\u0000nonfinite";

function reviveNonFinite(this: unknown, key: string, value: unknown): unknown {
  if (
    value !== null && typeof value === "object" && NON_FINITE_KEY in value &&
    Object.keys(value).length === 1
  ) {
    const literal = (value as Record<string, unknown>)[NON_FINITE_KEY];
    return literal === "NaN" ? NaN : literal === "-Infinity" ? -Infinity : Infinity;
  }
  return reviveTagged(key, value);
}

/**
 * Parses Kombu JSON text, decoding tagged types. Walks the value only when the text contains
 * `__type__`. Like Python's `json.loads`, it also reads the `NaN`, `Infinity` and `-Infinity`
 * literals Python writes for non-finite floats (on a second, slower pass).
 *
 * @param text JSON text
 * @returns the value
 * @throws {DecodeError} on invalid JSON or an unknown tagged type
 */
export function parseKombuJson(text: string): unknown {
  try {
    return text.includes(TYPE_KEY) ? JSON.parse(text, reviveTagged) : JSON.parse(text);
  } catch (cause) {
    if (cause instanceof DecodeError) throw cause;
    if (cause instanceof SyntaxError && (text.includes("NaN") || text.includes("Infinity"))) {
      const marked = text.replace(
        PYTHON_NON_FINITE,
        (token) => token[0] === '"' ? token : `{"\\u0000nonfinite": "${token}"}`,
      );
      if (marked !== text) {
        try {
          return JSON.parse(marked, reviveNonFinite);
        } catch (again) {
          if (again instanceof DecodeError) throw again;
        }
      }
    }
    throw new DecodeError(`Cannot decode JSON: ${errorText(cause)}`, { cause });
  }
}

function isoForPython(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new EncodeError("Cannot serialize an invalid Date");
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) {
    throw new EncodeError(`Cannot serialize Date of year ${year}: Python's datetime needs 1..9999`);
  }
  // Python before 3.11 cannot read "Z" in fromisoformat; "+00:00" works everywhere.
  if (date instanceof MicrosecondDate) return date.toPythonIso();
  return date.toISOString().replace(/Z$/, "+00:00");
}

function taggedReplacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  const custom = encodeRegistered(original);
  if (custom !== undefined) return custom;
  if (original instanceof Date) {
    return { [TYPE_KEY]: "datetime", [VALUE_KEY]: isoForPython(original) };
  }
  if (value instanceof Uint8Array) return tagBytes(value);
  return value;
}

/**
 * Writes bytes as a Kombu 5.3 tagged value, as Kombu does: `bytes` with the text when they are
 * valid UTF-8, `base64` otherwise.
 *
 * @param bytes the bytes
 * @returns `{"__type__": "bytes" | "base64", "__value__": text}`
 */
export function tagBytes(bytes: Uint8Array): Record<string, string> {
  try {
    return { [TYPE_KEY]: "bytes", [VALUE_KEY]: utf8Decoder.decode(bytes) };
  } catch {
    return { [TYPE_KEY]: "base64", [VALUE_KEY]: encodeBase64(bytes) };
  }
}

/** True when JSON text has an object that a Uint8Array turns into (`{}` or `{"0":...`). */
function looksLikeBytes(text: string): boolean {
  for (let at = text.indexOf("{"); at !== -1; at = text.indexOf("{", at + 1)) {
    const next = text.charCodeAt(at + 1);
    if (next === 0x7d || (next === 0x22 && text.startsWith('"0":', at + 1))) return true;
  }
  return false;
}

/**
 * True when JSON.stringify could meet a Uint8Array in `value`: one is found, or an object with
 * its own `toJSON` (other than a Date) hides what it turns into.
 */
function mayHoldBytes(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  if (value instanceof Uint8Array) return true;
  if (value instanceof Date) return false;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return true;
  if (Array.isArray(value)) {
    for (const item of value) if (mayHoldBytes(item)) return true;
    return false;
  }
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) if (mayHoldBytes(o[key])) return true;
  return false;
}

function plainReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) {
    throw new EncodeError(
      'Cannot serialize a Uint8Array as JSON: use the "json-tagged" or "raw" serializer',
    );
  }
  return value;
}

/** Options of {@link createJsonSerializer}. */
export interface JsonSerializerOptions {
  /** Name to register it under; default `json`, or `json-tagged` when `tagTypes` is set. */
  name?: string;
  /**
   * Encode `Date` and `Uint8Array` as Kombu 5.3 tagged types (`{"__type__": "datetime", ...}`).
   * Off by default: Kombu 5.2 peers do not understand tags (they see a plain object). Without
   * it a `Date` becomes an ISO string (what Kombu 5.2 writes) and a `Uint8Array` is refused.
   */
  tagTypes?: boolean;
}

/**
 * Makes a JSON serializer (`application/json`, `utf-8`). Decoding always understands Kombu's
 * tagged types: `datetime` becomes a `Date` (a naive time is taken as UTC), `date`, `time`,
 * `decimal` and `uuid` become strings, `bytes` and `base64` become `Uint8Array`s. Python's
 * `NaN`/`Infinity` literals decode to the numbers; encoding refuses nothing JSON.stringify
 * accepts (it writes non-finite numbers as `null`, as JavaScript does).
 *
 * @param options name and whether to encode tagged types
 * @returns the serializer
 */
export function createJsonSerializer(options: JsonSerializerOptions = {}): Serializer {
  const tag = options.tagTypes === true;
  return {
    name: options.name ?? (tag ? "json-tagged" : "json"),
    contentType: "application/json",
    contentEncoding: "utf-8",
    encode(value: unknown): string {
      let text: string | undefined;
      if (tag) {
        text = JSON.stringify(value, taggedReplacer);
      } else {
        text = JSON.stringify(value);
        // A Uint8Array would come out as {"0":..} (or {} when empty): only then look for one,
        // and let the replacer pass refuse it (empty objects are common: Celery's kwargs).
        if (text !== undefined && looksLikeBytes(text) && mayHoldBytes(value)) {
          JSON.stringify(value, plainReplacer);
        }
      }
      if (text === undefined) {
        throw new EncodeError(`Cannot serialize a value of type "${typeof value}" as JSON`);
      }
      return text;
    },
    decode(body: Uint8Array): unknown {
      return parseKombuJson(decodeUtf8Strict(body));
    },
    decodeText: parseKombuJson,
  };
}

/** JSON, plain (Kombu 5.2 compatible): registered as `json`. */
export const jsonSerializer: Serializer = createJsonSerializer();

/** JSON that encodes `Date`/`Uint8Array` as Kombu 5.3 tagged types: registered as `json-tagged`. */
export const jsonTaggedSerializer: Serializer = createJsonSerializer({ tagTypes: true });
