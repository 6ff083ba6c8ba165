/**
 * Exchange routing of the virtual base (Kombu's `virtual/exchange.py`). Topic exchanges follow
 * AMQP by default: `*` is exactly one word and `#` zero or more, so `a.#` matches `a` and `*.c`
 * does not match `a.b.c`. With `topicRules: "kombu"` they follow Python Kombu 5.2's regexes
 * instead ({@link kombuTopicMatches}), for transports shared with Python publishers. A headers
 * exchange matches with `x-match` all or any.
 *
 * @module
 */

import { ConfigurationError } from "../errors.ts";
import type { ExchangeType, FieldTable, MessageProperties } from "../transport.ts";
import type { Binding } from "./backend.ts";

/**
 * How a virtual topic exchange matches binding keys: `amqp` (RabbitMQ's rules, the default) or
 * `kombu` (Python Kombu 5.2's regexes: `*.c` matches `a.b.c`, `a.#` does not match `a`).
 */
export type TopicRules = "amqp" | "kombu";

/**
 * Reads a `topicRules` value (the virtual transports read the option through their declaration,
 * `VIRTUAL_OPTIONS`; this is for code of your own).
 *
 * @param value the option's value; `undefined`, `null` or `""` mean the default
 * @returns `"amqp"` or `"kombu"`
 * @throws {ConfigurationError} for any other value
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTopicRules } from "@wakame/wakame";
 * assert.equal(readTopicRules(undefined), "amqp");
 * assert.equal(readTopicRules("kombu"), "kombu");
 * ```
 */
export function readTopicRules(value: unknown): TopicRules {
  if (value === undefined || value === null || value === "") return "amqp";
  if (value === "amqp" || value === "kombu") return value;
  throw new ConfigurationError(
    `Cannot use transport option "topicRules" = ${JSON.stringify(String(value))}: ` +
      'expected "amqp" or "kombu"',
  );
}

/**
 * The topic matcher of a rule set.
 *
 * @param rules `amqp` or `kombu`
 * @returns {@link topicMatches} or {@link kombuTopicMatches}
 */
export function topicMatcher(rules: TopicRules): (pattern: string, routingKey: string) => boolean {
  return rules === "kombu" ? kombuTopicMatches : topicMatches;
}

/**
 * Tells whether an AMQP topic pattern matches a routing key.
 *
 * @param pattern binding key with `*` and `#` wildcards, words separated by `.`
 * @param routingKey the message's routing key
 * @returns true when the key matches, as RabbitMQ decides it
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicMatches } from "@wakame/wakame";
 * assert.ok(topicMatches("a.#", "a"));
 * assert.ok(!topicMatches("*.c", "a.b.c"));
 * ```
 */
export function topicMatches(pattern: string, routingKey: string): boolean {
  if (pattern === routingKey) return true;
  if (pattern === "#") return true;
  if (pattern.indexOf("*") < 0 && pattern.indexOf("#") < 0) return false;
  return matchWords(words(pattern), 0, words(routingKey), 0);
}

/** The words of a key; the empty key has none (RabbitMQ: `*` does not match ""). */
function words(key: string): string[] {
  return key === "" ? [] : key.split(".");
}

function matchWords(p: string[], i: number, k: string[], j: number): boolean {
  while (i < p.length) {
    const word = p[i];
    if (word === "#") {
      // Collapse runs of "#": one is as good as many.
      while (i + 1 < p.length && p[i + 1] === "#") i++;
      if (i === p.length - 1) return true;
      for (let skip = j; skip <= k.length; skip++) {
        if (matchWords(p, i + 1, k, skip)) return true;
      }
      return false;
    }
    if (j >= k.length) return false;
    if (word !== "*" && word !== k[j]) return false;
    i++;
    j++;
  }
  return j === k.length;
}

/**
 * Tells whether a headers-exchange binding matches a message's headers.
 *
 * `x-match` is `all` (default), `any`, `all-with-x` or `any-with-x`; keys starting with `x-` are
 * ignored unless a `-with-x` mode is used. A binding value of `undefined` or `null` asks only that
 * the header be present.
 *
 * @param bindingArguments the binding's arguments
 * @param headers the message's headers
 * @returns whether the message goes to the bound queue
 */
export function headersMatch(
  bindingArguments: Readonly<Record<string, unknown>> | undefined,
  headers: Readonly<FieldTable> | undefined,
): boolean {
  const args = bindingArguments ?? {};
  const mode = String(args["x-match"] ?? "all");
  const withX = mode.endsWith("-with-x");
  const any = mode.startsWith("any");
  const have = headers ?? {};
  for (const key in args) {
    if (key === "x-match") continue;
    if (!withX && key.startsWith("x-")) continue;
    const expected = args[key];
    const present = Object.hasOwn(have, key);
    const ok = present && (expected == null || sameValue(expected, have[key]));
    if (any && ok) return true;
    if (!any && !ok) return false;
  }
  return !any;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "number" && typeof b === "bigint") return BigInt(a) === b;
  if (typeof a === "bigint" && typeof b === "number") return a === BigInt(b);
  return false;
}

/**
 * Picks the queues an exchange of the given type routes a message to.
 *
 * @param type the exchange type
 * @param bindings the exchange's bindings
 * @param routingKey the message's routing key
 * @param properties the message's properties (headers exchanges read `headers`)
 * @param topicRules how topic bindings match (default `amqp`)
 * @returns queue names, each once, in binding order
 * @throws {ConfigurationError} with `kombu` rules, when a topic binding key is no valid regex
 *   under Kombu's translation (Kombu's publish fails there too)
 */
export function route(
  type: ExchangeType,
  bindings: readonly Binding[],
  routingKey: string,
  properties: MessageProperties,
  topicRules: TopicRules = "amqp",
): string[] {
  const matchTopic = topicRules === "kombu" ? kombuTopicMatches : topicMatches;
  const out: string[] = [];
  for (let i = 0; i < bindings.length; i++) {
    const binding = bindings[i];
    let matches: boolean;
    switch (type) {
      case "direct":
        matches = binding.routingKey === routingKey;
        break;
      case "topic":
        matches = matchTopic(binding.routingKey, routingKey);
        break;
      case "fanout":
        matches = true;
        break;
      case "headers":
        matches = headersMatch(binding.arguments, properties.headers);
        break;
    }
    if (matches && !out.includes(binding.queue)) out.push(binding.queue);
  }
  return out;
}

/** Python's `str.isalnum()` for one code point: a letter or a numeric character. */
function pythonIsAlnum(c: string): boolean {
  return /^[\p{L}\p{N}]$/u.test(c);
}

/**
 * The `pattern` Kombu stores beside a binding (Redis `_kombu.binding.*` members, filesystem
 * `.exchange` files): a regex for topic bindings (Kombu's `key_to_pattern`), empty otherwise.
 * Kombu escapes every character that is not alphanumeric (Unicode-aware, as `str.isalnum`) and
 * not `.`, `#` or `*`, with NUL as `\000`; a word that is exactly `*` becomes `.*?[^\.]`, exactly
 * `#` becomes `.*?`; words join with `\.`.
 *
 * @param type the exchange type
 * @param routingKey the binding key
 * @returns Kombu's pattern text
 */
export function kombuBindingPattern(type: ExchangeType, routingKey: string): string {
  if (type !== "topic") return "";
  const escaped = [...routingKey].map((c) =>
    pythonIsAlnum(c) || c === "." || c === "#" || c === "*" ? c : c === "\0" ? "\\000" : `\\${c}`
  ).join("");
  const words = escaped.split(".").map((word) =>
    word === "*" ? ".*?[^\\.]" : word === "#" ? ".*?" : word
  );
  return `^${words.join("\\.")}$`;
}

/** Characters with a meaning in a JavaScript regex (`u` flag): escaped to stand for themselves. */
const JS_SYNTAX = new Set("^$\\.*+?()[]{}|/");

/** Compiled Kombu patterns by binding key (Kombu caches by pattern, without bound). */
const kombuCompiled = new Map<string, RegExp | Error>();
const KOMBU_CACHE_LIMIT = 4096;

/**
 * The JavaScript regex that decides as Python's `re.match(key_to_pattern(bindingKey), key)`
 * does. Built from the binding key rather than by translating Kombu's text, with these Python
 * semantics kept: an escaped character is literal; a `*` inside a word (`a*`, `a.*b`) is
 * Python's repetition of the character or `\.` before it; `.` matches any character but `\n`;
 * `$` also matches before a final `\n`; a match is anchored at the start only. Patterns Python
 * cannot compile (`*a`: nothing to repeat; `a.**`: multiple repeat) fail here too.
 */
function kombuRegExp(bindingKey: string): RegExp | Error {
  let compiled = kombuCompiled.get(bindingKey);
  if (compiled !== undefined) return compiled;
  const words = bindingKey.split(".").map((word) =>
    word === "*"
      ? "[^\\n]*?[^.]"
      : word === "#"
      ? "[^\\n]*?"
      : [...word].map((c) =>
        c === "*" ? "*" : c === "\0" ? "\\x00" : JS_SYNTAX.has(c) ? `\\${c}` : c
      ).join("")
  );
  try {
    compiled = new RegExp(`^${words.join("\\.")}(?=\\n?$)`, "u");
  } catch (error) {
    compiled = error instanceof Error ? error : new Error(String(error));
  }
  // Kombu's cache grows forever; this one forgets the oldest entry past a bound.
  if (kombuCompiled.size >= KOMBU_CACHE_LIMIT) {
    kombuCompiled.delete(kombuCompiled.keys().next().value as string);
  }
  kombuCompiled.set(bindingKey, compiled);
  return compiled;
}

/**
 * Tells whether a topic binding key matches a routing key as Python Kombu 5.2's virtual
 * transports decide it (`TopicExchange.key_to_pattern` then `re.match`): `*` is one or more
 * characters ending in a non-dot, so `*.c` matches `a.b.c` and `a.*.c` matches `a.b.b.c`; `#` is
 * any text, but the dot before it stays, so `a.#` does not match `a`; `*` inside a word repeats
 * the character before it (`a*` matches `` and `aaa`).
 *
 * @param pattern the binding key
 * @param routingKey the message's routing key
 * @returns true when Kombu would route the message to the binding's queue
 * @throws {ConfigurationError} when Python could not compile Kombu's regex for the key (`*a`,
 *   `a.**`): Kombu's publish raises `re.error` there
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kombuTopicMatches } from "@wakame/wakame";
 * assert.equal(kombuTopicMatches("*.c", "a.b.c"), true); // AMQP: false
 * assert.equal(kombuTopicMatches("a.#", "a"), false); // AMQP: true
 * ```
 */
export function kombuTopicMatches(pattern: string, routingKey: string): boolean {
  const compiled = kombuRegExp(pattern);
  if (compiled instanceof RegExp) return compiled.test(routingKey);
  throw new ConfigurationError(
    `Cannot match binding key "${pattern}" with Kombu's topic rules: ` +
      "its regex does not compile (Python Kombu fails the publish too)",
    { cause: compiled },
  );
}
