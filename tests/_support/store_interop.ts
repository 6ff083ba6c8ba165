/**
 * Shared by the interop tests of the store-backed transports (etcd, ZooKeeper, Pyro) against
 * Python Kombu: the peer's JSON lines, a Python consumer in the background, wakame consuming
 * until a count, and the two plain exchanges (Kombu publishes, wakame publishes) with their
 * assertions.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Connection, Exchange, Queue } from "../../mod.ts";
import type { Transport } from "../../src/transport.ts";
import type { Message } from "../../src/message.ts";
import { PYTHON, runPython } from "./python.ts";

/** One message as the Python peer printed it (one JSON line). */
export interface Received {
  body: { from: string; n: number; text?: string };
  headers: Record<string, unknown>;
  correlation_id: string;
  reply_to: string;
  content_type: string;
  redelivered: boolean;
  routing_key?: string;
}

/** The messages in the peer's output: its lines that are JSON objects. */
export function lines(out: string): Received[] {
  return out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

/**
 * Starts the Python peer `peer` consuming with `args` (its JSON arguments: the URL or prefix,
 * queues, counts); `ready` resolves once it consumes (it prints READY), `done` with what it
 * took, `count()` tells how many it took so far.
 */
export function pythonConsuming(peer: string, args: Record<string, unknown>): {
  ready: Promise<void>;
  done: Promise<Received[]>;
  count(): number;
} {
  const child = spawn(PYTHON, [peer, "consume", JSON.stringify(args)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let readyNow!: () => void;
  const ready = new Promise<void>((resolve) => (readyNow = resolve));
  child.stdout.on("data", (chunk) => {
    out += chunk;
    if (out.includes("READY")) readyNow();
  });
  child.stderr.on("data", (chunk) => (err += chunk));
  const done = new Promise<Received[]>((resolve, reject) => {
    child.on("close", (code) => {
      readyNow();
      if (code !== 0) reject(new Error(`peer exited ${code}: ${err.slice(-2000)}`));
      else resolve(lines(out));
    });
  });
  return { ready, done, count: () => lines(out).length };
}

/**
 * Consumes with wakame until `count` messages came (counting `others()` taken elsewhere) or
 * `ms` passed, acking each; a `handlerMs` above 0 makes the handler that slow, one at a time.
 */
export async function consumeHere(
  conn: Connection,
  name: string,
  count: number,
  ms = 20_000,
  others: () => number = () => 0,
  handlerMs = 0,
): Promise<Message[]> {
  const got: Message[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const timer = setTimeout(finish, ms);
  await using consumer = conn.consumer(new Queue(name), {
    prefetchCount: handlerMs > 0 ? 1 : 0,
    callbacks: [async (_body, message) => {
      if (handlerMs > 0) await new Promise((r) => setTimeout(r, handlerMs));
      got.push(message);
      await message.ack();
      if (got.length + others() >= count) finish();
    }],
  });
  await consumer.consume();
  const watch = setInterval(() => {
    if (got.length + others() >= count) finish();
  }, 50);
  await finished;
  clearTimeout(timer);
  clearInterval(watch);
  return got;
}

/**
 * Asserts what wakame took of the peer's `publish` of 4 (message n has priority n, zlib when n
 * is odd): payloads in the order `ns` of their n, then each one's properties.
 */
export function assertFromKombu(got: Message[], name: string, ns: number[], order: string): void {
  assert.deepEqual(
    got.map((m) => m.payload),
    ns.map((n) => ({ from: "kombu", n, text: "héllo ✓" })),
    order,
  );
  const nth = (n: number) => got[ns.indexOf(n)];
  assert.equal(nth(0).headers["x-peer"], "python");
  assert.equal(nth(1).headers.compression, "application/x-gzip");
  assert.equal(nth(3).headers.compression, "application/x-gzip");
  assert.equal(nth(0).correlationId, "py-0");
  assert.equal(nth(0).replyTo, "replies");
  assert.equal(nth(3).properties.priority, 3);
  assert.equal(got[0].deliveryInfo.routingKey, name);
}

/** Publishes the two messages `assertToKombu` expects (plain with properties, then zlib). */
export async function publishForKombu(
  conn: Connection,
  name: string,
  options: { exchange?: string } = {},
): Promise<void> {
  const queue = new Queue(name, { exchange: new Exchange(name), routingKey: name });
  const producer = conn.producer();
  await producer.publish({ from: "wakame", n: 0, text: "héllo ✓" }, {
    ...options,
    routingKey: name,
    declare: [queue],
    headers: { "x-peer": "wakame" },
    correlationId: "wk-0",
    replyTo: "answers",
  });
  await producer.publish({ from: "wakame", n: 1 }, {
    ...options,
    routingKey: name,
    compression: "zlib",
  });
}

/** Asserts the peer took `publishForKombu`'s two messages, in order, properties intact. */
export function assertToKombu(got: Received[]): void {
  assert.deepEqual(got.map((m) => m.body), [
    { from: "wakame", n: 0, text: "héllo ✓" },
    { from: "wakame", n: 1 },
  ]);
  assert.equal(got[0].headers["x-peer"], "wakame");
  assert.equal(got[0].correlation_id, "wk-0");
  assert.equal(got[0].reply_to, "answers");
  assert.equal(got[0].content_type, "application/json");
}

/** A store-backed broker both sides reach: the peer script, its URL, and wakame's connection. */
export interface StorePeer {
  /** The Python peer script (`publish`/`consume` modes, JSON arguments). */
  peer: string;
  /** The broker URL, as both sides take it. */
  url(): string;
  /** A new wakame connection to the broker. */
  connect(): Connection;
}

/**
 * The StorePeer of a broker at `url()` reached with `transport` (polling every 50 ms), with the
 * generic `store_peer.py` as Kombu's side unless another `peer` script is given.
 */
export function storePeer(
  url: () => string,
  transport: Transport,
  peer = fileURLToPath(new URL("../interop/python/store_peer.py", import.meta.url)),
): StorePeer {
  return {
    peer,
    url,
    connect: () => new Connection(url(), { transport, transportOptions: { pollingInterval: 50 } }),
  };
}

const peerRun = (p: StorePeer, mode: string, args: Record<string, unknown>) =>
  runPython(p.peer, [mode, JSON.stringify({ url: p.url(), ...args })]);

/** Kombu publishes 4, wakame consumes them in the order `ns` of their n (see assertFromKombu). */
export async function consumesFromKombu(
  p: StorePeer,
  name: string,
  ns: number[],
  order: string,
): Promise<void> {
  await peerRun(p, "publish", { queue: name, count: 4 });
  await using conn = p.connect();
  const got = await consumeHere(conn, name, 4);
  assertFromKombu(got, name, ns, order);
}

/** wakame publishes two, Kombu consumes them; `arrange` orders what Kombu printed. */
export async function publishesToKombu(
  p: StorePeer,
  name: string,
  arrange: (got: Received[]) => Received[] = (got) => got,
): Promise<void> {
  await using conn = p.connect();
  await publishForKombu(conn, name);
  assertToKombu(arrange(lines(await peerRun(p, "consume", { queue: name, count: 2 }))));
}

/** wakame and a Kombu consumer share a queue of 30: each message goes to exactly one. */
export async function sharesQueueWithKombu(p: StorePeer, name: string): Promise<void> {
  const total = 30;
  await using conn = p.connect();
  await conn.producer().publish("warm-up", { routingKey: name });
  {
    await using warmUp = conn.simpleQueue(new Queue(name));
    await (await warmUp.get({ timeout: 5000 })).ack();
  }
  const python = pythonConsuming(p.peer, {
    url: p.url(),
    queue: name,
    count: total,
    seconds: 8,
    idle: 2,
  });
  await python.ready;
  // A slow handler here (one at a time), so that Kombu's polling consumer gets its share.
  const here = consumeHere(conn, name, total, 8_000, python.count, 100);
  const producer = conn.producer();
  for (let n = 0; n < total; n++) {
    await producer.publish({ from: "wakame", n }, { routingKey: name });
  }
  const [mine, theirs] = await Promise.all([here, python.done]);
  const seen = [
    ...mine.map((m) => (m.payload as { n: number }).n),
    ...theirs.map((m) => m.body.n),
  ].sort((a, b) => a - b);
  assert.deepEqual(seen, [...Array(total).keys()], "no message lost, none delivered twice");
  assert.ok(mine.length > 0 && theirs.length > 0, `shared ${mine.length}/${theirs.length}`);
  const channel = await conn.defaultChannel();
  assert.equal(await channel.basicGet(name), undefined);
}

/**
 * wakame takes a message and rejects it with requeue; `stored()` (the broker's envelopes, read
 * directly) must show it marked redelivered at top level; Kombu then takes it.
 */
export async function requeuesForKombu(
  p: StorePeer,
  name: string,
  stored: () => Promise<{ redelivered?: boolean }[]>,
): Promise<void> {
  {
    await using conn = p.connect();
    await conn.producer().publish({ from: "wakame", n: 7 }, { routingKey: name });
    const channel = await conn.defaultChannel();
    const delivery = await channel.basicGet(name);
    assert.ok(delivery);
    await channel.basicReject(delivery.deliveryTag, true);
  }
  assert.deepEqual((await stored()).map((e) => e.redelivered), [true]);
  // Kombu's virtual Message does not read the mark; it takes the message all the same.
  const got = lines(await peerRun(p, "consume", { queue: name, count: 1 }));
  assert.deepEqual(got.map((m) => m.body), [{ from: "wakame", n: 7 }]);
}

/** Kombu publishes one, takes it and requeues it: wakame gets it marked redelivered. */
export async function kombuRequeueReachesWakame(p: StorePeer, name: string): Promise<void> {
  await peerRun(p, "publish", { queue: name, count: 1 });
  const out = await peerRun(p, "consume", { queue: name, count: 0, requeue: true });
  assert.equal(lines(out).length, 0);
  await using conn = p.connect();
  const got = await consumeHere(conn, name, 1, 5000);
  assert.equal(got.length, 1);
  assert.equal(got[0].deliveryInfo.redelivered, true);
}
