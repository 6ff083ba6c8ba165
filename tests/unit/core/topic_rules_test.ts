/**
 * The two topic rule sets of the virtual transports: AMQP's (the default) and Python Kombu 5.2's
 * regexes (`topicRules: "kombu"`). Kombu's verdicts are not written down here: they are computed
 * by running Kombu's own `TopicExchange.key_to_pattern` and `_match` over the pairs, so the test
 * breaks when wakame's copy drifts from Kombu, quirks included.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { Connection, Exchange, Queue } from "../../../mod.ts";
import { ConfigurationError } from "../../../src/errors.ts";
import {
  kombuBindingPattern,
  kombuTopicMatches,
  readTopicRules,
  route,
  topicMatcher,
  topicMatches,
} from "../../../src/virtual/exchange_types.ts";
import type { Binding } from "../../../src/virtual/backend.ts";
import { kombuSkipReason, PYTHON } from "../../_support/python.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, kombuSkipReason());

/** Kombu's verdict for one pair: its stored pattern and whether `_match` matched (or raised). */
interface KombuVerdict {
  pattern: string;
  match: boolean | "error";
}

/** Runs Kombu 5.2's matcher over the pairs in one Python process. */
function kombuVerdicts(pairs: ReadonlyArray<readonly [string, string]>): KombuVerdict[] {
  const script = `
import json, sys
from kombu.transport.virtual.exchange import TopicExchange
exchange = TopicExchange(None)
out = []
for key, routing_key in json.load(sys.stdin):
    pattern = exchange.key_to_pattern(key)
    try:
        match = exchange._match(pattern, routing_key) is not None
    except Exception:
        match = "error"
    out.append({"pattern": pattern, "match": match})
json.dump(out, sys.stdout)
`;
  const run = spawnSync(PYTHON, ["-c", script], {
    input: JSON.stringify(pairs),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`Kombu's matcher failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

/** wakame's verdict with Kombu rules, in the same shape. */
function wakameVerdict(key: string, routingKey: string): KombuVerdict {
  let match: boolean | "error";
  try {
    match = kombuTopicMatches(key, routingKey);
  } catch (error) {
    assert.ok(error instanceof ConfigurationError, String(error));
    match = "error";
  }
  return { pattern: kombuBindingPattern("topic", key), match };
}

/** Binding keys and routing keys where the rule sets part, and Kombu's regex quirks. */
const PAIRS: ReadonlyArray<readonly [string, string]> = [
  // The three: Kombu's `*` spans dots, its `#` keeps the dot before it.
  ["*.c", "a.b.c"],
  ["a.#", "a"],
  ["a.*.c", "a.b.b.c"],
  // Agreement with AMQP.
  ["*.c", "b.c"],
  ["a.#", "a.b"],
  ["a.#", "a.b.c"],
  ["#", ""],
  ["#", "a.b"],
  ["a.b.c", "a.b.c"],
  ["a.b.c", "a.b.d"],
  // `*` is one or more characters whose last is no dot.
  ["*", "a.b"],
  ["*", "a."],
  ["*", ""],
  ["a.*", "a."],
  ["*.*", "."],
  ["#.a", "a"],
  ["#.a", "x.a"],
  ["a.#.b", "a.b"],
  ["a.#.b", "a..b"],
  // `*` inside a word repeats what stands before it; `#` inside a word is literal.
  ["a*", ""],
  ["a*", "aaa"],
  ["a*", "a*"],
  ["a.*b", "ab"],
  ["a.*b", "a..b"],
  ["a#", "a#"],
  ["a#", "a.b"],
  // Patterns Python cannot compile: Kombu's publish raises.
  ["*a", "a"],
  ["a.**", "a.b"],
  ["**", "x"],
  // Escaping: everything not alphanumeric (Unicode-aware) is escaped, NUL as \000.
  ["a-b", "a-b"],
  ["a_b", "a_b"],
  ["a b", "a b"],
  ["(x)", "(x)"],
  ["[x]", "x"],
  ["x+", "xx"],
  ["x?", "x"],
  ["a|b", "a"],
  ["a\\b", "a\\b"],
  ["$", "$"],
  ["^", "^"],
  ["€", "€"],
  ["é.ü", "é.ü"],
  ["²", "²"],
  ["a\0b", "a\0b"],
  ["a\0" + "1", "a\0" + "1"],
  ["😀*", "😀😀"],
  // Python's `.` stops at \n only; `$` also matches before a final \n; matches anchor at the start.
  ["*", "a\rb"],
  ["*", "a\nb"],
  ["*", "a\u2028b"],
  ["x", "x\n"],
  ["x", "x\n\n"],
  ["#", "\n"],
];

describe("topic rules", () => {
  it("readTopicRules takes amqp (default) and kombu, and refuses the rest", () => {
    assert.equal(readTopicRules(undefined), "amqp");
    assert.equal(readTopicRules(""), "amqp");
    assert.equal(readTopicRules("amqp"), "amqp");
    assert.equal(readTopicRules("kombu"), "kombu");
    assert.throws(() => readTopicRules("regex"), ConfigurationError);
    assert.throws(() => readTopicRules(true), ConfigurationError);
    assert.equal(topicMatcher("amqp"), topicMatches);
    assert.equal(topicMatcher("kombu"), kombuTopicMatches);
  });

  it("the AMQP table: the default rules route the issue's pairs as RabbitMQ does", () => {
    const bindings: Binding[] = [
      { queue: "star-c", routingKey: "*.c" },
      { queue: "a-hash", routingKey: "a.#" },
      { queue: "a-star-c", routingKey: "a.*.c" },
    ];
    const at = (key: string, rules?: "amqp" | "kombu") =>
      route("topic", bindings, key, {}, rules).sort();
    assert.deepEqual(at("a.b.c"), ["a-hash", "a-star-c"]);
    assert.deepEqual(at("a"), ["a-hash"]);
    assert.deepEqual(at("a.b.b.c"), ["a-hash"]);
    assert.deepEqual(at("a.b.c", "amqp"), ["a-hash", "a-star-c"]);
    // The same bindings under Kombu's rules.
    assert.deepEqual(at("a.b.c", "kombu"), ["a-hash", "a-star-c", "star-c"]);
    assert.deepEqual(at("a", "kombu"), []);
    assert.deepEqual(at("a.b.b.c", "kombu"), ["a-hash", "a-star-c", "star-c"]);
  });

  it("Kombu rules refuse a binding Python cannot compile, as Kombu's publish does", () => {
    const bindings: Binding[] = [{ queue: "q", routingKey: "*a" }];
    assert.throws(() => route("topic", bindings, "a", {}, "kombu"), ConfigurationError);
    assert.deepEqual(route("topic", bindings, "a", {}, "amqp"), []);
  });

  it("the Kombu table: Kombu 5.2's own matcher agrees pair by pair", skip.options(), () => {
    const expected = kombuVerdicts(PAIRS);
    const wrong = PAIRS.map(([key, routingKey], i) => ({
      key,
      routingKey,
      kombu: expected[i],
      wakame: wakameVerdict(key, routingKey),
    })).filter((row) => JSON.stringify(row.kombu) !== JSON.stringify(row.wakame));
    assert.deepEqual(wrong, []);
    // The pairs really part the two rule sets.
    for (const [key, routingKey] of PAIRS.slice(0, 3)) {
      assert.notEqual(topicMatches(key, routingKey), kombuTopicMatches(key, routingKey));
    }
  });

  it("the Kombu table: generated keys agree with Kombu's matcher", skip.options(), () => {
    const char = fc.constantFrom("a", "b", ".", ".", "*", "#", "-", "\n", "é", "€", "\\", "\0");
    const text = fc.array(char, { maxLength: 6 }).map((cs) => cs.join(""));
    const word = fc.constantFrom("a", "b", "", "*", "#");
    const words = fc.array(word, { maxLength: 5 }).map((ws) => ws.join("."));
    const pairs = fc.sample(
      fc.tuple(fc.oneof(text, words), fc.oneof(text, words)),
      { numRuns: 3000, seed: 7 },
    );
    const expected = kombuVerdicts(pairs);
    const wrong = pairs.map(([key, routingKey], i) => ({
      key,
      routingKey,
      kombu: expected[i],
      wakame: wakameVerdict(key, routingKey),
    })).filter((row) => JSON.stringify(row.kombu) !== JSON.stringify(row.wakame));
    assert.deepEqual(wrong.slice(0, 10), []);
  });

  it("transportOptions.topicRules reaches the virtual channel (memory://)", async () => {
    for (
      const [url, options, expected] of [
        ["memory://", {}, ["a-hash"]],
        ["memory://", { topicRules: "amqp" }, ["a-hash"]],
        ["memory://", { topicRules: "kombu" }, ["a-hash", "star-c"]],
        ["memory://?topic_rules=kombu", {}, ["a-hash", "star-c"]],
      ] as const
    ) {
      await using conn = new Connection(url, { transportOptions: { ...options } });
      const exchange = new Exchange(`rules-${crypto.randomUUID()}`, { type: "topic" });
      const queues = ["star-c", "a-hash"].map((name) =>
        new Queue(`${exchange.name}.${name}`, {
          exchange,
          routingKey: name === "star-c" ? "*.c" : "a.#",
        })
      );
      await conn.producer().publish("x", { exchange, routingKey: "a.b.c", declare: queues });
      const channel = await conn.channel();
      const reached: string[] = [];
      for (const queue of queues) {
        if (await channel.basicGet(queue.name, { noAck: true })) {
          reached.push(queue.name.slice(exchange.name.length + 1));
        }
      }
      assert.deepEqual(reached.sort(), [...expected], `${url} ${JSON.stringify(options)}`);
    }
  });

  it("a wrong topicRules value fails the connection with ConfigurationError", async () => {
    await using conn = new Connection("memory://", { transportOptions: { topicRules: "rabbit" } });
    await assert.rejects(conn.connect(), ConfigurationError);
  });
});
