/**
 * The registry that picks a serializer by name or content type (Kombu's `SerializerRegistry`),
 * and the default one with the built-in serializers.
 *
 * @module
 */

import { type Body, bodyBytes, bodyText } from "../body.ts";
import { ConfigurationError, ContentDisallowedError, DecodeError, EncodeError } from "../errors.ts";
import { errorText } from "./_error_text.ts";
import { decodeCharset, isUtf8Label } from "./charset.ts";
import { msgpackSerializer } from "./msgpack.ts";
import { jsonSerializer, jsonTaggedSerializer } from "./tagged_json.ts";
import { rawSerializer, textSerializer } from "./text.ts";
import type { Encoded, Serializer } from "./types.ts";
import { yamlSerializer } from "./yaml.ts";

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
   * @returns a promise while something loads; `undefined` when nothing needs loading (the common
   *   case: decoding a message then costs no promise)
   * @throws {ConfigurationError} when the serializer's package is not installed (naming it)
   */
  loadAccepted(contentType: string, accept?: ReadonlySet<string>): Promise<void> | undefined {
    const type = normalizeType(contentType);
    const serializer = this.#byType.get(type);
    if (
      serializer?.load !== undefined && serializer.ready === false && !this.#disabled.has(type) &&
      (accept ?? this.#defaultAccept).has(type)
    ) {
      return serializer.load();
    }
    return undefined;
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
