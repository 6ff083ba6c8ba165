/**
 * Typed queues: payload validation with any Standard Schema (zod, valibot, arktype ...).
 *
 * A `Queue<T>` with a `schema` types its consumers' bodies and `message.payload` as `T`; the
 * consumer validates each decoded payload and rejects, without requeue, one that fails (the
 * validator's issues are logged, or handed to `onDecodeError`). A `Producer<T>` with a `schema`
 * validates before publishing and throws a `ValidationError`.
 *
 * @module
 */

export type {
  InferOutput,
  StandardSchemaIssue,
  StandardSchemaProps,
  StandardSchemaResult,
  StandardSchemaTypes,
  StandardSchemaV1,
} from "./standard_schema.ts";
export { formatIssues, validate } from "./validate.ts";
export { schemaOf } from "./of_queues.ts";
