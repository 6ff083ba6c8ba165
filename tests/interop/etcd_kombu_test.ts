import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection, Exchange, Queue } from "../../mod.ts";
import type { Message } from "../../src/message.ts";
import { EtcdTransport } from "../../transports/etcd/mod.ts";
import { type EtcdServer, etcdSkipReason, startEtcd } from "../_support/etcd_server.ts";
import { kombuSkipReason, PYTHON, runPython } from "../_support/python.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(import.meta.url, etcdSkipReason() || kombuSkipReason(["etcd"]));
const peer = fileURLToPath(new URL("./python/store_peer.py", import.meta.url));
const run = crypto.randomUUID().slice(0, 8);
let etcd: EtcdServer | undefined;

interface Received {
  body: { from: string; n: number; text?: string };
  headers: Record<string, unknown>;
  correlation_id: string;
  reply_to: string;
  content_type: string;
  redelivered: boolean;
  routing_key: string;
}

const url = () => `etcd://127.0.0.1:${etcd!.port}`;
const connect = () =>
  new Connection(url(), { transport: EtcdTransport, transportOptions: { pollingInterval: 50 } });

function lines(out: string): Received[] {
  return out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

/** Starts a Python consumer; `ready` resolves once it consumes (it prints READY). */
function pythonConsuming(args: Record<string, unknown>): {
  ready: Promise<void>;
  done: Promise<Received[]>;
  count(): number;
} {
  const child = spawn(PYTHON, [peer, "consume", JSON.stringify({ url: url(), ...args })], {
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

/** Consumes with wakame until `count` messages came or `ms` passed, acking each. */
async function consumeHere(
  conn: Connection,
  name: string,
  count: number,
  ms = 20_000,
  others: () => number = () => 0,
  handlerMs = 0,
) {
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

describe("etcd interop with Python Kombu", () => {
  before(async () => {
    if (skip.reason) return;
    etcd = await startEtcd();
  });
  after(() => etcd?.stop());

  it("consumes what Python Kombu published (plain and zlib)", skip.options(), async () => {
    const name = `from-python-${run}`;
    await runPython(peer, ["publish", JSON.stringify({ url: url(), queue: name, count: 4 })]);
    await using conn = connect();
    const got = await consumeHere(conn, name, 4);
    assert.deepEqual(
      got.map((m) => m.payload),
      [0, 1, 2, 3].map((n) => ({ from: "kombu", n, text: "héllo ✓" })),
      "oldest first, every one once",
    );
    assert.equal(got[0].headers["x-peer"], "python");
    assert.equal(got[1].headers.compression, "application/x-gzip");
    assert.equal(got[0].correlationId, "py-0");
    assert.equal(got[0].replyTo, "replies");
    assert.equal(got[3].properties.priority, 3);
    assert.equal(got[0].deliveryInfo.routingKey, name);
  });

  it("publishes what Python Kombu consumes", skip.options(), async () => {
    const name = `to-python-${run}`;
    await using conn = connect();
    const queue = new Queue(name, { exchange: new Exchange(name), routingKey: name });
    const producer = conn.producer();
    await producer.publish({ from: "wakame", n: 0, text: "héllo ✓" }, {
      routingKey: name,
      declare: [queue],
      headers: { "x-peer": "wakame" },
      correlationId: "wk-0",
      replyTo: "answers",
    });
    await producer.publish({ from: "wakame", n: 1 }, { routingKey: name, compression: "zlib" });
    const out = await runPython(peer, [
      "consume",
      JSON.stringify({ url: url(), queue: name, count: 2 }),
    ]);
    // Kombu takes the last node etcd lists, unsorted: its order is not the publication's.
    const got = lines(out).sort((a, b) => a.body.n - b.body.n);
    assert.deepEqual(got.map((m) => m.body), [
      { from: "wakame", n: 0, text: "héllo ✓" },
      { from: "wakame", n: 1 },
    ]);
    assert.equal(got[0].headers["x-peer"], "wakame");
    assert.equal(got[0].correlation_id, "wk-0");
    assert.equal(got[0].reply_to, "answers");
    assert.equal(got[0].content_type, "application/json");
  });

  it(
    "shares a queue with a Kombu consumer: each message goes to exactly one",
    skip.options(),
    async () => {
      const name = `shared-${run}`;
      const total = 30;
      await using conn = connect();
      await conn.producer().publish("warm-up", { routingKey: name });
      {
        await using warmUp = conn.simpleQueue(new Queue(name));
        await (await warmUp.get({ timeout: 5000 })).ack();
      }
      const python = pythonConsuming({ queue: name, count: total, seconds: 8, idle: 2 });
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
    },
  );

  it(
    "requeues as Kombu's restore does (top-level redelivered), for Kombu to take",
    skip.options(),
    async () => {
      const name = `requeued-${run}`;
      {
        await using conn = connect();
        await conn.producer().publish({ from: "wakame", n: 7 }, { routingKey: name });
        const channel = await conn.defaultChannel();
        const delivery = await channel.basicGet(name);
        assert.ok(delivery);
        await channel.basicReject(delivery.deliveryTag, true);
      }
      const listing = await (await fetch(`${etcd!.url}/v2/keys/kombu/${name}`)).json();
      const stored = listing.node.nodes.map((n: { value: string }) => JSON.parse(n.value));
      assert.deepEqual(stored.map((e: { redelivered?: boolean }) => e.redelivered), [true]);
      // Kombu's virtual Message does not read the mark; it takes the message all the same.
      const got = lines(
        await runPython(peer, ["consume", JSON.stringify({ url: url(), queue: name, count: 1 })]),
      );
      assert.deepEqual(got.map((m) => m.body), [{ from: "wakame", n: 7 }]);
    },
  );

  it("a message Kombu requeues reaches wakame marked redelivered", skip.options(), async () => {
    const name = `kombu-requeued-${run}`;
    await runPython(peer, ["publish", JSON.stringify({ url: url(), queue: name, count: 1 })]);
    const out = await runPython(peer, [
      "consume",
      JSON.stringify({ url: url(), queue: name, count: 0, requeue: true }),
    ]);
    assert.equal(lines(out).length, 0);
    await using conn = connect();
    const got = await consumeHere(conn, name, 1, 5000);
    assert.equal(got.length, 1);
    assert.equal(got[0].deliveryInfo.redelivered, true);
  });
});
