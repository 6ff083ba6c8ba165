/**
 * Exchange routing of the virtual base (Kombu's `virtual/exchange.py`), AMQP-exact:
 * a topic `*` is exactly one word and `#` zero or more, so `a.#` matches `a` and `*.c` does not
 * match `a.b.c`; a headers exchange matches with `x-match` all or any.
 *
 * @module
 */

import type { ExchangeType, FieldTable, MessageProperties } from "../transport.ts";
import type { Binding } from "./backend.ts";

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
 * @returns queue names, each once, in binding order
 */
export function route(
  type: ExchangeType,
  bindings: readonly Binding[],
  routingKey: string,
  properties: MessageProperties,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < bindings.length; i++) {
    const binding = bindings[i];
    let matches: boolean;
    switch (type) {
      case "direct":
        matches = binding.routingKey === routingKey;
        break;
      case "topic":
        matches = topicMatches(binding.routingKey, routingKey);
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

/**
 * The `pattern` Kombu stores beside a binding (Redis `_kombu.binding.*` members, filesystem
 * `.exchange` files): a regex for topic bindings (Kombu's `key_to_pattern`), empty otherwise.
 * wakame routes with {@link topicMatches} and writes this only so Python peers can route too.
 *
 * @param type the exchange type
 * @param routingKey the binding key
 * @returns Kombu's pattern text
 */
export function kombuBindingPattern(type: ExchangeType, routingKey: string): string {
  if (type !== "topic") return "";
  const escaped = [...routingKey].map((c) =>
    /[A-Za-z0-9]/.test(c) || c === "." || c === "#" || c === "*" || c.charCodeAt(0) > 127
      ? c
      : c === "\0"
      ? "\\000"
      : `\\${c}`
  ).join("");
  const words = escaped.split(".").map((word) =>
    word === "*" ? ".*?[^\\.]" : word === "#" ? ".*?" : word
  );
  return `^${words.join("\\.")}$`;
}
