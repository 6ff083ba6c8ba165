/**
 * The pattern matcher registry (Kombu's `kombu.matcher`): pidbox requests may address nodes by
 * a pattern instead of a list of names, and name the matcher that reads the pattern (`glob` by
 * default, or `pcre`).
 *
 * `glob` follows Python's `fnmatch.fnmatchcase` (what Kombu's `fnmatch` does on POSIX): `*` any
 * run of characters, `?` one character, `[abc]`, `[a-z]`, `[!abc]` one character of (not of) a
 * set, everything else literal, case-sensitive, the whole name must match. It is matched by a
 * small automaton written here, not by a `RegExp`, so no pattern can make it backtrack for long
 * (at most pattern length x name length steps).
 *
 * `pcre` is a JavaScript `RegExp` anchored at the start of the name, like Python's `re.match`
 * (not at the end). JavaScript and Python regular expressions agree on the common syntax; named
 * groups (`(?P<n>...)`) and a few escapes differ. A `pcre` pattern arrives from the network and
 * runs as a regular expression: as with Kombu, give untrusted peers no access to the mailbox.
 *
 * @module
 */

import { ConfigurationError } from "../errors.ts";

/** Tells whether `data` matches `pattern`. */
export type MatcherFunction = (data: string, pattern: string) => boolean;

type GlobToken =
  | { kind: "char"; char: string }
  | { kind: "one" }
  | { kind: "star" }
  | { kind: "set"; negate: boolean; ranges: Array<[string, string]> };

function parseSet(chars: string[]): Array<[string, string]> {
  const ranges: Array<[string, string]> = [];
  for (let p = 0; p < chars.length;) {
    const lo = chars[p]!;
    if (chars[p + 1] === "-" && p + 2 < chars.length) {
      ranges.push([lo, chars[p + 2]!]); // a reversed range (z-a) matches nothing, as in Python
      p += 3;
    } else {
      ranges.push([lo, lo]);
      p += 1;
    }
  }
  return ranges;
}

function parseGlob(pattern: string): GlobToken[] {
  const pat = Array.from(pattern);
  const tokens: GlobToken[] = [];
  for (let i = 0; i < pat.length;) {
    const c = pat[i++]!;
    if (c === "*") {
      if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" });
    } else if (c === "?") {
      tokens.push({ kind: "one" });
    } else if (c === "[") {
      // Python's rule: "!" negates, a "]" first in the set is a member, an unclosed "[" is
      // a literal "[".
      let j = i;
      if (pat[j] === "!") j++;
      if (pat[j] === "]") j++;
      while (j < pat.length && pat[j] !== "]") j++;
      if (j >= pat.length) {
        tokens.push({ kind: "char", char: "[" });
        continue;
      }
      const negate = pat[i] === "!";
      tokens.push({ kind: "set", negate, ranges: parseSet(pat.slice(negate ? i + 1 : i, j)) });
      i = j + 1;
    } else {
      tokens.push({ kind: "char", char: c });
    }
  }
  return tokens;
}

function codePointCompare(a: string, b: string): number {
  return a.codePointAt(0)! - b.codePointAt(0)!;
}

function matchesOne(token: GlobToken, char: string): boolean {
  switch (token.kind) {
    case "char":
      return token.char === char;
    case "one":
      return true;
    case "star":
      return false;
    case "set": {
      const inSet = token.ranges.some(([lo, hi]) =>
        codePointCompare(lo, char) <= 0 && codePointCompare(char, hi) <= 0
      );
      return inSet !== token.negate;
    }
  }
}

function runGlob(tokens: readonly GlobToken[], data: string): boolean {
  const text = Array.from(data);
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  // Every token but "*" takes exactly one character, so remembering the last "*" is enough.
  while (t < text.length) {
    const token = tokens[p];
    if (token !== undefined && token.kind === "star") {
      starP = p++;
      starT = t;
    } else if (token !== undefined && matchesOne(token, text[t]!)) {
      p++;
      t++;
    } else if (starP !== -1) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (tokens[p]?.kind === "star") p++;
  return p === tokens.length;
}

/** A small cache of compiled patterns: pidbox nodes see the same few patterns again and again. */
class PatternCache<T> {
  readonly #entries = new Map<string, T>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  get(key: string, make: (key: string) => T): T {
    let value = this.#entries.get(key);
    if (value === undefined) {
      value = make(key);
      if (this.#entries.size >= this.#max) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
      this.#entries.set(key, value);
    }
    return value;
  }
}

const globCache = new PatternCache<GlobToken[]>(256);
const pcreCache = new PatternCache<RegExp>(256);

/**
 * Compiles a glob pattern (Python `fnmatch` syntax) to a test function.
 *
 * @param pattern the pattern, such as `worker-*@host?`
 * @returns a function telling whether a name matches the whole pattern
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileGlob } from "./matcher.ts";
 * const test = compileGlob("celery@*.[!x]");
 * assert.ok(test("celery@host.a"));
 * assert.ok(!test("celery@host.x"));
 * ```
 */
export function compileGlob(pattern: string): (data: string) => boolean {
  const tokens = parseGlob(pattern);
  return (data) => runGlob(tokens, data);
}

/**
 * Matches a name against a glob pattern (Kombu's `glob` matcher, Python's `fnmatchcase`).
 *
 * @param data the name
 * @param pattern the glob pattern
 * @returns true when the whole name matches
 */
export function globMatch(data: string, pattern: string): boolean {
  return runGlob(globCache.get(pattern, parseGlob), data);
}

/**
 * Matches a name against a regular expression anchored at its start (Kombu's `pcre` matcher,
 * Python's `re.match`).
 *
 * @param data the name
 * @param pattern the regular expression source
 * @returns true when a match starts at the first character
 * @throws {ConfigurationError} when the pattern is not a valid regular expression
 */
export function pcreMatch(data: string, pattern: string): boolean {
  const re = pcreCache.get(pattern, (source) => {
    try {
      return new RegExp(source, "y");
    } catch (cause) {
      throw new ConfigurationError(`Cannot compile pcre pattern "${source}"`, { cause });
    }
  });
  re.lastIndex = 0;
  return re.test(data);
}

/**
 * A registry of named matchers (Kombu's `MatcherRegistry`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MatcherRegistry, globMatch } from "./matcher.ts";
 * const registry = new MatcherRegistry();
 * registry.register("glob", globMatch);
 * registry.register("suffix", (data, pattern) => data.endsWith(pattern));
 * assert.ok(registry.match("w1@example.com", ".com", "suffix"));
 * assert.ok(registry.match("w1@example.com", "w?@*"));
 * ```
 */
export class MatcherRegistry {
  readonly #matchers = new Map<string, MatcherFunction>();
  #defaultName: string;

  /**
   * Makes a MatcherRegistry.
   *
   * @param defaultName the matcher used when a request names none (default `glob`)
   */
  constructor(defaultName = "glob") {
    this.#defaultName = defaultName;
  }

  /**
   * Adds (or replaces) a matcher.
   *
   * @param name the name requests use, such as `glob`
   * @param matcher the function
   */
  register(name: string, matcher: MatcherFunction): void {
    this.#matchers.set(name, matcher);
  }

  /**
   * Removes a matcher.
   *
   * @param name its name
   * @throws {ConfigurationError} when no matcher has that name
   */
  unregister(name: string): void {
    if (!this.#matchers.delete(name)) {
      throw new ConfigurationError(`Cannot unregister matcher "${name}": not installed`);
    }
  }

  /**
   * Tells whether a matcher is installed.
   *
   * @param name its name
   * @returns true when registered
   */
  has(name: string): boolean {
    return this.#matchers.has(name);
  }

  /** The name of the default matcher. */
  get defaultMatcher(): string {
    return this.#defaultName;
  }

  /**
   * Changes the default matcher.
   *
   * @param name a registered name
   * @throws {ConfigurationError} when no matcher has that name
   */
  setDefaultMatcher(name: string): void {
    if (!this.#matchers.has(name)) {
      throw new ConfigurationError(`Cannot use matcher "${name}" as default: not installed`);
    }
    this.#defaultName = name;
  }

  /**
   * Matches a name against a pattern.
   *
   * @param data the name, such as a node's hostname
   * @param pattern the pattern
   * @param matcher the matcher's name; the default one when omitted or empty
   * @returns true when it matches
   * @throws {ConfigurationError} when the matcher is not installed or the pattern is invalid
   */
  match(data: string, pattern: string, matcher?: string | null): boolean {
    const name = matcher || this.#defaultName;
    const fn = this.#matchers.get(name);
    if (fn === undefined) {
      throw new ConfigurationError(`Cannot match with matcher "${name}": not installed`);
    }
    return fn(data, pattern);
  }
}

/** The global registry, holding `glob` (the default) and `pcre` (Kombu's `registry`). */
export const matchers: MatcherRegistry = new MatcherRegistry("glob");
matchers.register("glob", globMatch);
matchers.register("pcre", pcreMatch);

/**
 * Matches with the global registry (Kombu's `kombu.matcher.match`).
 *
 * @param data the name
 * @param pattern the pattern
 * @param matcher the matcher's name (`glob` when omitted)
 * @returns true when it matches
 * @throws {ConfigurationError} when the matcher is not installed or the pattern is invalid
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { match } from "./matcher.ts";
 * assert.ok(match("celery@w1", "celery@*"));
 * assert.ok(match("celery@w1", "celery@w\\d", "pcre"));
 * ```
 */
export function match(data: string, pattern: string, matcher?: string | null): boolean {
  return matchers.match(data, pattern, matcher);
}

/**
 * Adds a matcher to the global registry (Kombu's `kombu.matcher.register`).
 *
 * @param name its name
 * @param matcher the function
 */
export function registerMatcher(name: string, matcher: MatcherFunction): void {
  matchers.register(name, matcher);
}

/**
 * Removes a matcher from the global registry (Kombu's `kombu.matcher.unregister`).
 *
 * @param name its name
 * @throws {ConfigurationError} when no matcher has that name
 */
export function unregisterMatcher(name: string): void {
  matchers.unregister(name);
}
