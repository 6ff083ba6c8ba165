/**
 * Interop with Debian's Python Kombu over RabbitMQ, both ways, on the native AMQP transport:
 * body, headers, priority, compression, correlation id, reply-to and expiration survive the trip.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection, Queue } from "../../mod.ts";
import type { Message } from "../../src/message.ts";
import { AmqpTransport } from "../../transports/amqp/mod.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { kombuSkipReason, runPython } from "../_support/python.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(
  import.meta.url,
  (await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672)) ||
    kombuSkipReason(["kombu", "amqp"]),
);
const peer = fileURLToPath(new URL("./python/amqp_kombu_peer.py", import.meta.url));
const run = Math.random().toString(36).slice(2, 8);
const COUNT = 6;

/** The queue exactly as the Python peer declares it. */
const queueOf = (name: string) =>
  new Queue(name, { routingKey: name, durable: false, maxPriority: 10 });

async function python(command: string, args: Record<string, unknown>): Promise<PythonSaw[]> {
  const out = await runPython(peer, [command, JSON.stringify(args)]);
  return out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

interface PythonSaw {
  body: unknown;
  headers: Record<string, unknown>;
  priority: number;
  delivery_mode: number;
  correlation_id: string;
  reply_to: string;
  expiration: string;
  content_type: string;
  content_encoding: string;
  routing_key: string;
}

describe("AMQP interop with Python Kombu", () => {
  let conn: Connection;
  before(async () => {
    if (skip.reason) return;
    conn = new Connection("amqp://guest:guest@127.0.0.1:5672//", {
      transport: AmqpTransport,
      transportOptions: { connectionName: `wakame-interop-${run}` },
    });
    await conn.connect();
  });
  after(async () => {
    if (skip.reason) return;
    await conn?.close();
  });

  it("reads what Python Kombu publishes", skip.options(), async () => {
    const name = `wakame-interop-py2ts-${run}`;
    await python("publish", { queue: name, count: COUNT });
    const seen: { body: unknown; message: Message }[] = [];
    const consumer = conn.consumer(queueOf(name), { accept: ["json"] });
    for await (const message of consumer) {
      seen.push({ body: await message.decode(), message });
      await message.ack();
      if (seen.length === COUNT) break;
    }
    // Priority queue: higher priorities first.
    const byN = seen.sort((a, b) => (a.body as { n: number }).n - (b.body as { n: number }).n);
    for (const [i, { body, message }] of byN.entries()) {
      assert.deepStrictEqual(body, {
        n: i,
        text: "h\u00e9llo from python",
        list: [1, 2.5, null, true],
      });
      assert.equal(message.headers["x-origin"], "python");
      assert.equal(message.headers.n, i);
      assert.equal(message.headers.compression, i % 2 ? "application/x-gzip" : undefined);
      assert.equal(message.properties.priority, i % 10);
      assert.equal(message.properties.deliveryMode, 2);
      assert.equal(message.correlationId, `corr-${i}`);
      assert.equal(message.replyTo, `replies-${i}`);
      assert.equal(message.properties.expiration, "60000");
      assert.equal(message.contentType, "application/json");
      assert.equal(message.deliveryInfo.routingKey, name);
    }
    const ch = await conn.channel();
    await ch.queueDelete(name);
  });

  it("writes what Python Kombu reads", skip.options(), async () => {
    const name = `wakame-interop-ts2py-${run}`;
    const producer = conn.producer({ routingKey: name });
    for (let i = 0; i < COUNT; i++) {
      await producer.publish({ n: i, text: "h\u00e9llo from wakame", nested: { ok: true } }, {
        declare: [queueOf(name)],
        headers: { "x-origin": "wakame", n: i },
        priority: i % 10,
        correlationId: `corr-${i}`,
        replyTo: `replies-${i}`,
        compression: i % 2 ? "zlib" : undefined,
        expiration: 60_000,
      });
    }
    const saw = await python("consume", { queue: name, count: COUNT });
    assert.equal(saw.length, COUNT);
    saw.sort((a, b) => (a.body as { n: number }).n - (b.body as { n: number }).n);
    for (const [i, m] of saw.entries()) {
      assert.deepStrictEqual(m.body, {
        n: i,
        text: "h\u00e9llo from wakame",
        nested: { ok: true },
      });
      assert.equal(m.headers["x-origin"], "wakame");
      assert.equal(m.headers.n, i);
      assert.equal(m.headers.compression, i % 2 ? "application/x-gzip" : undefined);
      assert.equal(m.priority, i % 10);
      assert.equal(m.delivery_mode, 2);
      assert.equal(m.correlation_id, `corr-${i}`);
      assert.equal(m.reply_to, `replies-${i}`);
      assert.equal(m.expiration, "60000");
      assert.equal(m.content_type, "application/json");
      assert.equal(m.content_encoding, "utf-8");
      assert.equal(m.routing_key, name);
    }
    const ch = await conn.channel();
    await ch.queueDelete(name);
  });
});
