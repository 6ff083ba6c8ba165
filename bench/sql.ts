/**
 * The SQL transport side by side with Python Kombu's SQLAlchemy transport on the local
 * PostgreSQL (127.0.0.1:5432, database `test`): publish N small JSON messages, then consume
 * them all, acking each. Every client gets tables of its own run.
 *
 * - wakame `sqla+postgresql://` (Postgres.js): the full Producer / Consumer stack; publishes
 *   issued in windows of 1000 concurrent calls (pipelined on a pool of 5 connections); the
 *   consumer prefetches 1000 and takes rows in batches of 100 with `FOR UPDATE SKIP LOCKED`;
 *   each ack deletes its row (acks that meet share one `DELETE`).
 * - Python Kombu 5.2 `sqla+postgresql://` (SQLAlchemy 1.4, psycopg2), prefetch 100, ack each
 *   (its ack touches no row: the row stays hidden forever).
 *
 * Run: `deno run -A bench/sql.ts [N]` (default 20 000). Prints a markdown table.
 */
import postgres from "postgres";
import { Connection, Exchange, Queue } from "../mod.ts";
import "../transports/sql/mod.ts";
import { kombuPublishConsume } from "./_kombu_peer.ts";
import { messageCount } from "./_args.ts";

const N = messageCount(20_000, "sql.ts");
const WINDOW = 1000;
const URL = "sqla+postgresql://postgres@127.0.0.1:5432/test";
const body = { id: 0, name: "wakame", tags: ["a", "b"], ok: true };

interface Result {
  publish: number;
  consume: number;
  total: number;
}

function tablesOf(tag: string) {
  const t = `${tag}_${crypto.randomUUID().slice(0, 8)}`;
  return { queue_tablename: `bench_${t}_queue`, message_tablename: `bench_${t}_message` };
}

async function dropTables(tables: ReturnType<typeof tablesOf>): Promise<void> {
  const sql = postgres({ host: "127.0.0.1", user: "postgres", database: "test", max: 1 });
  const m = tables.message_tablename;
  await sql.unsafe(`DROP TABLE IF EXISTS ${m}_wakame_lease, ${m}, ${tables.queue_tablename}`);
  await sql.end();
}

/** Creates the tables with wakame: Kombu cannot add a second pair to a PostgreSQL schema. */
async function createTables(tables: ReturnType<typeof tablesOf>): Promise<void> {
  const conn = new Connection(URL, { transportOptions: tables });
  await (await conn.channel()).queueDeclare({ name: "bench" });
  await conn.close();
}

async function wakame(): Promise<Result> {
  const tables = tablesOf("wk");
  const conn = new Connection(URL, { transportOptions: { ...tables, pollingInterval: 100 } });
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
    await dropTables(tables);
  }
}

async function pythonKombu(): Promise<Result | string> {
  const tables = tablesOf("py");
  await createTables(tables);
  try {
    return kombuPublishConsume(N, URL, { prefetch: 100, transportOptions: tables });
  } finally {
    await dropTables(tables);
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const best = (runs: Result[]) => runs.reduce((a, b) => (b.total > a.total ? b : a));

await wakame(); // warm-up
const ours = best([await wakame(), await wakame()]);
const kombu = await pythonKombu();
const runtime = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "Bun"
  : `Node ${(globalThis as unknown as { process: { version: string } }).process.version}`;

console.log(
  `\n### sqla+postgresql:// — ${
    fmt(N)
  } small JSON messages, publish then consume + ack (${runtime}, PostgreSQL on 127.0.0.1)\n`,
);
console.log("| client | publish msg/s | consume + ack msg/s | publish+consume msg/s |");
console.log("| --- | ---: | ---: | ---: |");
const row = (name: string, r: Result) =>
  console.log(`| ${name} | ${fmt(r.publish)} | ${fmt(r.consume)} | ${fmt(r.total)} |`);
row("wakame sqla+postgresql://, Postgres.js (best of 2)", ours);
if (typeof kombu === "string") {
  console.log(`| Python Kombu 5.2 sqla+postgresql:// | ${kombu} | | |`);
} else {
  row("Python Kombu 5.2 sqla+postgresql:// (SQLAlchemy 1.4, psycopg2)", kombu);
  console.log(
    `\nwakame / Kombu: publish ${(ours.publish / kombu.publish).toFixed(1)}x, consume + ack ${
      (ours.consume / kombu.consume).toFixed(1)
    }x, both ${(ours.total / kombu.total).toFixed(1)}x`,
  );
}
