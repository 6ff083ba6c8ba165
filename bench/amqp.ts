/**
 * AMQP benchmark: wakame (full Producer / Consumer stack on the native transport) against npm
 * `amqplib` and `@cloudamqp/amqp-client`, on the local RabbitMQ, in one run.
 *
 * Workloads, N JSON messages of about 100 bytes each (default 100 000):
 * - publish: one publisher, to a queue through the default exchange;
 * - consume: prefetch 1000, every message decoded and acknowledged one by one;
 * - confirm: publish with publisher confirms, up to 1000 unconfirmed at a time.
 *
 * Reports msg/s and client CPU microseconds per message (user + system of this process, from
 * `process.cpuUsage()`), and the ratio of wakame to the best peer.
 *
 *   node_modules/.bin/node bench/amqp.ts [--n 100000] [--rounds 3] [--clients a,b] [--only w]
 *
 * @module
 */

import amqplib from "amqplib";
import { AMQPClient } from "@cloudamqp/amqp-client";
import { Connection, Queue } from "../mod.ts";
import { AmqpTransport } from "../transports/amqp/mod.ts";
import type { AmqpChannel, AmqpConnection } from "../transports/amqp/mod.ts";

const URL = "amqp://guest:guest@127.0.0.1:5672//";
const PEER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F";
const WINDOW = 1000;
const PREFETCH = 1000;

type Workload = "publish" | "consume" | "confirm";
const WORKLOADS: Workload[] = ["publish", "consume", "confirm"];

interface Client {
  name: string;
  publish(queue: string, n: number): Promise<void>;
  confirm(queue: string, n: number): Promise<void>;
  consume(queue: string, n: number): Promise<void>;
  close(): Promise<void>;
}

function arg(name: string, fallback: string): string {
  const argv = (globalThis as { process?: { argv: string[] } }).process?.argv ??
    (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? [];
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}

function payload(i: number): Record<string, unknown> {
  return { id: i, task: "tasks.add", args: [2, 3], kwargs: {}, retries: 0, eta: null, pad: "x" };
}

const PROPS = { contentType: "application/json", contentEncoding: "utf-8", priority: 0 };

function cpuMicros(): number {
  const p = (globalThis as { process?: { cpuUsage(): { user: number; system: number } } })
    .process;
  if (p?.cpuUsage) {
    const u = p.cpuUsage();
    return u.user + u.system;
  }
  return NaN;
}

/** Runs `fn(i)` for i in [0, n) with at most `window` promises outstanding. */
async function windowed(n: number, window: number, fn: (i: number) => Promise<unknown>) {
  let inflight = 0;
  let wake: (() => void) | undefined;
  let failure: unknown;
  const settle = () => {
    inflight--;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (e: unknown) => {
    failure ??= e;
    settle();
  };
  for (let i = 0; i < n; i++) {
    while (inflight >= window) await new Promise<void>((r) => (wake = r));
    if (failure) throw failure;
    inflight++;
    fn(i).then(settle, fail);
  }
  while (inflight > 0) await new Promise<void>((r) => (wake = r));
  if (failure) throw failure;
}

// ---- wakame -------------------------------------------------------------------------------

async function wakameClient(): Promise<Client> {
  const conn = new Connection(URL);
  await conn.connect();
  return {
    name: "wakame",
    async publish(queue, n) {
      const producer = conn.producer({ routingKey: queue });
      for (let i = 0; i < n; i++) await producer.publish(payload(i));
      await (await conn.defaultChannel()).queueDeclare({ name: queue, passive: true });
    },
    async confirm(queue, n) {
      // Kombu's confirm_publish: every channel of this connection confirms.
      const confirming = new Connection(URL, { transportOptions: { confirmPublish: true } });
      const producer = confirming.producer({ routingKey: queue });
      await windowed(n, WINDOW, (i) => producer.publish(payload(i)));
      await confirming.close();
    },
    async consume(queue, n) {
      let seen = 0;
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const consumer = conn.consumer(new Queue(queue, { durable: false }), {
        prefetchCount: PREFETCH,
        accept: ["json"],
        callbacks: [(_body, message) => {
          void message.ack();
          if (++seen === n) done();
        }],
      });
      await consumer.consume();
      await finished;
      await consumer.cancel();
    },
    close: () => conn.close(),
  };
}

// ---- amqplib ------------------------------------------------------------------------------

async function amqplibClient(): Promise<Client> {
  const conn = await amqplib.connect(PEER_URL);
  const opts = { ...PROPS, deliveryMode: 2 };
  return {
    name: "amqplib",
    async publish(queue, n) {
      const ch = await conn.createChannel();
      for (let i = 0; i < n; i++) {
        const ok = ch.sendToQueue(queue, Buffer.from(JSON.stringify(payload(i))), opts);
        if (!ok) await new Promise((r) => ch.once("drain", r));
      }
      await ch.checkQueue(queue);
      await ch.close();
    },
    async confirm(queue, n) {
      const ch = await conn.createConfirmChannel();
      await windowed(
        n,
        WINDOW,
        (i) =>
          new Promise<void>((resolve, reject) => {
            ch.sendToQueue(
              queue,
              Buffer.from(JSON.stringify(payload(i))),
              opts,
              (err: unknown) => (err ? reject(err) : resolve()),
            );
          }),
      );
      await ch.close();
    },
    async consume(queue, n) {
      const ch = await conn.createChannel();
      await ch.prefetch(PREFETCH);
      let seen = 0;
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const { consumerTag } = await ch.consume(queue, (msg) => {
        if (msg === null) return;
        JSON.parse(msg.content.toString());
        ch.ack(msg);
        if (++seen === n) done();
      });
      await finished;
      await ch.cancel(consumerTag);
      await ch.close();
    },
    close: () => conn.close(),
  };
}

// ---- @cloudamqp/amqp-client ---------------------------------------------------------------

async function amqpClientClient(): Promise<Client> {
  const client = new AMQPClient(PEER_URL);
  const conn = await client.connect();
  const props = { ...PROPS, deliveryMode: 2 };
  return {
    name: "amqp-client",
    async publish(queue, n) {
      const ch = await conn.channel();
      for (let i = 0; i < n; i++) {
        await ch.basicPublish("", queue, JSON.stringify(payload(i)), props);
      }
      await ch.queueDeclare(queue, { passive: true });
      await ch.close();
    },
    async confirm(queue, n) {
      const ch = await conn.channel();
      await ch.confirmSelect();
      await windowed(
        n,
        WINDOW,
        (i) => ch.basicPublish("", queue, JSON.stringify(payload(i)), props),
      );
      await ch.close();
    },
    async consume(queue, n) {
      const ch = await conn.channel();
      await ch.prefetch(PREFETCH);
      let seen = 0;
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const consumer = await ch.basicConsume(queue, { noAck: false }, (msg) => {
        JSON.parse(msg.bodyString() ?? "null");
        void msg.ack();
        if (++seen === n) done();
      });
      await finished;
      await consumer.cancel();
      await ch.close();
    },
    close: () => conn.close(),
  };
}

// ---- harness ------------------------------------------------------------------------------

interface Result {
  client: string;
  workload: Workload;
  rate: number;
  cpu: number;
}

async function admin(): Promise<{ conn: AmqpConnection; ch: AmqpChannel }> {
  const conn = await AmqpTransport.connect({
    transport: "amqp",
    hostname: "127.0.0.1",
    port: 5672,
    userid: "guest",
    password: "guest",
    virtualHost: "/",
    url: URL,
    ssl: false,
    heartbeat: 0,
    connectTimeout: 5000,
    transportOptions: { connectionName: "wakame-bench-admin" },
  }) as AmqpConnection;
  const ch = await conn.createChannel();
  await ch.confirmSelect();
  return { conn, ch };
}

async function fill(ch: AmqpChannel, queue: string, n: number): Promise<void> {
  const enc = new TextEncoder();
  const properties = { ...PROPS, deliveryMode: 2 };
  await windowed(
    n,
    5000,
    (i) => ch.basicPublish("", queue, { body: enc.encode(JSON.stringify(payload(i))), properties }),
  );
}

async function runOne(
  make: () => Promise<Client>,
  workload: Workload,
  n: number,
  adm: AmqpChannel,
): Promise<Result> {
  const queue = `bench-${workload}-${Math.random().toString(36).slice(2, 8)}`;
  await adm.queueDeclare({ name: queue, durable: false, autoDelete: false });
  if (workload === "consume") await fill(adm, queue, n);
  const client = await make();
  (globalThis as { gc?: () => void }).gc?.();
  const c0 = cpuMicros();
  const t0 = performance.now();
  await client[workload](queue, n);
  const t1 = performance.now();
  const c1 = cpuMicros();
  await client.close();
  const left = await adm.queueDelete(queue);
  if (workload !== "consume" && left !== n) {
    throw new Error(`${client.name} ${workload}: queue held ${left} messages, expected ${n}`);
  }
  return { client: client.name, workload, rate: n / ((t1 - t0) / 1000), cpu: (c1 - c0) / n };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const n = Number(arg("n", "100000"));
  const rounds = Number(arg("rounds", "3"));
  const only = arg("only", WORKLOADS.join(",")).split(",") as Workload[];
  const all: Record<string, () => Promise<Client>> = {
    "wakame": wakameClient,
    "amqplib": amqplibClient,
    "amqp-client": amqpClientClient,
  };
  const names = arg("clients", Object.keys(all).join(",")).split(",");
  const { conn, ch } = await admin();
  const results: Result[] = [];
  for (const workload of only) {
    const runs = new Map<string, Result[]>(names.map((name) => [name, []]));
    for (const name of names) await runOne(all[name], workload, Math.min(n, 10000), ch); // warm-up
    // Rounds interleave the clients, so a busy moment of the machine hits them alike.
    for (let r = 0; r < rounds; r++) {
      for (const name of names) runs.get(name)!.push(await runOne(all[name], workload, n, ch));
    }
    for (const name of names) {
      const mine = runs.get(name)!;
      const result = {
        client: name,
        workload,
        rate: median(mine.map((x) => x.rate)),
        cpu: median(mine.map((x) => x.cpu)),
      };
      results.push(result);
      console.error(
        `${workload} ${name}: ${result.rate.toFixed(0)} msg/s, ${result.cpu.toFixed(2)} us/msg`,
      );
    }
  }
  await conn.close();
  const runtime = (globalThis as { Deno?: { version: { deno: string } } }).Deno
    ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
    : (globalThis as { Bun?: { version: string } }).Bun
    ? `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
    : `Node ${(globalThis as unknown as { process: { version: string } }).process.version}`;
  console.log(`\n${n} messages, median of ${rounds} rounds, ${runtime}\n`);
  console.log(
    "| workload | client | msg/s | client CPU us/msg | wakame msg/s ratio | wakame CPU ratio |",
  );
  console.log("| --- | --- | ---: | ---: | ---: | ---: |");
  for (const workload of only) {
    const rows = results.filter((r) => r.workload === workload);
    const mine = rows.find((r) => r.client === "wakame");
    for (const r of rows) {
      const ratio = mine && r.client !== "wakame"
        ? `${(mine.rate / r.rate).toFixed(2)}x | ${(mine.cpu / r.cpu).toFixed(2)}x`
        : "- | -";
      console.log(
        `| ${workload} | ${r.client} | ${r.rate.toFixed(0)} | ${r.cpu.toFixed(2)} | ${ratio} |`,
      );
    }
  }
}

await main();
