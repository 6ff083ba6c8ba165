/**
 * The Redis transport side by side with Python Kombu's and raw ioredis, on the local Redis
 * (127.0.0.1:6379): publish N small JSON messages, then consume them with ack emulation (each
 * message moves into `unacked` and is acked out of it).
 *
 * - wakame: the full Producer / Consumer stack, native RESP client and ioredis driver. Publishes
 *   are issued in windows of 1000 concurrent calls (one pipelined write per window); the consumer
 *   prefetches 1000 and acks every message.
 * - Python Kombu 5.2 (`bench/python/kombu_publish_consume.py`), prefetch 100, ack each.
 * - raw ioredis: pipelined LPUSH of the envelope text, pipelined RPOP (no ack emulation): the
 *   ceiling of a Node Redis client.
 *
 * Run: `deno run -A bench/redis.ts [N]` (or `deno task bench`). Prints a markdown table.
 */
import { spawnSync } from "node:child_process";
import { Redis } from "ioredis";
import { Connection, Exchange, Queue } from "../mod.ts";
import { kombuPublishConsume } from "./_kombu_peer.ts";
import { RespConnection } from "../transports/redis/resp/client.ts";
import { connectSocket } from "../src/runtime/mod.ts";
import { messageCount } from "./_args.ts";

const N = messageCount(100_000, "redis.ts");
const WINDOW = 1000;
const body = { id: 0, name: "wakame", tags: ["a", "b"], ok: true };

interface Result {
  publish: number;
  consume: number;
  total: number;
}

async function dropPrefix(prefix: string): Promise<void> {
  const raw = await RespConnection.connect({
    hostname: "127.0.0.1",
    port: 6379,
    socketFactory: connectSocket,
  });
  let cursor = "0";
  for (let round = 0; round < 100_000; round++) {
    const [next, keys] = await raw.send(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", 1000]) as [
      Uint8Array,
      Uint8Array[],
    ];
    if (keys.length) await raw.send(["DEL", ...keys]);
    cursor = new TextDecoder().decode(next);
    if (cursor === "0") break;
  }
  await raw.close();
}

async function wakame(driver: "resp" | "ioredis"): Promise<Result> {
  const prefix = `bench-wk-${crypto.randomUUID().slice(0, 8)}:`;
  const conn = new Connection("redis://127.0.0.1:6379/0", {
    transportOptions: { globalKeyprefix: prefix, driver },
  });
  try {
    const exchange = new Exchange("bench", { type: "direct" });
    const queue = new Queue("bench", { exchange, routingKey: "bench" });
    const producer = conn.producer({ exchange, serializer: "json" });
    await producer.publish(body, { routingKey: "bench", declare: [queue] });
    const t0 = performance.now();
    for (let i = 1; i < N; i += WINDOW) {
      const window: Promise<void>[] = [];
      for (let j = i; j < Math.min(N, i + WINDOW); j++) {
        window.push(producer.publish({ ...body, id: j }, { routingKey: "bench" }));
      }
      await Promise.all(window);
    }
    const t1 = performance.now();
    let got = 0;
    const acks: Promise<void>[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const consumer = conn.consumer(queue, {
      prefetchCount: 1000,
      callbacks: [(_body, message) => {
        acks.push(message.ack());
        if (++got === N) done();
      }],
    });
    await consumer.consume();
    await finished;
    await Promise.all(acks);
    const t2 = performance.now();
    await consumer.cancel();
    return {
      publish: N / ((t1 - t0) / 1000),
      consume: N / ((t2 - t1) / 1000),
      total: N / ((t2 - t0) / 1000),
    };
  } finally {
    await conn.close();
    await dropPrefix(prefix);
  }
}

async function rawIoredis(): Promise<Result> {
  const prefix = `bench-io-${crypto.randomUUID().slice(0, 8)}:`;
  const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true });
  await redis.connect();
  const key = `${prefix}bench`;
  const text = (id: number) =>
    JSON.stringify({
      body: btoa(JSON.stringify({ ...body, id })),
      "content-encoding": "utf-8",
      "content-type": "application/json",
      headers: {},
      properties: {
        body_encoding: "base64",
        delivery_tag: crypto.randomUUID(),
        delivery_info: { exchange: "bench", routing_key: "bench" },
        priority: 0,
        delivery_mode: 2,
      },
    });
  try {
    const t0 = performance.now();
    for (let i = 0; i < N; i += WINDOW) {
      const pipeline = redis.pipeline();
      for (let j = i; j < Math.min(N, i + WINDOW); j++) pipeline.lpush(key, text(j));
      await pipeline.exec();
    }
    const t1 = performance.now();
    let got = 0;
    for (let i = 0; i < N; i += WINDOW) {
      const pipeline = redis.pipeline();
      for (let j = i; j < Math.min(N, i + WINDOW); j++) pipeline.rpop(key);
      for (const [, value] of (await pipeline.exec()) ?? []) {
        if (typeof value === "string") {
          JSON.parse(value);
          got++;
        }
      }
    }
    const t2 = performance.now();
    if (got !== N) throw new Error(`raw ioredis got ${got} of ${N}`);
    return {
      publish: N / ((t1 - t0) / 1000),
      consume: N / ((t2 - t1) / 1000),
      total: N / ((t2 - t0) / 1000),
    };
  } finally {
    await redis.del(key);
    redis.disconnect();
  }
}

function pythonKombu(): Result | string {
  const keyPrefix = `bench-py-${crypto.randomUUID().slice(0, 8)}:`;
  const result = kombuPublishConsume(N, "redis://127.0.0.1:6379/0", { prefetch: 100, keyPrefix });
  spawnSync("sh", ["-c", `redis-cli --scan --pattern '${keyPrefix}*' | xargs -r redis-cli del`]);
  return result;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const best = (runs: Result[]) => runs.reduce((a, b) => (b.total > a.total ? b : a));

await wakame("resp"); // warm-up
const native = best([await wakame("resp"), await wakame("resp"), await wakame("resp")]);
const viaIoredis = best([await wakame("ioredis"), await wakame("ioredis")]);
const ceiling = best([await rawIoredis(), await rawIoredis()]);
const kombu = pythonKombu();
const runtime = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "Bun"
  : `Node ${(globalThis as unknown as { process: { version: string } }).process.version}`;

console.log(
  `\n### redis:// — ${
    fmt(N)
  } small JSON messages, publish then consume with ack emulation (${runtime}, Redis on 127.0.0.1)\n`,
);
console.log("| client | publish msg/s | consume + ack msg/s | publish+consume msg/s |");
console.log("| --- | ---: | ---: | ---: |");
const row = (name: string, r: Result) =>
  console.log(`| ${name} | ${fmt(r.publish)} | ${fmt(r.consume)} | ${fmt(r.total)} |`);
row("wakame redis://, native RESP client (best of 3)", native);
row("wakame redis://, ioredis driver (best of 2)", viaIoredis);
if (typeof kombu === "string") console.log(`| Python Kombu 5.2 redis:// | ${kombu} | | |`);
else row("Python Kombu 5.2 redis:// (ack emulation)", kombu);
row("raw ioredis, pipelined LPUSH / RPOP (no acks, no envelope work)", ceiling);
