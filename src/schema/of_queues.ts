/**
 * Which schema a consumer validates with: its own, else the one its queues share.
 *
 * @module
 */

import { ConfigurationError } from "../errors.ts";
import type { StandardSchemaV1 } from "./standard_schema.ts";

/**
 * Picks a consumer's schema.
 *
 * @param own the consumer's `schema` option
 * @param queues its queues
 * @returns the schema, or undefined when neither the consumer nor any queue has one
 * @throws {ConfigurationError} when the queues have different schemas and the consumer none
 */
export function schemaOf<T>(
  own: StandardSchemaV1<unknown, T> | undefined,
  queues: ReadonlyArray<{ readonly name: string; readonly schema?: StandardSchemaV1<unknown, T> }>,
): StandardSchemaV1<unknown, T> | undefined {
  if (own !== undefined) return own;
  const found = new Set(queues.map((q) => q.schema).filter((s) => s !== undefined));
  if (found.size > 1) {
    throw new ConfigurationError(
      `Cannot consume from ${queues.map((q) => `"${q.name}"`).join(", ")}: the queues have ` +
        "different schemas; give the consumer its own schema",
    );
  }
  return found.values().next().value;
}
