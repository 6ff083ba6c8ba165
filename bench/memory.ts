/**
 * Publish plus consume of N small JSON messages through the full Producer / Consumer stack on
 * `memory://`, beside bare array loops (JSON text: the ceiling; JSON + UTF-8 bytes: what a wire
 * transport adds) and Python Kombu's memory transport. Every figure is the best of 3 runs.
 *
 * Run: `deno task bench` (all benchmarks) or `deno run -A bench/memory.ts [N]`.
 * Prints a markdown table; msg/s counts a message once, published and consumed.
 */
import { Connection, Exchange, Queue } from "../mod.ts";
import { kombuPublishConsume } from "./_kombu_peer.ts";
import { messageCount } from "./_args.ts";

const N = messageCount(100_000, "memory.ts");
const body = { id: 0, name: "wakame", tags: ["a", "b"], ok: true };

interface Result {
  publish: number;
  consume: number;
  total: number;
}

/** msg/s of each phase from the times it started, switched and ended (ms). */
function rates(t0: number, t1: number, t2: number): Result {
  return {
    publish: N / ((t1 - t0) / 1000),
    consume: N / ((t2 - t1) / 1000),
    total: N / ((t2 - t0) / 1000),
  };
}

async function wakame(): Promise<Result> {
  await using conn = new Connection("memory://", { virtualHost: `bench-${Math.random()}` });
  const exchange = new Exchange("bench", { type: "direct" });
  const queue = new Queue("bench", { exchange, routingKey: "bench" });
  const producer = conn.producer({ exchange, serializer: "json" });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    body.id = i;
    await producer.publish(body, { routingKey: "bench", declare: [queue] });
  }
  const t1 = performance.now();
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await using consumer = conn.consumer(queue, {
    callbacks: [(_body, message) => {
      void message.ack();
      if (++got === N) done();
    }],
  });
  await consumer.consume();
  await finished;
  const t2 = performance.now();
  return rates(t0, t1, t2);
}

/** JSON text in an array and back: what any stack that serializes must do at least. */
function bareTextLoop(): Result {
  const queue: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    body.id = i;
    queue.push(JSON.stringify(body));
  }
  const t1 = performance.now();
  let sum = 0;
  for (let i = 0; i < N; i++) sum += (JSON.parse(queue[i]) as { id: number }).id;
  const t2 = performance.now();
  if (sum < 0) throw new Error("unreachable");
  return rates(t0, t1, t2);
}

/** The same with UTF-8 bytes in between: what a stack that writes to a wire must do at least. */
function bareBytesLoop(): Result {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const queue: Uint8Array[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    body.id = i;
    queue.push(encoder.encode(JSON.stringify(body)));
  }
  const t1 = performance.now();
  let sum = 0;
  for (let i = 0; i < N; i++) sum += (JSON.parse(decoder.decode(queue[i])) as { id: number }).id;
  const t2 = performance.now();
  if (sum < 0) throw new Error("unreachable");
  return rates(t0, t1, t2);
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
// Warm up the JIT once, then measure the best of three runs.
await wakame();
const runs = [await wakame(), await wakame(), await wakame()];
const best = runs.reduce((a, b) => (b.total > a.total ? b : a));
const bestOf = (run: () => Result): Result => {
  run();
  return [run(), run(), run()].reduce((a, b) => (b.total > a.total ? b : a));
};
const textCeiling = bestOf(bareTextLoop);
const bytesCeiling = bestOf(bareBytesLoop);
const kombu = kombuPublishConsume(N, "memory://");
const runtime = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "Bun"
  : `Node ${(globalThis as unknown as { process: { version: string } }).process.version}`;

console.log(
  `\n### memory:// — ${fmt(N)} small JSON messages, full Producer / Consumer stack (${runtime})\n`,
);
console.log("| client | publish msg/s | consume msg/s | publish+consume msg/s | vs wakame |");
console.log("| --- | ---: | ---: | ---: | ---: |");
console.log(
  `| wakame memory:// (best of 3) | ${fmt(best.publish)} | ${fmt(best.consume)} | ${
    fmt(best.total)
  } | 1.00x |`,
);
for (
  const [label, ceiling] of [
    ["bare array loop, JSON text (ceiling)", textCeiling],
    ["bare array loop, JSON + UTF-8 bytes", bytesCeiling],
  ] as const
) {
  console.log(
    `| ${label} | ${fmt(ceiling.publish)} | ${fmt(ceiling.consume)} | ${fmt(ceiling.total)} | ${
      (ceiling.total / best.total).toFixed(2)
    }x |`,
  );
}
if (typeof kombu === "string") console.log(`| Python Kombu memory:// | ${kombu} | | | |`);
else {
  console.log(
    `| Python Kombu 5.2 memory:// | ${fmt(kombu.publish)} | ${fmt(kombu.consume)} | ${
      fmt(kombu.total)
    } | ${(kombu.total / best.total).toFixed(3)}x |`,
  );
}
