/**
 * The Standard Schema interface (https://standardschema.dev, `@standard-schema/spec` 1.x), as
 * types only: zod, valibot, arktype and others implement it, so a queue can validate its
 * payloads with any of them while wakame depends on none.
 *
 * The spec asks libraries to copy its types rather than depend on the package; these are the
 * same shapes under flat names (a test checks that they match `@standard-schema/spec`).
 *
 * @module
 */

/** A schema that validates an input and gives a typed output. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly "~standard": StandardSchemaProps<Input, Output>;
}

/** The properties every Standard Schema has. */
export interface StandardSchemaProps<Input = unknown, Output = Input> {
  /** The version of the spec (1). */
  readonly version: 1;
  /** The library that made the schema, such as `zod`. */
  readonly vendor: string;
  /** Validates a value: the output, or the issues; sync or async. */
  readonly validate: (
    value: unknown,
  ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
  /** Input and output types, for inference only. */
  readonly types?: StandardSchemaTypes<Input, Output> | undefined;
}

/** The result of a validation: a value, or issues. */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaIssue> };

/** One problem found by a validator. */
export interface StandardSchemaIssue {
  /** What is wrong. */
  readonly message: string;
  /** Where, as keys or `{ key }` segments. */
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** The input and output types of a schema. */
export interface StandardSchemaTypes<Input = unknown, Output = Input> {
  /** The input type. */
  readonly input: Input;
  /** The output type. */
  readonly output: Output;
}

/** The output type of a Standard Schema (`InferOutput<typeof schema>`). */
export type InferOutput<S extends StandardSchemaV1> = NonNullable<
  S["~standard"]["types"]
>["output"];
