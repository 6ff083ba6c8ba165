/**
 * JSON text that is the same for equal values whatever the key order: object keys sorted,
 * bigints and bytes kept apart from the numbers and objects they would otherwise look like
 * (plain `JSON.stringify` throws on a bigint and tells `{a, b}` from `{b, a}`). Used for
 * declaration keys and binding identity.
 *
 * @module
 */

function canonicalReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Uint8Array) return `bytes:${value.join(",")}`;
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    return Object.fromEntries(entries.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  }
  return value;
}

/**
 * Serializes a value as canonical JSON text.
 *
 * @param value any JSON-like value (bigints and `Uint8Array`s allowed)
 * @returns the text (`undefined` for `undefined`, as `JSON.stringify`)
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, canonicalReplacer);
}
