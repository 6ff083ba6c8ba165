import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { TOPIC_TABLE } from "../../../testing/conformance.ts";
import { headersMatch, route, topicMatches } from "../../../src/virtual/exchange_types.ts";
import {
  MemoryBindingStore,
  sameBinding,
  stateFor,
  VirtualState,
} from "../../../src/virtual/state.ts";
import type { Binding } from "../../../src/virtual/backend.ts";

/**
 * The AMQP 0-9-1 definition, written independently of the code under test: a routing key is a
 * list of words split at "."; the empty key has no words; `*` is exactly one word and `#` zero
 * or more. Decided by dynamic programming over (pattern word, key word) suffixes.
 */
function referenceTopicMatch(pattern: string, routingKey: string): boolean {
  const words = (text: string) => (text === "" ? [] : text.split("."));
  const p = words(pattern);
  const k = words(routingKey);
  // m[i][j]: the pattern from word i matches the key from word j.
  const m: boolean[][] = Array.from(
    { length: p.length + 1 },
    () => Array(k.length + 1).fill(false),
  );
  m[p.length][k.length] = true;
  for (let i = p.length - 1; i >= 0; i--) {
    for (let j = k.length; j >= 0; j--) {
      m[i][j] = p[i] === "#"
        ? m[i + 1][j] || (j < k.length && m[i][j + 1])
        : j < k.length && (p[i] === "*" || p[i] === k[j]) && m[i + 1][j + 1];
    }
  }
  return m[0][0];
}

/** Verdicts observed on RabbitMQ 3.10.8 (topic exchange, binding key, routing key, routed?). */
const RABBITMQ_EDGES: ReadonlyArray<readonly [string, string, boolean]> = [
  ["*", "", false],
  ["#", "", true],
  ["", "", true],
  ["a.*", "a.", true],
  ["*.*", ".", true],
  ["*", ".", false],
  ["#.a", "a", true],
  ["a.#.#.b", "a.b", true],
  ["#.#", "", true],
  ["*.#", "", false],
  ["#.*", "a", true],
  ["#.*", "", false],
  ["a..b", "a..b", true],
  ["a.*.b", "a..b", true],
  ["*", "a.", false],
  ["#.#.a", "a", true],
  ["a.#", "a.", true],
  ["#.", "", false],
  ["#.", "a.", true],
  [".#", "a", false],
  [".#", ".a", true],
  ["*.", "a.", true],
  ["#.b.#", "b", true],
  ["#.*.#", "a.b", true],
  ["a.#.*", "a", false],
  ["a.#.*", "a.b", true],
  ["*.*.#", "a", false],
];

describe("topicMatches", () => {
  it("agrees with the conformance TOPIC_TABLE", () => {
    for (const [pattern, key, expected] of TOPIC_TABLE) {
      assert.equal(topicMatches(pattern, key), expected, `${pattern} vs ${key}`);
      assert.equal(referenceTopicMatch(pattern, key), expected, `reference: ${pattern} vs ${key}`);
    }
  });

  it("agrees with RabbitMQ on empty keys and empty words", () => {
    const wrong = RABBITMQ_EDGES.filter(([p, k, expected]) => topicMatches(p, k) !== expected);
    assert.deepEqual(wrong, []);
    const wrongReference = RABBITMQ_EDGES.filter(([p, k, e]) => referenceTopicMatch(p, k) !== e);
    assert.deepEqual(wrongReference, []);
  });

  it("treats '*' and '#' as wildcards only as whole words", () => {
    assert.equal(topicMatches("a*", "ab"), false);
    assert.equal(topicMatches("a#", "a.b"), false);
    assert.equal(topicMatches("a*", "a*"), true);
  });

  it("matches the reference definition on generated patterns and keys", () => {
    const keyWord = fc.constantFrom("a", "b", "");
    const patternWord = fc.constantFrom("a", "b", "", "*", "#");
    fc.assert(
      fc.property(
        fc.array(patternWord, { maxLength: 6 }),
        fc.array(keyWord, { maxLength: 6 }),
        (p, k) => {
          const pattern = p.join(".");
          const key = k.join(".");
          assert.equal(
            topicMatches(pattern, key),
            referenceTopicMatch(pattern, key),
            `${pattern} vs ${key}`,
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("matches a pattern against keys built from it", () => {
    // Every key made by replacing "*" with a word and "#" with 0..2 words must match.
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("x", "y", "*", "#"), { minLength: 1, maxLength: 6 }),
        fc.infiniteStream(fc.array(fc.constantFrom("x", "z"), { maxLength: 2 })),
        (p, fills) => {
          const key = p.flatMap((w) => (w === "*" ? ["z"] : w === "#" ? fills.next().value : [w]));
          assert.ok(topicMatches(p.join("."), key.join(".")), `${p.join(".")} vs ${key.join(".")}`);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("headersMatch", () => {
  const headers = { format: "pdf", type: "report", size: 3, "x-tag": "t" };

  it("x-match all (the default) needs every non-x key present and equal", () => {
    assert.equal(headersMatch({ format: "pdf", type: "report" }, headers), true);
    assert.equal(headersMatch({ "x-match": "all", format: "pdf", type: "log" }, headers), false);
    assert.equal(headersMatch({ format: "pdf", missing: "x" }, headers), false);
    assert.equal(headersMatch({}, headers), true);
    assert.equal(headersMatch(undefined, undefined), true);
  });

  it("x-match any needs one key present and equal", () => {
    assert.equal(headersMatch({ "x-match": "any", format: "zip", type: "report" }, headers), true);
    assert.equal(headersMatch({ "x-match": "any", format: "zip", type: "log" }, headers), false);
    assert.equal(headersMatch({ "x-match": "any" }, headers), false);
    assert.equal(headersMatch({ "x-match": "any", format: "pdf" }, undefined), false);
  });

  it("ignores x- keys unless the mode is all-with-x or any-with-x", () => {
    assert.equal(headersMatch({ "x-tag": "other", format: "pdf" }, headers), true);
    assert.equal(
      headersMatch({ "x-match": "all-with-x", "x-tag": "other", format: "pdf" }, headers),
      false,
    );
    assert.equal(
      headersMatch({ "x-match": "all-with-x", "x-tag": "t", format: "pdf" }, headers),
      true,
    );
    assert.equal(headersMatch({ "x-match": "any", "x-tag": "t" }, headers), false);
    assert.equal(
      headersMatch({ "x-match": "any-with-x", "x-tag": "t", format: "zip" }, headers),
      true,
    );
  });

  it("checks only presence for a null binding value, and compares numbers with bigints", () => {
    assert.equal(headersMatch({ format: null }, headers), true);
    assert.equal(headersMatch({ nothere: null }, headers), false);
    assert.equal(headersMatch({ size: 3n }, headers), true);
    assert.equal(headersMatch({ size: 3 }, { size: 3n }), true);
    assert.equal(headersMatch({ size: "3" }, headers), false);
  });
});

describe("route", () => {
  const bindings: Binding[] = [
    { queue: "q1", routingKey: "a.b" },
    { queue: "q2", routingKey: "a.*" },
    { queue: "q1", routingKey: "#" },
    { queue: "q3", routingKey: "", arguments: { "x-match": "any", kind: "x" } },
  ];

  it("routes direct by equal key, topic by pattern, fanout to all, each queue once", () => {
    assert.deepEqual(route("direct", bindings, "a.b", {}), ["q1"]);
    assert.deepEqual(route("direct", bindings, "a.c", {}), []);
    assert.deepEqual(route("topic", bindings, "a.b", {}), ["q1", "q2"]);
    assert.deepEqual(route("topic", bindings, "z", {}), ["q1"]);
    assert.deepEqual(route("fanout", bindings, "ignored", {}), ["q1", "q2", "q3"]);
  });

  it("routes headers by the message's headers", () => {
    assert.deepEqual(
      route("headers", bindings, "", { headers: { kind: "x" } }).includes("q3"),
      true,
    );
    assert.deepEqual(route("headers", [bindings[3]], "", { headers: { kind: "y" } }), []);
  });
});

describe("virtual state", () => {
  it("keeps bindings once, removes them by row, by exchange and by queue", async () => {
    const store = new MemoryBindingStore();
    await store.add("ex", { queue: "q", routingKey: "k" });
    await store.add("ex", { queue: "q", routingKey: "k" });
    await store.add("ex", { queue: "q", routingKey: "k", arguments: { a: 1 } });
    await store.add("ex2", { queue: "q", routingKey: "k" });
    assert.equal((await store.list("ex")).length, 2);
    await store.remove("ex", { queue: "q", routingKey: "k", arguments: { a: 1 } });
    assert.deepEqual(await store.list("ex"), [{ queue: "q", routingKey: "k" }]);
    store.removeQueue("q");
    assert.deepEqual(store.listNow("ex2"), []);
    await store.add("ex", { queue: "r", routingKey: "k" });
    await store.deleteExchange("ex");
    assert.deepEqual(await store.list("ex"), []);
  });

  it("compares bindings by queue, key and arguments", () => {
    assert.ok(
      sameBinding({ queue: "q", routingKey: "k" }, { queue: "q", routingKey: "k", arguments: {} }),
    );
    assert.ok(!sameBinding({ queue: "q", routingKey: "k" }, { queue: "q", routingKey: "j" }));
    assert.ok(
      !sameBinding({ queue: "q", routingKey: "k", arguments: { a: 1 } }, {
        queue: "q",
        routingKey: "k",
      }),
    );
  });

  it("compares binding arguments regardless of key order, bigints and bytes included", async () => {
    const store = new MemoryBindingStore();
    const args = {
      "x-match": "all",
      size: 3n,
      raw: new Uint8Array([1, 2]),
      nested: { b: 1, a: 2 },
    };
    await store.add("h", { queue: "q", routingKey: "", arguments: args });
    await store.add("h", {
      queue: "q",
      routingKey: "",
      arguments: {
        nested: { a: 2, b: 1 },
        raw: new Uint8Array([1, 2]),
        size: 3n,
        "x-match": "all",
      },
    });
    assert.equal(store.listNow("h").length, 1);
    assert.ok(
      !sameBinding({ queue: "q", routingKey: "", arguments: { size: 3n } }, {
        queue: "q",
        routingKey: "",
        arguments: { size: 4n },
      }),
    );
    await store.remove("h", {
      queue: "q",
      routingKey: "",
      arguments: { ...args, "x-match": "all" },
    });
    assert.deepEqual(store.listNow("h"), []);
  });

  it("routes undeclared exchanges as direct and shares one state per scope", () => {
    const state = new VirtualState();
    assert.equal(state.typeOf("nowhere"), "direct");
    state.exchanges.set("t", { name: "t", type: "topic" });
    assert.equal(state.typeOf("t"), "topic");
    assert.equal(stateFor("wk-scope-a"), stateFor("wk-scope-a"));
    assert.notEqual(stateFor("wk-scope-a"), stateFor("wk-scope-b"));
  });
});
