/**
 * A mixed fleet on one Redis: Python Kombu 5.2 and wakame publish to the same topic exchange
 * through the same bindings (stored in `_kombu.binding.*`). Kombu routes topic messages with its
 * regexes, wakame with AMQP's rules by default, so the queues a message reaches depend on which
 * side published it; with `topicRules: "kombu"` wakame routes as Python does.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection, Exchange } from "../../mod.ts";
import { bodyText } from "../../src/body.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { kombuSkipReason, runPython } from "../_support/python.ts";
import { dropPrefix, randomPrefix, rawRedis } from "../unit/redis/_helpers.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(
  import.meta.url,
  (await brokerSkipReason("Redis", "127.0.0.1", 6379)) ||
    kombuSkipReason(["kombu", "redis"]),
);
const peer = fileURLToPath(new URL("./python/redis_peer.py", import.meta.url));
const prefix = randomPrefix();

const connect = (options: Record<string, unknown> = {}) =>
  new Connection("redis://127.0.0.1:6379/0", {
    transportOptions: { globalKeyprefix: prefix, ...options },
  });

/** Bindings where Kombu's and AMQP's topic rules part. */
const BINDINGS = [
  { queue: "star-c", routing_key: "*.c" },
  { queue: "a-hash", routing_key: "a.#" },
  { queue: "a-star-c", routing_key: "a.*.c" },
  { queue: "exact", routing_key: "a.b.c" },
];
const KEYS = ["a.b.c", "a", "a.b.b.c"];

/** Routing key -> queues reached (sorted), for one publisher. */
type Reached = Record<string, string[]>;

/** What RabbitMQ would do. */
const AMQP: Reached = {
  "a.b.c": ["a-hash", "a-star-c", "exact"],
  "a": ["a-hash"],
  "a.b.b.c": ["a-hash"],
};
/** What Kombu 5.2's regexes do: `*` spans dots, `a.#` needs the dot. */
const KOMBU: Reached = {
  "a.b.c": ["a-hash", "a-star-c", "exact", "star-c"],
  "a": [],
  "a.b.b.c": ["a-hash", "a-star-c", "star-c"],
};

describe("Redis topic routing in a mixed fleet with Python Kombu", () => {
  after(async () => {
    if (skip.reason) return;
    const raw = await rawRedis();
    await dropPrefix(raw, prefix);
    await raw.close();
  });

  it(
    "Python routes by Kombu's rules; wakame by AMQP's unless topicRules is kombu",
    skip.options(),
    async () => {
      const exchange = "mixed";
      // Python declares the queues and their bindings, and publishes each key once.
      for (const [i, key] of KEYS.entries()) {
        await runPython(peer, [
          "publish",
          JSON.stringify({
            prefix,
            exchange,
            type: "topic",
            routing_key: key,
            declare: i === 0 ? BINDINGS.map((b) => ({ ...b, exchange, type: "topic" })) : [],
            messages: [{ body: { from: "python", key } }],
          }),
        ]);
      }
      // wakame publishes the same keys through the bindings Python stored, with each rule set.
      for (const [from, options] of [["amqp", {}], ["kombu", { topicRules: "kombu" }]] as const) {
        await using conn = connect(options);
        const producer = conn.producer();
        const topic = new Exchange(exchange, { type: "topic" });
        for (const key of KEYS) {
          await producer.publish({ from: `wakame-${from}`, key }, {
            exchange: topic,
            routingKey: key,
          });
        }
      }

      // Empty every queue (asking the store, not waiting) and sort what each publisher reached.
      const reached: Record<string, Reached> = {};
      for (const from of ["python", "wakame-amqp", "wakame-kombu"]) {
        reached[from] = Object.fromEntries(KEYS.map((key) => [key, []]));
      }
      await using conn = connect();
      const channel = await conn.channel();
      for (const { queue } of BINDINGS) {
        for (;;) {
          const delivery = await channel.basicGet(queue, { noAck: true });
          if (!delivery) break;
          const { from, key } = JSON.parse(bodyText(delivery.body));
          reached[from][key].push(queue);
        }
      }
      for (const map of Object.values(reached)) for (const key of KEYS) map[key].sort();

      assert.deepEqual(reached.python, KOMBU, "Python Kombu routes by its regexes");
      assert.deepEqual(reached["wakame-amqp"], AMQP, "wakame's default is AMQP's rules");
      assert.deepEqual(
        reached["wakame-kombu"],
        reached.python,
        "topicRules kombu routes as Python",
      );
    },
  );
});
