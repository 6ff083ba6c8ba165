/**
 * Serializers whose code lives in an optional npm package, loaded on first use (`msgpack` needs
 * `msgpackr`, `yaml` needs `yaml`). Until {@link LazySerializer.load} resolves, encoding and
 * decoding fail with a message that says so; the producer, the consumer and `SimpleQueue` load
 * what they need before they use it, so users meet that message only when they call
 * `serializers.dumps` / `loads` themselves.
 *
 * @module
 */

import { importOptional, type OptionalPackage } from "../_import.ts";
import type { Body } from "../body.ts";
import { DecodeError, EncodeError } from "../errors.ts";
import type { Serializer } from "./types.ts";

/** The encode and decode functions a loaded package provides. */
export interface Codec {
  /** Serializes a value. */
  encode(value: unknown): Body;
  /** Deserializes bytes. */
  decode(body: Uint8Array): unknown;
  /** Deserializes text standing for UTF-8 bytes, when the codec reads text. */
  decodeText?(text: string): unknown;
}

/** How to describe and build a {@link LazySerializer}. */
export interface LazySerializerSpec<M> {
  /** The serializer's name. */
  readonly name: string;
  /** Its MIME type. */
  readonly contentType: string;
  /** Its charset (`binary` for bytes). */
  readonly contentEncoding: string;
  /** The optional package to load. */
  readonly package: OptionalPackage;
  /** Builds the codec from the loaded package. */
  make(module: M): Codec;
}

/** A serializer that loads its package on first use. */
export interface LazySerializer extends Serializer {
  /** True once the package is loaded. */
  readonly ready: boolean;
  /** Loads the package (once; a failed load may be retried). */
  load(): Promise<void>;
}

/**
 * Makes a serializer that loads its optional package on first use.
 *
 * @param spec the serializer's name, types, package and codec builder
 * @returns the serializer
 */
export function lazySerializer<M>(spec: LazySerializerSpec<M>): LazySerializer {
  let codec: Codec | undefined;
  let loading: Promise<void> | undefined;
  const notLoaded = (action: string): string =>
    `Cannot ${action} with "${spec.name}" yet: its package "${spec.package.name}" loads on ` +
    `first use; call \`await serializers.load("${spec.name}")\` first`;
  const serializer: LazySerializer = {
    name: spec.name,
    contentType: spec.contentType,
    contentEncoding: spec.contentEncoding,
    get ready(): boolean {
      return codec !== undefined;
    },
    load(): Promise<void> {
      if (codec !== undefined) return Promise.resolve();
      loading ??= importOptional<M>(spec.package).then(
        (module) => {
          codec = spec.make(module);
        },
        (error) => {
          loading = undefined;
          throw error;
        },
      );
      return loading;
    },
    encode(value: unknown): Body {
      if (codec === undefined) throw new EncodeError(notLoaded("serialize"));
      return codec.encode(value);
    },
    decode(body: Uint8Array): unknown {
      if (codec === undefined) throw new DecodeError(notLoaded("deserialize"));
      return codec.decode(body);
    },
    decodeText(text: string): unknown {
      if (codec === undefined) throw new DecodeError(notLoaded("deserialize"));
      return codec.decodeText !== undefined
        ? codec.decodeText(text)
        : codec.decode(new TextEncoder().encode(text));
    },
  };
  return serializer;
}
