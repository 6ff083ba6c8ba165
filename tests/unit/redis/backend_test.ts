import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RedisBackend } from "../../../transports/redis/mod.ts";
import type { RespConnection } from "../../../transports/redis/resp/client.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import {
  bodyOf,
  dropPrefix,
  message,
  openStore,
  randomPrefix,
  rawRedis,
  take,
  text,
  type Warnings,
} from "./_helpers.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));
const SEP = "\x06\x16";

for (const variant of ["resp", "resp3", "ioredis"] as const) {
  const driver = variant === "ioredis" ? "ioredis" : "resp";
  const protocol = variant === "resp3" ? 3 : 2;
  describe(`Redis store in Kombu's layout (${variant})`, () => {
    let raw: RespConnection;
    const stores: RedisBackend[] = [];
    const open = async (options: Record<string, unknown> = {}) => {
      const store = await openStore({ driver, protocol, ...options });
      stores.push(store);
      return store;
    };
    before(async () => {
      if (skip.reason) return;
      raw = await rawRedis();
    });
    after(async () => {
      if (skip.reason) return;
      await Promise.all(stores.map((s) => s.close()));
      for (const store of stores) await dropPrefix(raw, store.layout.prefix);
      await raw.close();
    });

    it("LPUSHes Kombu's envelope onto one list per priority step", skip.options(), async () => {
      const store = await open();
      const p = store.layout.prefix;
      await store.put("q", message("low", { priority: 0 }));
      await store.put("q", message("mid", { priority: 4 }));
      await store.put("q", message("top", { priority: 9 }));
      assert.equal(await raw.send(["LLEN", `${p}q`]), 1);
      assert.equal(await raw.send(["LLEN", `${p}q${SEP}3`]), 1);
      assert.equal(await raw.send(["LLEN", `${p}q${SEP}9`]), 1);
      const envelope = JSON.parse(text(await raw.send(["LINDEX", `${p}q`, 0])));
      assert.equal(envelope["content-type"], "application/json");
      assert.equal(envelope.properties.body_encoding, "base64");
      assert.equal(atob(envelope.body), "low");
      assert.equal(envelope.properties.priority, 0);
      assert.equal(await store.size("q"), 3);
    });

    it("consumes step 0 first and each step oldest first", skip.options(), async () => {
      const store = await open();
      await store.put("q", message("a", { priority: 0 }));
      await store.put("q", message("b", { priority: 9 }));
      await store.put("q", message("c", { priority: 0 }));
      await store.put("q", message("d", { priority: 5 }));
      const got = await take(store, ["q"], 4);
      assert.deepStrictEqual(got.map(([, m]) => bodyOf(m)), ["a", "c", "d", "b"]);
      assert.equal(await store.get("q"), undefined);
    });

    it(
      "moves a message into unacked and unacked_index in the same step as the pop",
      skip.options(),
      async () => {
        const store = await open();
        const p = store.layout.prefix;
        const sent = message("x", { exchange: "media", routingKey: "video" });
        await store.put("q", sent);
        const got = await store.get("q");
        assert.ok(got);
        assert.equal(got.tag, sent.tag);
        // Not in the list, recorded in Python Kombu's format.
        assert.equal(await raw.send(["LLEN", `${p}q`]), 0);
        const [envelope, exchange, routingKey] = JSON.parse(
          text(await raw.send(["HGET", `${p}unacked`, sent.tag])),
        );
        assert.equal(envelope.properties.delivery_tag, sent.tag);
        assert.equal(exchange, "media");
        assert.equal(routingKey, "video");
        const score = Number(text(await raw.send(["ZSCORE", `${p}unacked_index`, sent.tag])));
        assert.ok(Math.abs(score - Date.now() / 1000) < 60);
        await store.lease!.settle("q", got, "ack");
        assert.equal(await raw.send(["HEXISTS", `${p}unacked`, sent.tag]), 0);
        assert.equal(await raw.send(["ZSCORE", `${p}unacked_index`, sent.tag]), null);
      },
    );

    it(
      "records the right tag however the envelope is written (fast path and JSON fallback)",
      skip.options(),
      async () => {
        const store = await open();
        const p = store.layout.prefix;
        const body = btoa('{"x": 1}');
        const envelopes = [
          // Python's spacing, but a header of the same names as the fields the script looks for.
          `{"body": "${body}", "content-type": "application/json", "content-encoding": "utf-8", ` +
          `"headers": {"delivery_tag": "fake", "exchange": "fake", "routing_key": "fake"}, ` +
          `"properties": {"body_encoding": "base64", "delivery_tag": "tag-1", ` +
          `"delivery_info": {"exchange": "ex\\\"1", "routing_key": "rk/1"}}}`,
          // Compact JSON from another producer.
          `{"body":"${body}","content-type":"application/json","content-encoding":"utf-8",` +
          `"headers":{},"properties":{"body_encoding":"base64","delivery_tag":"tag-2",` +
          `"delivery_info":{"exchange":"ex2","routing_key":"rk2"}}}`,
          // Escapes inside the values the fast path copies.
          `{"body": "${body}", "content-type": "application/json", "content-encoding": "utf-8", ` +
          `"headers": {}, "properties": {"body_encoding": "base64", "delivery_tag": "tag-3", ` +
          `"delivery_info": {"exchange": "caf\\u00e9", "routing_key": "a\\\\b"}}}`,
        ];
        for (const text of envelopes) await raw.send(["LPUSH", `${p}q`, text]);
        const got = await take(store, ["q"], 3);
        assert.deepStrictEqual(got.map(([, m]) => m.tag), ["tag-1", "tag-2", "tag-3"]);
        const entries = await Promise.all(
          ["tag-1", "tag-2", "tag-3"].map(async (tag) =>
            JSON.parse(text(await raw.send(["HGET", `${p}unacked`, tag])))
          ),
        );
        assert.deepStrictEqual(entries.map(([, ex, rk]) => [ex, rk]), [
          ['ex"1', "rk/1"],
          ["ex2", "rk2"],
          ["café", "a\\b"],
        ]);
        assert.equal(entries[0][0].properties.delivery_tag, "tag-1");
      },
    );

    it(
      "requeues a rejected message at the back (LPUSH), marked redelivered",
      skip.options(),
      async () => {
        const store = await open();
        const p = store.layout.prefix;
        for (const body of ["m1", "m2", "m3"]) await store.put("q", message(body));
        const m1 = (await store.get("q"))!;
        // The base marks a message redelivered before it releases it.
        await store.lease!.release("q", { ...m1, redelivered: true }, { position: "back" });
        assert.equal(await raw.send(["HEXISTS", `${p}unacked`, m1.tag]), 0);
        const back = JSON.parse(text(await raw.send(["LINDEX", `${p}q`, 0])));
        assert.equal(back.headers.redelivered, true);
        assert.equal(back.properties.delivery_info.redelivered, true);
        const order = await take(store, ["q"], 3);
        assert.deepStrictEqual(order.map(([, m]) => bodyOf(m)), ["m2", "m3", "m1"]);
        assert.deepStrictEqual(order.map(([, m]) => m.redelivered), [false, false, true]);
      },
    );

    it("restores unacked messages at the front (RPUSH), once", skip.options(), async () => {
      const store = await open();
      for (const body of ["m1", "m2", "m3"]) await store.put("q", message(body));
      const got = await take(store, ["q"], 2);
      // The base releases the last first, each to the front.
      const restore = () =>
        Promise.all(
          [...got].reverse().map(([queue, m]) =>
            store.lease!.release(queue, { ...m, redelivered: true }, { position: "front" })
          ),
        );
      await restore();
      // A second restore of the same deliveries finds nothing left to give back.
      await restore();
      assert.equal(await store.size("q"), 3);
      const order = await take(store, ["q"], 3);
      assert.deepStrictEqual(order.map(([, m]) => bodyOf(m)), ["m1", "m2", "m3"]);
    });

    it(
      "restores what a dead consumer held after the visibility timeout, routed by its exchange",
      skip.options(),
      async () => {
        const dead = await open();
        const prefix = dead.layout.prefix;
        await dead.bindings.add("media", { queue: "video", routingKey: "mp4.#" });
        await dead.put(
          "video",
          message("clip", { exchange: "media", routingKey: "mp4.hd", priority: 6 }),
        );
        const held = await dead.get("video");
        assert.ok(held);
        await dead.close(); // dies without acking or restoring

        const other = await open({ globalKeyprefix: prefix, visibilityTimeout: 0 });
        assert.equal(await other.size("video"), 0);
        assert.equal(await other.restoreVisible(), 1);
        assert.equal(await raw.send(["LLEN", `${prefix}video${SEP}6`]), 1);
        const again = await other.get("video");
        assert.ok(again);
        assert.equal(again.tag, held.tag);
        assert.equal(again.redelivered, true);
        assert.equal(bodyOf(again), "clip");
        await other.lease!.settle("video", again, "ack");
        assert.equal(await raw.send(["HLEN", `${prefix}unacked`]), 0);
      },
    );

    it("does not sweep while another process holds unacked_mutex", skip.options(), async () => {
      const store = await open({ visibilityTimeout: 0 });
      const p = store.layout.prefix;
      await store.put("q", message("m"));
      const held = await store.get("q");
      assert.ok(held);
      await raw.send(["SET", `${p}unacked_mutex`, "someone-else", "PX", 60_000]);
      assert.equal(await store.restoreVisible(), 0);
      assert.equal(await raw.send(["HEXISTS", `${p}unacked`, held.tag]), 1);
      await raw.send(["DEL", `${p}unacked_mutex`]);
      assert.equal(await store.restoreVisible(), 1);
      // The lock is released after the sweep.
      assert.equal(await raw.send(["EXISTS", `${p}unacked_mutex`]), 0);
    });

    it("puts every key under globalKeyprefix", skip.options(), async () => {
      const prefix = randomPrefix();
      const store = await open({ globalKeyprefix: prefix });
      await store.bindings.add("ex", { queue: "q", routingKey: "k" });
      await store.put("q", message("m", { priority: 9 }));
      await store.get("q");
      const keys = (await raw.send(["KEYS", `${prefix}*`]) as Uint8Array[]).map(text).sort();
      assert.deepStrictEqual(keys, [
        `${prefix}_kombu.binding.ex`,
        `${prefix}unacked`,
        `${prefix}unacked_index`,
      ]);
      assert.equal(await raw.send(["EXISTS", "_kombu.binding.ex"]), 0);
    });

    it("applies x-expires to the queue's lists (PEXPIRE)", skip.options(), async () => {
      const store = await open();
      await store.declare("q", { "x-expires": 60_000 });
      await store.put("q", message("m"));
      const ttl = await raw.send(["PTTL", `${store.layout.prefix}q`]);
      assert.ok(typeof ttl === "number" && ttl > 0 && ttl <= 60_000, `PTTL ${ttl}`);
    });

    it(
      "takes queues in the order given, at most perQueue from each, as per-queue batches",
      skip.options(),
      async () => {
        const store = await open();
        for (let i = 0; i < 3; i++) {
          await store.put("a", message(`a${i}`));
          await store.put("b", message(`b${i}`));
        }
        const signal = AbortSignal.timeout(5000);
        const first = await store.getMany(["b", "a"], { max: 1, signal });
        assert.deepStrictEqual(first.map((b) => [b.queue, b.messages.map(bodyOf)]), [["b", [
          "b0",
        ]]]);
        const round = await store.getMany(["a", "b"], { max: 5, perQueue: 2, signal });
        assert.deepStrictEqual(round.map((b) => [b.queue, b.messages.map(bodyOf)]), [
          ["a", ["a0", "a1"]],
          ["b", ["b1", "b2"]],
        ]);
      },
    );

    it(
      "keeps bindings in _kombu.binding.<exchange> with Python's topic pattern",
      skip.options(),
      async () => {
        const store = await open();
        const key = `${store.layout.prefix}_kombu.binding.logs`;
        const topic = "^.*?[^\\.]\\.error\\..*?$";
        // The channel passes the pattern for the exchange's type; without one, the topic regex.
        await store.bindings.add("logs", { queue: "errors", routingKey: "*.error.#" });
        await store.bindings.add("logs", { queue: "direct", routingKey: "d", pattern: "" });
        const members = (await raw.send(["SMEMBERS", key]) as Uint8Array[]).map(text).sort();
        assert.deepStrictEqual(members, [
          `*.error.#${SEP}${topic}${SEP}errors`,
          `d${SEP}${SEP}direct`,
        ]);
        await store.bindings.remove("logs", { queue: "direct", routingKey: "d" });
        // A row written by Python for a direct exchange (empty pattern).
        await raw.send(["SADD", key, `info${SEP}${SEP}infos`]);
        const listed = await store.bindings.list("logs");
        assert.deepStrictEqual(
          listed.sort((a, b) => a.queue.localeCompare(b.queue)),
          [
            { queue: "errors", routingKey: "*.error.#", pattern: topic },
            { queue: "infos", routingKey: "info" },
          ],
        );
        await store.bindings.remove("logs", { queue: "infos", routingKey: "info" });
        await store.bindings.remove("logs", { queue: "errors", routingKey: "*.error.#" });
        assert.equal(await raw.send(["EXISTS", key]), 0);
      },
    );

    it(
      "sees bindings that another process adds, through a cached read",
      skip.options(),
      async () => {
        const store = await open();
        const key = `${store.layout.prefix}_kombu.binding.shared`;
        await store.bindings.add("shared", { queue: "one", routingKey: "k" });
        // Reads until tracking is on and the set is cached, then another client changes it.
        for (let i = 0; i < 3; i++) await store.bindings.rows("shared");
        await raw.send(["SADD", key, `k${SEP}${SEP}two`]);
        let queues: string[] = [];
        for (let i = 0; i < 200; i++) {
          queues = (await store.bindings.list("shared")).map((b) => b.queue).sort();
          if (queues.length === 2) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.deepStrictEqual(queues, ["one", "two"]);
        // Our own change is seen at once, without waiting for the server's invalidation.
        await store.bindings.remove("shared", { queue: "one", routingKey: "k" });
        assert.deepStrictEqual((await store.bindings.list("shared")).map((b) => b.queue), ["two"]);
      },
    );

    it(
      "removes the bindings it made when the queue is deleted, and no others",
      skip.options(),
      async () => {
        const store = await open();
        const key = `${store.layout.prefix}_kombu.binding.jobs`;
        await store.bindings.add("jobs", { queue: "mine", routingKey: "a" });
        await raw.send(["SADD", key, `a${SEP}${SEP}theirs`]);
        await store.delete("mine");
        assert.deepStrictEqual((await store.bindings.list("jobs")).map((b) => b.queue), ["theirs"]);
      },
    );

    it("delivers fanout over PUB/SUB on /{db}.<exchange>", skip.options(), async () => {
      const store = await open();
      const other = await open({ globalKeyprefix: store.layout.prefix });
      await store.bindFanout("news", "reader-1", "");
      await other.bindFanout("news", "reader-2", "");
      await store.putFanout("news", message("hello", { exchange: "news" }), "");
      const [first] = await take(store, ["reader-1"], 1);
      const [second] = await take(other, ["reader-2"], 1);
      assert.equal(bodyOf(first![1]), "hello");
      assert.equal(bodyOf(second![1]), "hello");
      assert.equal(store.layout.fanoutChannel("news", ""), `${store.layout.prefix}/0.news`);
      // A fanout binding is stored as Python writes it: empty pattern.
      await store.bindings.add("news", { queue: "reader-3", routingKey: "" });
      await store.bindFanout("news", "reader-3", "");
      const members = (await raw.send([
        "SMEMBERS",
        `${store.layout.prefix}_kombu.binding.news`,
      ]) as Uint8Array[]).map(text);
      assert.deepStrictEqual(
        members.sort(),
        ["reader-1", "reader-2", "reader-3"].map((q) => `${SEP}${SEP}${q}`),
      );
    });

    it(
      "wakes a waiting consumer when another client pushes, without polling",
      skip.options(),
      async () => {
        const store = await open({ visibilityTimeout: 3_600_000 });
        const waiting = take(store, ["q"], 1, 8000);
        await new Promise((r) => setTimeout(r, 50));
        const sent = message("late");
        const { encodeEnvelope } = await import("../../../src/envelope.ts");
        await raw.send(["LPUSH", `${store.layout.prefix}q`, encodeEnvelope(sent)]);
        const [got] = await waiting;
        assert.equal(got?.[1].tag, sent.tag);
      },
    );

    it("also works by polling when told to", skip.options(), async () => {
      const store = await open({ wakeup: "poll", pollInterval: 20 });
      const waiting = take(store, ["q"], 1);
      await new Promise((r) => setTimeout(r, 30));
      await store.put("q", message("polled"));
      const [got] = await waiting;
      assert.equal(bodyOf(got![1]), "polled");
    });

    it(
      "gives back a batch read ahead that nobody claims, in order and not redelivered",
      skip.options(),
      async () => {
        const store = await open();
        for (let i = 0; i < 200; i++) await store.put("q", message(`m${i}`));
        const first = await store.getMany(["q"], { max: 50, signal: AbortSignal.timeout(5000) });
        assert.equal(first[0].messages.length, 50);
        // Asking for another queue returns the batch fetched ahead for "q" to its queue.
        await store.getMany(["other"], { max: 50, signal: AbortSignal.timeout(50) });
        assert.equal(await store.size("q"), 150);
        const next = await store.get("q");
        assert.equal(bodyOf(next!), "m50");
        assert.equal(next!.redelivered, false);
      },
    );

    it("gives back a batch read ahead when the store closes", skip.options(), async () => {
      const store = await open();
      for (let i = 0; i < 100; i++) await store.put("q", message(`m${i}`));
      const first = await store.getMany(["q"], { max: 40, signal: AbortSignal.timeout(5000) });
      assert.equal(first[0].messages.length, 40);
      await store.close();
      const other = await open({ globalKeyprefix: store.layout.prefix });
      assert.equal(await other.size("q"), 60);
      assert.equal(bodyOf((await other.get("q"))!), "m40");
    });

    it(
      "PINGs its pub/sub connection while waiting, without disturbing it",
      skip.options(),
      async () => {
        const warnings: Warnings = [];
        const store = await openStore({ driver, protocol, healthCheckInterval: 20 }, warnings);
        stores.push(store);
        const waiting = take(store, ["q"], 1);
        await new Promise((r) => setTimeout(r, 150));
        await store.put("q", message("after pings"));
        const [got] = await waiting;
        assert.equal(bodyOf(got![1]), "after pings");
        assert.deepStrictEqual(warnings, []);
      },
    );

    it("purges every step and reports the count", skip.options(), async () => {
      const store = await open();
      await store.put("q", message("a", { priority: 0 }));
      await store.put("q", message("b", { priority: 3 }));
      await store.put("q", message("c", { priority: 9 }));
      assert.equal(await store.purge("q"), 3);
      assert.equal(await store.size("q"), 0);
    });

    it("writes nothing to unacked with ackEmulation off", skip.options(), async () => {
      const store = await open({ ackEmulation: false });
      assert.equal(store.lease, undefined);
      await store.put("q", message("m"));
      assert.ok(await store.get("q"));
      assert.equal(await raw.send(["EXISTS", `${store.layout.prefix}unacked`]), 0);
    });
  });
}
