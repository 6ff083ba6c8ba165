import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection, Exchange, NotFoundError, Queue } from "../../mod.ts";
import type { Message } from "../../src/message.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { kombuSkipReason, runPython } from "../_support/python.ts";
import { dropPrefix, openStore, randomPrefix, rawRedis } from "../unit/redis/_helpers.ts";
import { envSkip } from "../_support/skips.ts";
import { pythonConsuming } from "../_support/store_interop.ts";

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

/** Runs the Python peer and parses its JSON lines. */
async function python(command: string, args: Record<string, unknown>): Promise<Received[]> {
  const out = await runPython(peer, [command, JSON.stringify({ prefix, ...args })]);
  return out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

interface Received {
  body: unknown;
  headers: Record<string, unknown>;
  priority: number;
  redelivered: boolean;
  routing_key: string;
  delivery_tag: string;
}

interface Got {
  body: unknown;
  message: Message;
}

/** Consumes `count` messages with wakame (bounded wait), acking each. */
async function consumeHere(
  conn: Connection,
  queues: Queue[],
  count: number,
  onReady?: () => Promise<void>,
): Promise<Got[]> {
  const got: Got[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  await using consumer = conn.consumer(queues, {
    callbacks: [async (body, message) => {
      got.push({ body, message });
      await message.ack();
      if (got.length >= count) finish();
    }],
  });
  await consumer.consume();
  await onReady?.();
  const timer = setTimeout(finish, 15_000);
  await finished;
  clearTimeout(timer);
  return got;
}

describe("Redis interop with Python Kombu", () => {
  after(async () => {
    if (skip.reason) return;
    const raw = await rawRedis();
    await dropPrefix(raw, prefix);
    await raw.close();
  });

  it(
    "direct: consumes what Python published, and Python consumes what wakame published",
    skip.options(),
    async () => {
      await python("publish", {
        exchange: "direct-x",
        routing_key: "jobs",
        declare: [{ queue: "py-to-wk", exchange: "direct-x", routing_key: "jobs" }],
        messages: [{ body: { n: 1, text: "héllo" } }, { body: { n: 2 } }],
      });
      await using conn = connect();
      const got = await consumeHere(conn, [new Queue("py-to-wk")], 2);
      assert.deepEqual(got.map((m) => m.body), [{ n: 1, text: "héllo" }, { n: 2 }]);
      assert.equal(got[0]!.message.headers["x-peer"], "python");

      const queue = new Queue("wk-to-py", {
        exchange: new Exchange("direct-y"),
        routingKey: "jobs",
      });
      const producer = conn.producer();
      await producer.publish({ from: "wakame", n: 1 }, {
        exchange: "direct-y",
        routingKey: "jobs",
        declare: [queue],
      });
      await producer.publish({ from: "wakame", n: 2 }, {
        exchange: "direct-y",
        routingKey: "jobs",
      });
      const there = await python("consume", {
        queues: [{ queue: "wk-to-py", exchange: "direct-y", routing_key: "jobs" }],
        count: 2,
      });
      assert.deepEqual(there.map((m) => m.body), [{ from: "wakame", n: 1 }, {
        from: "wakame",
        n: 2,
      }]);
    },
  );

  it(
    "topic: routes by bindings that Python declared, and Python routes by ours",
    skip.options(),
    async () => {
      // Python declares the binding; wakame publishes through it.
      await python("bind", {
        queue: "py-logs",
        exchange: "logs",
        type: "topic",
        routing_key: "logs.#",
      });
      await using conn = connect();
      const logs = new Exchange("logs", { type: "topic" });
      const producer = conn.producer();
      await producer.publish({ level: "error" }, { exchange: logs, routingKey: "logs.error.db" });
      await producer.publish({ level: "other" }, { exchange: logs, routingKey: "metrics.cpu" });
      const there = await python("consume", {
        queues: [{ queue: "py-logs", exchange: "logs", type: "topic", routing_key: "logs.#" }],
        count: 2,
        seconds: 3,
      });
      assert.deepEqual(there.map((m) => m.body), [{ level: "error" }]);

      // wakame declares the binding; Python publishes through it (Python matches our regex).
      const mine = new Queue("wk-warnings", { exchange: logs, routingKey: "*.warn" });
      const got = await consumeHere(conn, [mine], 1, async () => {
        await python("publish", {
          exchange: "logs",
          type: "topic",
          routing_key: "disk.warn",
          messages: [{ body: { level: "warn" } }],
        });
      });
      assert.deepEqual(got.map((m) => m.body), [{ level: "warn" }]);
      assert.equal(got[0]!.message.deliveryInfo.routingKey, "disk.warn");
    },
  );

  it(
    "an exchange only Python declared exists here through its shared bindings",
    skip.options(),
    async () => {
      // Kombu keeps exchange declarations in each process; only the bindings are in Redis.
      await python("bind", { queue: "py-held", exchange: "py-only", routing_key: "k" });
      await using conn = connect();
      const channel = await conn.channel();
      await new Exchange("py-only", { passive: true }).declareOn(channel);
      await channel.queueBind("wk-held", "py-only", "k");
      await assert.rejects(
        new Exchange("never-bound", { passive: true }).declareOn(channel),
        NotFoundError,
      );
      await assert.rejects(channel.queueBind("wk-held", "never-bound", "k"), NotFoundError);
      await conn.producer().publish({ to: "both" }, { exchange: "py-only", routingKey: "k" });
      const mine = await new Queue("wk-held").bind(channel).get({ noAck: true });
      assert.deepEqual(mine?.payload, { to: "both" });
      const there = await python("consume", {
        queues: [{ queue: "py-held", exchange: "py-only", routing_key: "k" }],
        count: 1,
      });
      assert.deepEqual(there.map((m) => m.body), [{ to: "both" }]);
    },
  );

  it("fanout: both sides receive the other's broadcasts over PUB/SUB", skip.options(), async () => {
    const spec = { queue: "py-news", exchange: "news", type: "fanout", routing_key: "" };
    const listening = pythonConsuming(peer, {
      prefix,
      ready: true,
      queues: [spec],
      count: 1,
      seconds: 10,
    });
    await listening.ready;
    await using conn = connect();
    const news = new Exchange("news", { type: "fanout" });
    await conn.producer().publish({ headline: "from wakame" }, { exchange: news, routingKey: "" });
    const there = await listening.done;
    assert.deepEqual(there.map((m) => m.body), [{ headline: "from wakame" }]);

    const mine = new Queue(`wk-news-${crypto.randomUUID().slice(0, 6)}`, { exchange: news });
    const got = await consumeHere(conn, [mine], 1, async () => {
      // Our PSUBSCRIBE is in place once the queue is bound (consume() declared it).
      await python("publish", {
        exchange: "news",
        type: "fanout",
        messages: [{ body: { headline: "from python" } }],
      });
    });
    assert.deepEqual(got.map((m) => m.body), [{ headline: "from python" }]);
  });

  it(
    "priority: both sides consume step 0 first, oldest first within a step",
    skip.options(),
    async () => {
      const priorities = [9, 0, 3, 0, 6, 5];
      const expected = [1, 3, 2, 5, 4, 0]; // indexes in consumption order (0, 0, 3, 3, 6, 9)
      await python("publish", {
        routing_key: "py-prio",
        declare: [{ queue: "py-prio" }],
        messages: priorities.map((priority, i) => ({ body: { i }, priority })),
      });
      await using conn = connect();
      const got = await consumeHere(conn, [new Queue("py-prio")], 6);
      assert.deepEqual(got.map((m) => (m.body as { i: number }).i), expected);

      const producer = conn.producer();
      const queue = new Queue("wk-prio");
      for (const [i, priority] of priorities.entries()) {
        await producer.publish({ i }, { routingKey: "wk-prio", priority, declare: [queue] });
      }
      const there = await python("consume", {
        queues: [{ queue: "wk-prio" }],
        count: 6,
        prefetch: 1,
      });
      assert.deepEqual(there.map((m) => (m.body as { i: number }).i), expected);
    },
  );

  it(
    "restores to wakame a message that a Python consumer held when it died",
    skip.options(),
    async () => {
      await using conn = connect({ visibilityTimeout: 500 });
      const queue = new Queue("py-dies", { exchange: new Exchange("work"), routingKey: "py-dies" });
      await conn.producer().publish({ job: 1 }, {
        exchange: "work",
        routingKey: "py-dies",
        declare: [queue],
      });
      const [held] = await python("die", {
        queue: "py-dies",
        exchange: "work",
        routing_key: "py-dies",
      });
      assert.deepEqual(held!.body, { job: 1 });
      const raw = await rawRedis();
      try {
        // Python recorded it in unacked before dying; the list is empty.
        assert.equal(await raw.send(["HEXISTS", `${prefix}unacked`, held!.delivery_tag]), 1);
      } finally {
        await raw.close();
      }
      const got = await consumeHere(conn, [queue], 1);
      assert.deepEqual(got[0]!.body, { job: 1 });
      assert.equal(got[0]!.message.deliveryInfo.redelivered, true);
    },
  );

  it(
    "lets Python restore a message that a wakame consumer held when it died",
    skip.options(),
    async () => {
      const queue = new Queue("wk-dies", {
        exchange: new Exchange("work2"),
        routingKey: "wk-dies",
      });
      {
        await using conn = connect();
        await conn.producer().publish({ job: 2 }, {
          exchange: "work2",
          routingKey: "wk-dies",
          declare: [queue],
        });
      }
      // A wakame consumer takes it (recorded in unacked) and dies: its store closes without the
      // channel giving anything back.
      const dying = await openStore({ globalKeyprefix: prefix });
      assert.ok(await dying.get("wk-dies"));
      await dying.close();
      // Python's visibility_timeout is in seconds; let one pass before Python sweeps.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const there = await python("consume", {
        queues: [{ queue: "wk-dies", exchange: "work2", routing_key: "wk-dies" }],
        count: 1,
        seconds: 8,
        visibility_timeout: 1,
      });
      assert.deepEqual(there.map((m) => m.body), [{ job: 2 }]);
      assert.equal(there[0]!.redelivered, true);
    },
  );
});
