/**
 * The Pyro transport against Python Kombu 5.2's (`kombu.transport.pyro`), both on one Kombu
 * broker daemon (`python3 -m kombu.transport.pyro`) behind a private Pyro4 name server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection, Exchange, Queue } from "../../mod.ts";
import type { Message } from "../../src/message.ts";
import { PyroTransport } from "../../transports/pyro/mod.ts";
import { type PyroServer, pyroSkipReason, startPyro } from "../_support/pyro_server.ts";
import { runPython } from "../_support/python.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(import.meta.url, pyroSkipReason());
// store_peer.py, told the name server's port (Kombu 5.2 always asks 9090).
const peer = fileURLToPath(new URL("./python/pyro_peer.py", import.meta.url));
const run = crypto.randomUUID().slice(0, 8);
let pyro: PyroServer | undefined;

interface Received {
  body: { from: string; n: number; text?: string };
  headers: Record<string, unknown>;
  correlation_id: string;
  reply_to: string;
  content_type: string;
  redelivered: boolean;
}

const connect = () =>
  new Connection(pyro!.url, {
    transport: PyroTransport,
    transportOptions: { pollingInterval: 50 },
  });
const lines = (out: string): Received[] =>
  out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
const python = (mode: string, args: Record<string, unknown>) =>
  runPython(peer, [mode, JSON.stringify({ url: pyro!.url, seconds: 10, ...args })]);

async function take(conn: Connection, name: string, count: number): Promise<Message[]> {
  await using queue = conn.simpleQueue(new Queue(name));
  const got: Message[] = [];
  for (let i = 0; i < count; i++) {
    const message = await queue.get({ timeout: 10_000 });
    await message.ack();
    got.push(message);
  }
  return got;
}

describe("Pyro interop with Python Kombu", () => {
  before(async () => {
    if (skip.reason) return;
    pyro = await startPyro();
  });
  after(() => pyro?.stop());

  it("consumes what Python Kombu published (plain and zlib)", skip.options(), async () => {
    const name = `from-python-${run}`;
    await python("publish", { queue: name, count: 4 });
    await using conn = connect();
    const got = await take(conn, name, 4);
    assert.deepEqual(
      got.map((m) => m.payload),
      [0, 1, 2, 3].map((n) => ({ from: "kombu", n, text: "héllo ✓" })),
      "in order, every one once",
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
      exchange: name,
      routingKey: name,
      declare: [queue],
      headers: { "x-peer": "wakame" },
      correlationId: "wk-0",
      replyTo: "answers",
    });
    await producer.publish({ from: "wakame", n: 1 }, {
      exchange: name,
      routingKey: name,
      compression: "zlib",
    });
    const got = lines(await python("consume", { queue: name, count: 2 }));
    assert.deepEqual(got.map((m) => m.body), [
      { from: "wakame", n: 0, text: "héllo ✓" },
      { from: "wakame", n: 1 },
    ]);
    assert.equal(got[0].headers["x-peer"], "wakame");
    assert.equal(got[0].correlation_id, "wk-0");
    assert.equal(got[0].reply_to, "answers");
    assert.equal(got[0].content_type, "application/json");
  });

  it("a message either side requeues reaches the other", skip.options(), async () => {
    const name = `requeued-${run}`;
    {
      await using conn = connect();
      await conn.producer().publish({ from: "wakame", n: 7 }, { routingKey: name });
      const channel = await conn.defaultChannel();
      const delivery = await channel.basicGet(name);
      assert.ok(delivery);
      await channel.basicReject(delivery.deliveryTag, true);
    }
    const first = lines(await python("consume", { queue: name, count: 0, requeue: true }));
    assert.equal(first.length, 0, "Kombu took it and put it back");
    await using conn = connect();
    const [again] = await take(conn, name, 1);
    assert.deepEqual(again.payload, { from: "wakame", n: 7 });
    assert.equal(again.deliveryInfo.redelivered, true);
  });
});
