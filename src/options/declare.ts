/**
 * Transport options declared once: each option's camelCase name, Kombu's name, kind, unit,
 * default, range and a one-line doc. Parsing, validation, the errors, the README option tables
 * ("tools/options_table.ts") and the checks of the module docs come from the declaration.
 *
 * Two spellings are accepted in `transportOptions`: camelCase in wakame's units (durations in
 * milliseconds) and Kombu's snake_case in Kombu's units (a duration's `unit`, seconds unless
 * declared otherwise), so a Celery `broker_transport_options` dictionary can be copied as it
 * is. URL query options always take Kombu's names and units (`?visibility_timeout=3600` is one
 * hour); a camelCase key in a URL is refused with the name to use. An option given in
 * `transportOptions` wins over the URL. An unknown key is a `ConfigurationError` naming the
 * closest known option; a Kombu option that means nothing in wakame is declared `ignored`
 * (accepted, logged once at `warn` level). Where the two spellings are one word (`region`,
 * `sep`) code gives the camelCase one: give a duration a two-word name, or a `kombu` name of its
 * own, so that its unit is never in doubt.
 *
 * How a transport adopts it:
 * ```ts ignore
 * const SQL_OPTIONS = declareOptions("SQL", {
 *   ...VIRTUAL_OPTIONS, // pollingInterval, topicRules, ... (src/virtual/options.ts)
 *   tableName: { kind: "string", default: "kombu_message", doc: "Table of the messages" },
 *   lockTimeout: { kind: "duration", default: 30_000, min: 0, doc: "How long a row stays locked" },
 * });
 * // in openBackend(params): typed values with defaults filled in
 * const o = readOptions(SQL_OPTIONS, params); // o.tableName: string, o.lockTimeout: number (ms)
 * ```
 * and passes `options: SQL_OPTIONS` to `virtualTransport` so the base reads its own options
 * from the same declaration, and adds the declaration to `tools/options_table.ts`.
 *
 * @module
 */

import { ConfigurationError } from "../errors.ts";
import { getLogger } from "../logger.ts";
import { closestNames } from "../utils/closest.ts";

/** What kind of value an option takes (and how its text in a URL is read). */
export type OptionKind =
  /** `true` / `false`; as text `true/false/1/0/yes/no/on/off`, any case. */
  | "boolean"
  /** A finite number. */
  | "number"
  /** A whole number. */
  | "integer"
  /** Milliseconds in camelCase; in the option's `unit` under Kombu's name and in URLs. */
  | "duration"
  /** Text. */
  | "string"
  /** One of `values` (matched ignoring case, given back as declared). */
  | "enum"
  /** An array, or comma-separated text; items are `items` (text by default). */
  | "list"
  /** A plain object (not in a URL). */
  | "object"
  /** A function (not in a URL). */
  | "function"
  /** Any value but `undefined` / `null` (not in a URL). */
  | "any";

/** Which spelling an option was given in. */
export type OptionSpelling = "camel" | "kombu" | "url";

/** The declaration of one option. */
export interface OptionSpec {
  /** The kind of value. */
  readonly kind: OptionKind;
  /** One line of documentation (the README tables show it). */
  readonly doc: string;
  /** Kombu's name; by default the camelCase name in snake_case. */
  readonly kombu?: string;
  /** More accepted names, read as Kombu's spelling (old names, Kombu's variants). */
  readonly aliases?: readonly string[];
  /** A duration's unit under Kombu's name and in URLs (default `s`; camelCase is always ms). */
  readonly unit?: "s" | "ms";
  /** The value when not given (in wakame's units). */
  readonly default?: unknown;
  /** Smallest value (wakame's units). */
  readonly min?: number;
  /** Largest value (wakame's units). */
  readonly max?: number;
  /** The values of an `enum`. */
  readonly values?: readonly string[];
  /** The items of a `list` (default `string`). */
  readonly items?: "string" | "integer";
  /** The value is a secret: never shown in an error. */
  readonly secret?: boolean;
  /** wakame's own option: Kombu has none of that name. */
  readonly own?: boolean;
  /** A Kombu option wakame accepts and ignores (the doc says why); logged once when given. */
  readonly ignored?: boolean;
  /** Reads the value instead of the kind's reader; call `fail` with what was expected. */
  readonly parse?: (
    value: unknown,
    spelling: OptionSpelling,
    fail: (expected: string) => never,
  ) => unknown;
}

/** Every option of one transport, by camelCase name. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** A transport's declaration: its name (for errors) and its options. */
export interface OptionsDeclaration<O extends OptionSpecs = OptionSpecs> {
  /** The transport as errors name it (`Redis`, `SQS`). */
  readonly transport: string;
  /** The options, by camelCase name. */
  readonly options: O;
}

/** The type of the value one declared option reads to. */
export type OptionValue<S> = S extends { parse: (...args: never[]) => infer R } ? R
  : S extends { kind: "boolean" } ? boolean
  : S extends { kind: "number" | "integer" | "duration" } ? number
  : S extends { kind: "enum"; values: readonly (infer V)[] } ? V
  : S extends { kind: "string" } ? string
  : S extends { kind: "list"; items: "integer" } ? number[]
  : S extends { kind: "list" } ? string[]
  : unknown;

/** The values read from a declaration: defaults filled in, `undefined` where none. */
export type OptionValues<O extends OptionSpecs> = {
  -readonly [K in keyof O]: O[K] extends { default: unknown } ? OptionValue<O[K]>
    : OptionValue<O[K]> | undefined;
};

/** Where options come from: the connection's `transportOptions` and the URL's query. */
export interface OptionSource {
  /** Options given in code: camelCase (wakame's units) or Kombu's names (Kombu's units). */
  readonly transportOptions?: Readonly<Record<string, unknown>>;
  /** The URL's query, as written: Kombu's names and units. */
  readonly queryOptions?: Readonly<Record<string, string>>;
}

/**
 * Declares the options of a transport (a typed identity: the literal types are kept, so
 * {@link readOptions} knows each option's type).
 *
 * @param transport the name errors use (`Redis`)
 * @param options the options by camelCase name
 * @returns the declaration
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { declareOptions, readOptions } from "@wakame/wakame";
 * const SQL = declareOptions("SQL", {
 *   tableName: { kind: "string", default: "kombu_message", doc: "Table of the messages" },
 *   visibilityTimeout: { kind: "duration", default: 30_000, min: 0, doc: "Lease of a row" },
 * });
 * const o = readOptions(SQL, {
 *   transportOptions: { visibility_timeout: 60 }, // Kombu's name: seconds
 *   queryOptions: { table_name: "jobs" }, // a URL's query: Kombu's names and units
 * });
 * assert.equal(o.visibilityTimeout, 60_000);
 * assert.equal(o.tableName, "jobs");
 * ```
 */
export function declareOptions<const O extends OptionSpecs>(
  transport: string,
  options: O,
): OptionsDeclaration<O> {
  return { transport, options };
}

/**
 * Kombu's name of an option: `spec.kombu`, else the camelCase name in snake_case.
 *
 * @param name the camelCase name
 * @param spec its declaration
 * @returns Kombu's name
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kombuName } from "@wakame/wakame";
 * assert.equal(kombuName("visibilityTimeout", { kind: "duration", doc: "" }), "visibility_timeout");
 * ```
 */
export function kombuName(name: string, spec: OptionSpec): string {
  return spec.kombu ?? name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

/**
 * Reads a boolean the same way everywhere: `true`/`false`, 1/0, and the text
 * `true/false/1/0/yes/no/on/off` in any case.
 *
 * @param value the value given
 * @returns the boolean, or undefined when the value is none of those
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBoolean } from "@wakame/wakame";
 * assert.equal(parseBoolean("Off"), false);
 * assert.equal(parseBoolean("maybe"), undefined);
 * ```
 */
export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value !== "string") return undefined;
  const text = value.trim().toLowerCase();
  return TRUE.has(text) ? true : FALSE.has(text) ? false : undefined;
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string" || value.trim() === "") return undefined;
  const n = Number(value.trim());
  return Number.isFinite(n) ? n : undefined;
}

function describeRange(spec: OptionSpec, scale: number, unit: string): string {
  const f = (n: number) => `${n / scale}`;
  const u = unit ? ` ${unit}` : "";
  if (spec.min !== undefined && spec.max !== undefined) {
    return ` from ${f(spec.min)} to ${f(spec.max)}${u}`;
  }
  if (spec.min !== undefined) return ` >= ${f(spec.min)}${u}`;
  if (spec.max !== undefined) return ` <= ${f(spec.max)}${u}`;
  return unit ? ` in ${unit}` : "";
}

function parseValue(
  spec: OptionSpec,
  value: unknown,
  spelling: OptionSpelling,
  fail: (expected: string) => never,
): unknown {
  if (spec.parse) return spec.parse(value, spelling, fail);
  switch (spec.kind) {
    case "boolean": {
      const b = parseBoolean(value);
      return b ?? fail("true or false (also 1/0, yes/no, on/off)");
    }
    case "number":
    case "integer":
    case "duration": {
      const seconds = spec.kind === "duration" && spelling !== "camel" &&
        (spec.unit ?? "s") === "s";
      const scale = seconds ? 1000 : 1;
      const unit = spec.kind !== "duration" ? "" : seconds ? "seconds" : "milliseconds";
      const what = spec.kind === "integer"
        ? "a whole number"
        : spec.kind === "duration"
        ? "a duration"
        : "a number";
      const expected = `${what}${describeRange(spec, scale, unit)}`;
      const raw = toNumber(value);
      if (raw === undefined) return fail(expected);
      const n = raw * scale;
      if (spec.kind === "integer" && !Number.isInteger(n)) return fail(expected);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        return fail(expected);
      }
      return n;
    }
    case "string":
      return typeof value === "string" ? value : fail("text");
    case "enum": {
      const values = spec.values ?? [];
      const expected = `one of ${values.map((v) => `"${v}"`).join(", ")}`;
      if (typeof value !== "string") return fail(expected);
      return values.find((v) => v === value) ??
        values.find((v) => v.toLowerCase() === value.trim().toLowerCase()) ?? fail(expected);
    }
    case "list": {
      const integers = spec.items === "integer";
      const expected = integers
        ? "whole numbers >= 0 (an array or comma-separated)"
        : "a list of text (an array or comma-separated)";
      const items = typeof value === "string"
        ? value.split(",").map((s) => s.trim()).filter((s) => s !== "")
        : Array.isArray(value)
        ? value
        : fail(expected);
      if (!integers) return items.every((s) => typeof s === "string") ? [...items] : fail(expected);
      const numbers = items.map(toNumber);
      return numbers.every((n) => n !== undefined && Number.isInteger(n) && n >= 0)
        ? numbers
        : fail(expected);
    }
    case "object":
      if (spelling === "url") {
        return fail("an object, which a URL cannot carry: give it in transportOptions");
      }
      return typeof value === "object" && !Array.isArray(value) ? value : fail("an object");
    case "function":
      if (spelling === "url") {
        return fail("a function, which a URL cannot carry: give it in transportOptions");
      }
      return typeof value === "function" ? value : fail("a function");
    case "any":
      if (spelling === "url") {
        return fail("a value a URL cannot carry: give it in transportOptions");
      }
      return value;
  }
}

function shown(spec: OptionSpec, value: unknown): string {
  if (spec.secret) return `"****"`;
  if (typeof value === "function") return "a function";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object") {
    try {
      const text = JSON.stringify(value);
      return text.length > 80 ? `${text.slice(0, 77)}...` : text;
    } catch {
      return "an object";
    }
  }
  return String(value);
}

interface Entry {
  readonly name: string;
  readonly spec: OptionSpec;
  readonly spelling: "camel" | "kombu";
}

const indexes = new WeakMap<OptionsDeclaration, Map<string, Entry>>();

function indexOf(declaration: OptionsDeclaration): Map<string, Entry> {
  let index = indexes.get(declaration);
  if (index) return index;
  index = new Map();
  for (const [name, spec] of Object.entries(declaration.options)) {
    for (const alias of [kombuName(name, spec), ...(spec.aliases ?? [])]) {
      if (!index.has(alias)) index.set(alias, { name, spec, spelling: "kombu" });
    }
  }
  // camelCase wins where the two spellings are one word (`region`, `sep`).
  for (const [name, spec] of Object.entries(declaration.options)) {
    index.set(name, { name, spec, spelling: "camel" });
  }
  indexes.set(declaration, index);
  return index;
}

const warned = new Set<string>();

function unknownOption(
  declaration: OptionsDeclaration,
  key: string,
  candidates: Iterable<string>,
  where: string,
): never {
  const [near] = closestNames(key, candidates, true);
  const hint = near === undefined ? "" : `; did you mean "${near}"?`;
  throw new ConfigurationError(
    `Cannot use ${declaration.transport} option "${key}"${where}: there is no such option${hint}`,
  );
}

/**
 * Reads options against a declaration: both spellings of `transportOptions`, then the URL's
 * query (Kombu's names and units) for what code did not give, then the defaults.
 *
 * @param declaration the transport's declaration
 * @param source `transportOptions` and the URL's query options (a `ConnectionParams` will do)
 * @param unknown `error` (default): an undeclared key fails; `skip`: undeclared keys are left
 *   to someone else (the virtual base, for a transport that declares nothing)
 * @returns every declared option, in wakame's units
 * @throws {ConfigurationError} naming the transport, the option, what was expected and what was
 *   given (secrets masked); for an unknown key, the closest known option
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigurationError, declareOptions, readOptions } from "@wakame/wakame";
 * const REDIS = declareOptions("Redis", {
 *   visibilityTimeout: { kind: "duration", default: 3_600_000, min: 0, doc: "" },
 * });
 * assert.equal(readOptions(REDIS, { transportOptions: { visibilityTimeout: 5000 } })
 *   .visibilityTimeout, 5000); // camelCase: ms
 * assert.equal(readOptions(REDIS, { queryOptions: { visibility_timeout: "5" } })
 *   .visibilityTimeout, 5000); // the URL: Kombu's seconds
 * assert.throws(
 *   () => readOptions(REDIS, { transportOptions: { visiblity_timeout: 5 } }),
 *   ConfigurationError, // did you mean "visibility_timeout"?
 * );
 * ```
 */
export function readOptions<O extends OptionSpecs>(
  declaration: OptionsDeclaration<O>,
  source: OptionSource,
  unknown: "error" | "skip" = "error",
): OptionValues<O> {
  const index = indexOf(declaration);
  const values = new Map<string, unknown>();
  const givenAs = new Map<string, string>();
  const read = (key: string, entry: Entry, value: unknown, spelling: OptionSpelling): void => {
    const where = spelling === "url" ? " (in the URL)" : "";
    const fail = (expected: string): never => {
      throw new ConfigurationError(
        `Cannot use ${declaration.transport} option "${key}"${where} = ${
          shown(entry.spec, value)
        }: expected ${expected}`,
      );
    };
    values.set(entry.name, parseValue(entry.spec, value, spelling, fail));
    givenAs.set(entry.name, key);
    if (entry.spec.ignored) {
      const id = `${declaration.transport}|${entry.name}`;
      if (!warned.has(id)) {
        warned.add(id);
        getLogger("options").warn(
          `${declaration.transport} option "${key}" is accepted and ignored: ${entry.spec.doc}`,
        );
      }
    }
  };
  for (const [key, value] of Object.entries(source.transportOptions ?? {})) {
    if (value === undefined || value === null) continue;
    const entry = index.get(key);
    if (!entry) {
      if (unknown === "skip") continue;
      unknownOption(declaration, key, index.keys(), "");
    }
    const earlier = givenAs.get(entry.name);
    if (earlier !== undefined) {
      throw new ConfigurationError(
        `Cannot use ${declaration.transport} option "${key}": it is given as "${earlier}" too`,
      );
    }
    read(key, entry, value, entry.spelling);
  }
  for (const [key, value] of Object.entries(source.queryOptions ?? {})) {
    const entry = index.get(key);
    if (entry?.spelling === "camel" && kombuName(entry.name, entry.spec) !== key) {
      throw new ConfigurationError(
        `Cannot use ${declaration.transport} option "${key}" in the URL: URL options take ` +
          `Kombu's names and units ("${kombuName(entry.name, entry.spec)}")`,
      );
    }
    if (!entry) {
      if (unknown === "skip") continue;
      const kombuNames = [...index.values()].filter((e) => e.spelling === "kombu");
      unknownOption(
        declaration,
        key,
        kombuNames.map((e) => kombuName(e.name, e.spec)),
        " (in the URL)",
      );
    }
    if (givenAs.has(entry.name)) continue; // transportOptions win over the URL
    read(key, entry, value, "url");
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(declaration.options)) {
    out[name] = values.has(name) ? values.get(name) : spec.default;
  }
  return out as OptionValues<O>;
}
