import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Connection, Queue } from "../../../mod.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { dropPrefix, killClientsNamed, randomPrefix, rawRedis } from "./_helpers.ts";
import { haveBinary, PrivateRedis } from "./_server.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));
const skipRestart = envSkip(
  import.meta.url,
  skip.reason ||
    (haveBinary("redis-server")
      ? false
      : "redis-server is not installed (apt-get install redis-server)"),
);

/** Collects bodies until every expected one arrived (bounded). */
class Collector {
  readonly seen = new Map<number, number>();
  #waiting: { n: number; resolve: () => void } | undefined;

  add(n: number): void {
    this.seen.set(n, (this.seen.get(n) ?? 0) + 1);
    if (this.#waiting && this.seen.size >= this.#waiting.n) this.#waiting.resolve();
  }

  async until(n: number, ms = 20_000): Promise<void> {
    if (this.seen.size >= n) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#waiting = { n, resolve };
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
  }
}

async function consumeAll(
  url: string,
  options: Record<string, unknown>,
  queue: string,
  collector: Collector,
): Promise<{ conn: Connection; stop: () => Promise<void> }> {
  const conn = new Connection(url, { transportOptions: options });
  const consumer = conn.consumer(new Queue(queue), {
    prefetchCount: 20,
    callbacks: [async (body, message) => {
      collector.add((body as { n: number }).n);
      // An ack may fail while the connection is being killed; the message then comes back
      // after the visibility timeout and is acked the next time.
      await message.ack().catch(() => undefined);
    }],
  });
  await consumer.consume();
  return {
    conn,
    stop: async () => {
      await consumer.cancel();
      await conn.close();
    },
  };
}

async function publish(
  url: string,
  options: Record<string, unknown>,
  queue: string,
  from: number,
  to: number,
) {
  await using conn = new Connection(url, { transportOptions: options });
  const producer = conn.producer();
  for (let n = from; n < to; n++) {
    await producer.publish({ n }, { routingKey: queue, declare: [new Queue(queue)] });
  }
}

describe("Redis recovery", () => {
  it(
    "keeps consuming after CLIENT KILL of its connections: nothing lost, unacked restored",
    skip.options(),
    async () => {
      const prefix = randomPrefix();
      const name = `wk-kill-${crypto.randomUUID().slice(0, 8)}`;
      const url = "redis://127.0.0.1:6379/0";
      const options = { globalKeyprefix: prefix, clientName: name, visibilityTimeout: 1000 };
      const raw = await rawRedis();
      const collector = new Collector();
      const consumer = await consumeAll(url, options, "jobs", collector);
      try {
        await publish(url, { globalKeyprefix: prefix }, "jobs", 0, 100);
        await collector.until(50);
        const killed = await killClientsNamed(raw, name);
        assert.ok(killed >= 1, "the consumer's connections were found and killed");
        await publish(url, { globalKeyprefix: prefix }, "jobs", 100, 200);
        await collector.until(200);
        assert.equal(collector.seen.size, 200, "every message arrived");
        // Whatever was fetched or unacked when the connection died comes back (a message whose
        // ack was lost is delivered again: at least once) and is acked: wait until both are empty.
        const settled = async () =>
          (await raw.send(["HLEN", `${prefix}unacked`])) === 0 &&
          (await raw.send(["LLEN", `${prefix}jobs`])) === 0;
        for (let i = 0; i < 100 && !(await settled()); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(await raw.send(["HLEN", `${prefix}unacked`]), 0);
        assert.equal(await raw.send(["LLEN", `${prefix}jobs`]), 0);
      } finally {
        await consumer.stop();
        await dropPrefix(raw, prefix);
        await raw.close();
      }
    },
  );

  describe("across a Redis restart", () => {
    let server: PrivateRedis | undefined;
    after(async () => {
      if (skipRestart.reason) return;
      await server?.dispose();
    });

    it(
      "re-arms by itself and receives what was published before and after",
      skipRestart.options(),
      async () => {
        server = await PrivateRedis.start();
        const url = `redis://127.0.0.1:${server.port}/0`;
        const options = { visibilityTimeout: 1000 };
        const collector = new Collector();
        const consumer = await consumeAll(url, options, "jobs", collector);
        try {
          await publish(url, {}, "jobs", 0, 50);
          await collector.until(10);
          await server.stop();
          await server.startAgain();
          await publish(url, {}, "jobs", 50, 100);
          await collector.until(100);
          assert.equal(collector.seen.size, 100, "every message arrived");
        } finally {
          await consumer.stop();
        }
      },
    );
  });
});
