/**
 * Custom types in Kombu's tagged JSON (Kombu 5.3's `kombu.utils.json.register_type`):
 * `{"__type__": marker, "__value__": encoder(value)}` on the way out, `decoder(value)` on the
 * way in.
 *
 * @module
 */

/** A class whose instances are tagged (any constructor, abstract ones too). */
// deno-lint-ignore no-explicit-any
export type TaggedClass<T> = abstract new (...args: any[]) => T;

interface Entry {
  readonly type: TaggedClass<unknown>;
  readonly marker: string;
  readonly encoder: (value: never) => unknown;
}

const encoders: Entry[] = [];
const decoders = new Map<string, (value: unknown) => unknown>();

/**
 * Registers a type for tagged JSON, as Kombu 5.3's `register_type(t, marker, encoder, decoder)`:
 * the `json-tagged` serializer writes an instance of `type` as
 * `{"__type__": marker, "__value__": encoder(instance)}`, and every JSON decode turns such a
 * tag back with `decoder`. A marker registered again replaces the earlier one (a built-in one
 * such as `datetime` or `decimal` too); the first matching class wins when encoding.
 *
 * @param type the class (checked with `instanceof`)
 * @param marker the `__type__` value
 * @param encoder the instance to a JSON value
 * @param decoder the JSON value back to an instance
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registerType, serializers, unregisterType } from "@wakame/wakame";
 * class Money {
 *   constructor(readonly cents: number) {}
 * }
 * registerType(Money, "money", (m) => m.cents, (v) => new Money(v as number));
 * const { body, contentType, contentEncoding } = serializers.dumps({ price: new Money(250) }, "json-tagged");
 * assert.equal(body, '{"price":{"__type__":"money","__value__":250}}');
 * const back = serializers.loads(body, contentType, contentEncoding) as { price: Money };
 * assert.ok(back.price instanceof Money);
 * unregisterType("money");
 * ```
 */
export function registerType<T>(
  type: TaggedClass<T>,
  marker: string,
  encoder: (value: T) => unknown,
  decoder: (value: unknown) => T,
): void {
  unregisterType(marker);
  encoders.push({ type, marker, encoder });
  decoders.set(marker, decoder);
}

/**
 * Forgets a marker registered with {@link registerType}; the built-in decoding of that marker,
 * if any, applies again.
 *
 * @param marker the `__type__` value
 * @returns true when it was registered
 */
export function unregisterType(marker: string): boolean {
  const at = encoders.findIndex((e) => e.marker === marker);
  if (at >= 0) encoders.splice(at, 1);
  return decoders.delete(marker);
}

/** The tagged form of `value` when a registered class matches it, else `undefined`. */
export function encodeRegistered(value: unknown): Record<string, unknown> | undefined {
  if (encoders.length === 0 || value === null || typeof value !== "object") return undefined;
  for (const entry of encoders) {
    if (value instanceof entry.type) {
      return { __type__: entry.marker, __value__: entry.encoder(value as never) };
    }
  }
  return undefined;
}

/** The registered decoder of a marker, if any. */
export function registeredDecoder(marker: unknown): ((value: unknown) => unknown) | undefined {
  return typeof marker === "string" ? decoders.get(marker) : undefined;
}
