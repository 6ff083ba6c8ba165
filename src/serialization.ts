/**
 * Serializers and the registry that picks one by name or content type (Kombu's
 * `kombu.serialization`).
 *
 * Built in: `json` (`application/json`), `text` (`text/plain`), `raw` (`application/data`),
 * `msgpack` (`application/x-msgpack`) and `yaml` (`application/x-yaml`). Pickle
 * (`application/x-python-serialize`) is never decoded, whatever is registered or accepted.
 * `msgpack` and `yaml` need the optional npm packages `msgpackr` and `yaml`, loaded on first use
 * (the producer and consumer load them; see {@link SerializerRegistry.load}).
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./_base64.ts";
import { type Body, bodyBytes, bodyText, decodeUtf8Strict } from "./body.ts";
import { msgpackSerializer } from "./serializers/msgpack.ts";
import { yamlSerializer } from "./serializers/yaml.ts";
import { ConfigurationError, ContentDisallowedError, DecodeError, EncodeError } from "./errors.ts";

/**
 * A way to turn values into bytes and back (one entry of Kombu's serializer registry). Text
 * serializers may return a string from `encode` (it stands for its UTF-8 bytes) and read one in
 * `decodeText`, so that in-process transports never round-trip through UTF-8.
 */
export interface Serializer {
  /** The name producers ask for (`json`, `msgpack`). */
  readonly name: string;
  /** The MIME type written to the `content-type` property. */
  readonly contentType: string;
  /** The charset written to `content-encoding` (`utf-8`, or `binary` for bytes). */
  readonly contentEncoding: string;
  /**
   * Serializes a value.
   *
   * @param value the value
   * @returns the bytes, or text standing for its UTF-8 bytes
   */
  encode(value: unknown): Body;
  /**
   * Deserializes bytes.
   *
   * @param body the bytes
   * @returns the value
   */
  decode(body: Uint8Array): unknown;
  /**
   * Optional: deserializes a body that arrived as text (a string standing for UTF-8 bytes, from
   * an in-process store or a text envelope) without encoding it to bytes first. Without it, the
   * registry encodes the text and calls {@link Serializer.decode}.
   */
  decodeText?(text: string): unknown;
  /**
   * Optional: serializes with a content type and encoding that depend on the value (`raw` sends
   * bytes as `binary` and strings as `utf-8`). Used by {@link SerializerRegistry.dumps} instead
   * of {@link Serializer.encode} when present.
   */
  encodeWithType?(value: unknown): Encoded;
  /**
   * Optional: deserializes with the charset the message declares (`text`, `raw`). Used by
   * {@link SerializerRegistry.loads} instead of {@link Serializer.decode} when present.
   */
  decodeWithEncoding?(body: Uint8Array, contentEncoding: string | undefined): unknown;
  /**
   * Optional, for serializers whose code loads on first use: false until {@link Serializer.load}
   * has resolved.
   */
  readonly ready?: boolean;
  /** Optional: loads the serializer's code (an optional npm package). */
  load?(): Promise<void>;
}

/** A serialized body with the properties that describe it. */
export interface Encoded {
  /** The serialized bytes, or text standing for its UTF-8 bytes. */
  body: Body;
  /** Value for the `content-type` property. */
  contentType: string;
  /** Value for the `content-encoding` property. */
  contentEncoding: string;
}

/** The content type of Python's pickle: never decoded (it runs code). */
export const PICKLE_CONTENT_TYPE = "application/x-python-serialize";

/**
 * Content types any consumer accepts without asking: raw bytes and raw text (Kombu's
 * `TRUSTED_CONTENT`).
 */
export const TRUSTED_CONTENT: ReadonlySet<string> = new Set([
  "application/data",
  "application/text",
]);

/**
 * What a consumer accepts when it names nothing: JSON, plain text and raw bytes or text. Python
 * Kombu without an accept list takes the same ones: it disables pickle, YAML and msgpack by
 * default. (`text/plain` is what `dumps` picks for a string.)
 */
export const DEFAULT_ACCEPT: readonly string[] = [
  "application/json",
  "application/data",
  "application/text",
  "text/plain",
];

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Charsets that mean "these are bytes, do not decode" (Kombu's `SKIP_DECODE`). */
const BINARY_CHARSETS: ReadonlySet<string> = new Set(["binary", "ascii-8bit"]);

const normalizedTypes = new Map<string, string>();

function normalizeType(contentType: string): string {
  // Content types repeat on every message: remember the few that are seen.
  const known = normalizedTypes.get(contentType);
  if (known !== undefined) return known;
  const semi = contentType.indexOf(";");
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (normalizedTypes.size < 256) normalizedTypes.set(contentType, type);
  return type;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/**
 * Decodes bytes as text in `charset`, or returns them as they are when the charset is absent or
 * binary.
 *
 * @param body the bytes (a string stands for its UTF-8 bytes)
 * @param charset the declared `content-encoding`
 * @returns a string, or the bytes themselves
 * @throws {DecodeError} when the charset is unknown or the bytes are not valid in it
 */
export function decodeCharset(body: Body, charset: string | undefined): string | Uint8Array {
  if (charset === undefined || charset === "") return bodyBytes(body);
  const label = charset.trim().toLowerCase();
  if (BINARY_CHARSETS.has(label)) return bodyBytes(body);
  if (label === "utf-8" || label === "utf8") {
    // A lone surrogate in text reads as U+FFFD, as its UTF-8 bytes do.
    return typeof body === "string" ? bodyText(body) : decodeUtf8Strict(body);
  }
  body = bodyBytes(body);
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label, { fatal: true });
  } catch (cause) {
    throw new DecodeError(`Cannot decode body: unknown content encoding "${charset}"`, { cause });
  }
  try {
    return decoder.decode(body);
  } catch (cause) {
    throw new DecodeError(`Cannot decode body as "${charset}": ${errorText(cause)}`, { cause });
  }
}

/** True for the charsets a text body may be read in as it is (absent means UTF-8 for text). */
function isUtf8Label(charset: string | undefined): boolean {
  if (charset === undefined || charset === "" || charset === "utf-8") return true;
  const label = charset.trim().toLowerCase();
  return label === "utf-8" || label === "utf8";
}

// ---------------------------------------------------------------------------------------------
// JSON with Kombu's tagged types

const TYPE_KEY = "__type__";
const VALUE_KEY = "__value__";

const ISO_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2}(?::?\d{2}(?:\.\d{1,6})?)?)?)?$/i;

/**
 * Parses the ISO 8601 text Python's `datetime.isoformat()` writes. A naive time (no offset) is
 * taken as UTC, as Celery writes UTC. Precision beyond milliseconds is dropped.
 *
 * @param text e.g. `2024-05-01T12:00:00.123456+02:00`
 * @returns the instant
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
  return new Date(date.getTime() - offsetMs);
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
 * Turns one Kombu tagged value (`{"__type__": T, "__value__": V}`) into its JavaScript form:
 * `datetime` to `Date`, `date`/`time`/`decimal`/`uuid` to strings, `bytes`/`base64` to
 * `Uint8Array`.
 *
 * @param type the `__type__`
 * @param value the `__value__`
 * @returns the decoded value
 * @throws {DecodeError} for an unknown type or a malformed value
 */
export function decodeTaggedValue(type: unknown, value: unknown): unknown {
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
  return date.toISOString().replace(/Z$/, "+00:00");
}

function taggedReplacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
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

/** Plain text (`text/plain`, `utf-8`): encodes strings only. */
export const textSerializer: Serializer = {
  name: "text",
  contentType: "text/plain",
  contentEncoding: "utf-8",
  encode(value: unknown): string {
    if (typeof value !== "string") {
      throw new EncodeError(`Cannot serialize a ${typeof value} as text: only strings`);
    }
    return value;
  },
  decode(body: Uint8Array): unknown {
    return decodeUtf8Strict(body);
  },
  decodeText(text: string): unknown {
    return text;
  },
  decodeWithEncoding(body: Uint8Array, contentEncoding: string | undefined): unknown {
    return decodeCharset(body, contentEncoding || "utf-8");
  },
};

/**
 * Raw bytes (`application/data`): a `Uint8Array` goes as it is (`binary`), a string as UTF-8
 * (`utf-8`), like Kombu's `raw_encode`. Decoding gives a string for a text charset, else bytes.
 */
export const rawSerializer: Serializer = {
  name: "raw",
  contentType: "application/data",
  contentEncoding: "binary",
  encode(value: unknown): Body {
    return rawSerializer.encodeWithType!(value).body;
  },
  encodeWithType(value: unknown): Encoded {
    if (value instanceof Uint8Array) {
      return { body: value, contentType: "application/data", contentEncoding: "binary" };
    }
    if (typeof value === "string") {
      return { body: value, contentType: "application/data", contentEncoding: "utf-8" };
    }
    throw new EncodeError(
      `Cannot serialize a ${typeof value} as raw data: only Uint8Array or string`,
    );
  },
  decode(body: Uint8Array): unknown {
    return body;
  },
  decodeWithEncoding(body: Uint8Array, contentEncoding: string | undefined): unknown {
    return decodeCharset(body, contentEncoding);
  },
};

export { msgpackSerializer, yamlSerializer };

/** What `loads` decided for a content type, while the registry is unchanged. */
interface LoadsDecision {
  readonly contentType: string | undefined;
  readonly type: string;
  readonly trusted: boolean;
  readonly version: number;
  readonly serializer: Serializer;
}

/** Runs a serializer's decoder; a text body is read as it is when the serializer can. */
function decodeWith(
  serializer: Serializer,
  body: Body,
  contentType: string | undefined,
  contentEncoding: string | undefined,
): unknown {
  try {
    if (typeof body === "string") {
      if (serializer.decodeText !== undefined && isUtf8Label(contentEncoding)) {
        return serializer.decodeText(bodyText(body));
      }
      body = bodyBytes(body);
    }
    if (serializer.decodeWithEncoding !== undefined) {
      return serializer.decodeWithEncoding(body, contentEncoding);
    }
    return serializer.decode(body);
  } catch (cause) {
    if (cause instanceof DecodeError) throw cause;
    throw new DecodeError(
      `Cannot deserialize content of type "${contentType}": ${errorText(cause)}`,
      { cause },
    );
  }
}

/** Options of {@link SerializerRegistry.register}. */
export interface RegisterOptions {
  /** More names that select the serializer in `dumps`, `enable` and accept lists. */
  aliases?: string[];
}

/**
 * Keeps serializers by name and content type (Kombu's `SerializerRegistry`). Encoding picks a
 * serializer by name; decoding picks one by the message's content type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serializers } from "@wakame/wakame";
 * await serializers.load("msgpack"); // msgpack loads its package (msgpackr) on first use
 * const { body, contentType, contentEncoding } = serializers.dumps({ hello: "world" }, "msgpack");
 * const accept = serializers.prepareAccept(["json", "msgpack"]);
 * const value = serializers.loads(body, contentType, contentEncoding, accept);
 * assert.deepEqual(value, { hello: "world" });
 * ```
 */
export class SerializerRegistry {
  /** Names and aliases to serializers. */
  #byName = new Map<string, Serializer>();
  /** Content types to the serializer that decodes them. */
  #byType = new Map<string, Serializer>();
  /** Content types refused everywhere. */
  #disabled = new Set<string>();
  #defaultAccept: ReadonlySet<string> = new Set(DEFAULT_ACCEPT);
  /** Bumped by every change that can alter what `loads` decides. */
  #version = 0;
  #lastLoads: LoadsDecision | undefined;

  /**
   * Adds (or replaces) a serializer. Its content type is then decoded by it.
   *
   * @param serializer the serializer
   * @param options aliases
   */
  register(serializer: Serializer, options?: RegisterOptions): void {
    this.#version++;
    this.#byName.set(serializer.name, serializer);
    for (const alias of options?.aliases ?? []) this.#byName.set(alias, serializer);
    this.#byType.set(normalizeType(serializer.contentType), serializer);
  }

  /**
   * Removes a serializer and its aliases (Kombu's `unregister`).
   *
   * @param name its name
   * @throws {ConfigurationError} when no serializer has that name
   */
  unregister(name: string): void {
    this.#version++;
    const serializer = this.#byName.get(name);
    if (serializer === undefined) {
      throw new ConfigurationError(`Cannot unregister serializer "${name}": it is not registered`);
    }
    for (const [key, value] of this.#byName) if (value === serializer) this.#byName.delete(key);
    const type = normalizeType(serializer.contentType);
    if (this.#byType.get(type) === serializer) {
      this.#byType.delete(type);
      for (const other of this.#byName.values()) {
        if (normalizeType(other.contentType) === type) {
          this.#byType.set(type, other);
          break;
        }
      }
    }
  }

  /**
   * Accepts a content type again after {@link SerializerRegistry.disable}.
   *
   * @param nameOrContentType a serializer name or a MIME type
   * @throws {ConfigurationError} for an unknown name
   */
  enable(nameOrContentType: string): void {
    this.#version++;
    this.#disabled.delete(this.#resolveType(nameOrContentType, "enable"));
  }

  /**
   * Refuses a content type in every `loads`, even when a consumer lists it in its accept set
   * (Kombu refuses disabled types only for consumers without an accept list).
   *
   * @param nameOrContentType a serializer name or a MIME type
   * @throws {ConfigurationError} for an unknown name
   */
  disable(nameOrContentType: string): void {
    this.#version++;
    this.#disabled.add(this.#resolveType(nameOrContentType, "disable"));
  }

  /**
   * Loads the code of serializers that load on first use (`msgpack` needs the npm package
   * `msgpackr`, `yaml` needs `yaml`). Others need nothing and are skipped. Producers load the
   * serializer they publish with and consumers the ones they accept, so this is needed only
   * before calling {@link SerializerRegistry.dumps} / {@link SerializerRegistry.loads} directly.
   *
   * @param namesOrContentTypes names, aliases or MIME types; unknown ones are ignored
   * @throws {ConfigurationError} when a serializer's package is not installed (naming it)
   */
  async load(...namesOrContentTypes: string[]): Promise<void> {
    for (const key of namesOrContentTypes) {
      const serializer = this.get(key);
      if (serializer?.load !== undefined && serializer.ready === false) await serializer.load();
    }
  }

  /**
   * Loads the serializer of a content type if it loads on first use and `accept` lets the type
   * through (a refused type never loads anything).
   *
   * @param contentType the message's `content-type`
   * @param accept MIME types to accept; default {@link DEFAULT_ACCEPT}
   * @throws {ConfigurationError} when the serializer's package is not installed (naming it)
   */
  async loadAccepted(contentType: string, accept?: ReadonlySet<string>): Promise<void> {
    const type = normalizeType(contentType);
    const serializer = this.#byType.get(type);
    if (
      serializer?.load !== undefined && serializer.ready === false && !this.#disabled.has(type) &&
      (accept ?? this.#defaultAccept).has(type)
    ) {
      await serializer.load();
    }
  }

  /**
   * Whether a serializer must be loaded before use (see {@link SerializerRegistry.load}).
   *
   * @param nameOrContentType a name, an alias or a MIME type
   * @returns true when it is registered and not loaded yet
   */
  needsLoad(nameOrContentType: string): boolean {
    return this.get(nameOrContentType)?.ready === false;
  }

  /**
   * Finds a serializer.
   *
   * @param nameOrContentType a name, an alias or a MIME type
   * @returns the serializer, or `undefined`
   */
  get(nameOrContentType: string): Serializer | undefined {
    if (nameOrContentType.includes("/")) return this.#byType.get(normalizeType(nameOrContentType));
    return this.#byName.get(nameOrContentType);
  }

  /**
   * Serializes a value (Kombu's `dumps`). Without a serializer name, a `Uint8Array` goes raw
   * (`application/data`, `binary`), a string as `text/plain`, anything else as JSON, as Kombu
   * does.
   *
   * @param value the value
   * @param serializer a name or alias (`json`, `msgpack`, `yaml`, `raw`, `text`, `json-tagged`)
   * @returns the body with its content type and encoding
   * @throws {EncodeError} when the serializer is unknown or fails
   */
  dumps(value: unknown, serializer?: string): Encoded {
    let chosen: Serializer | undefined;
    if (serializer === undefined) {
      chosen = value instanceof Uint8Array
        ? rawSerializer
        : typeof value === "string"
        ? textSerializer
        : this.#byName.get("json") ?? jsonSerializer;
    } else {
      chosen = this.#byName.get(serializer);
      if (chosen === undefined) {
        throw new EncodeError(
          `Cannot serialize with "${serializer}": no serializer of that name is registered`,
        );
      }
    }
    try {
      if (chosen.encodeWithType !== undefined) return chosen.encodeWithType(value);
      return {
        body: chosen.encode(value),
        contentType: chosen.contentType,
        contentEncoding: chosen.contentEncoding,
      };
    } catch (cause) {
      if (cause instanceof EncodeError) throw cause;
      throw new EncodeError(`Cannot serialize with "${chosen.name}": ${errorText(cause)}`, {
        cause,
      });
    }
  }

  /**
   * Deserializes a body (Kombu's `loads`).
   *
   * Order: pickle and disabled types are refused first; a body without content type comes back
   * as bytes (or text when `contentEncoding` names a text charset); a type that is neither
   * trusted (`application/data`, `application/text`) nor in `accept` is refused; then the
   * registered serializer decodes.
   *
   * @param body the bytes (a string stands for its UTF-8 bytes)
   * @param contentType the `content-type` property
   * @param contentEncoding the `content-encoding` property
   * @param accept MIME types to accept (from {@link SerializerRegistry.prepareAccept});
   *   default {@link DEFAULT_ACCEPT}
   * @returns the value
   * @throws {ContentDisallowedError} for pickle, a disabled type or one not accepted
   * @throws {DecodeError} when no serializer knows the type or decoding fails
   */
  loads(
    body: Body,
    contentType: string | undefined,
    contentEncoding: string | undefined,
    accept?: ReadonlySet<string>,
  ): unknown {
    const last = this.#lastLoads;
    if (
      last !== undefined && contentType === last.contentType && last.version === this.#version &&
      (last.trusted || (accept ?? this.#defaultAccept).has(last.type))
    ) {
      return decodeWith(last.serializer, body, contentType, contentEncoding);
    }
    const type = contentType === undefined ? "" : normalizeType(contentType);
    if (type === PICKLE_CONTENT_TYPE) {
      throw new ContentDisallowedError(
        `Refusing to deserialize content of type "${contentType}" (pickle): it can run code`,
      );
    }
    if (this.#disabled.has(type)) {
      throw new ContentDisallowedError(
        `Refusing to deserialize disabled content of type "${contentType}"`,
      );
    }
    if (type === "") return decodeCharset(body, contentEncoding);
    if (!TRUSTED_CONTENT.has(type) && !(accept ?? this.#defaultAccept).has(type)) {
      throw new ContentDisallowedError(
        `Refusing to deserialize untrusted content of type "${contentType}"`,
      );
    }
    const serializer = this.#byType.get(type);
    if (serializer === undefined) {
      if (TRUSTED_CONTENT.has(type)) {
        return decodeCharset(body, contentEncoding || (type === "application/text" ? "utf-8" : ""));
      }
      throw new DecodeError(
        `Cannot deserialize content of type "${contentType}": no serializer is registered for it`,
      );
    }
    // Consumers see one content type over and over: remember this decision until the registry
    // changes (register, unregister, enable, disable).
    // The accept set is still asked every time (a caller's set may change).
    this.#lastLoads = {
      contentType,
      type,
      trusted: TRUSTED_CONTENT.has(type),
      version: this.#version,
      serializer,
    };
    return decodeWith(serializer, body, contentType, contentEncoding);
  }

  /**
   * Turns an accept list of names and MIME types into a set of MIME types (Kombu's
   * `prepare_accept_content`). `pickle` is known by name (and still never decoded).
   *
   * @param accept names (`json`) or MIME types (`application/json`); `undefined` for the default
   * @returns the set of MIME types
   * @throws {ConfigurationError} for a name no serializer has
   */
  prepareAccept(accept?: readonly string[]): ReadonlySet<string> {
    if (accept === undefined) return this.#defaultAccept;
    const out = new Set<string>();
    for (const entry of accept) out.add(this.#resolveType(entry, "accept"));
    return out;
  }

  #resolveType(nameOrContentType: string, action: string): string {
    if (nameOrContentType.includes("/")) return normalizeType(nameOrContentType);
    if (nameOrContentType === "pickle") return PICKLE_CONTENT_TYPE;
    const serializer = this.#byName.get(nameOrContentType);
    if (serializer === undefined) {
      throw new ConfigurationError(
        `Cannot ${action} serializer "${nameOrContentType}": no serializer of that name is registered`,
      );
    }
    return normalizeType(serializer.contentType);
  }
}

/** The default registry, with the built-in serializers. */
export const serializers: SerializerRegistry = new SerializerRegistry();
serializers.register(jsonTaggedSerializer);
serializers.register(jsonSerializer);
serializers.register(textSerializer);
serializers.register(rawSerializer);
serializers.register(msgpackSerializer);
serializers.register(yamlSerializer);
