/**
 * AMQP faults only a scripted broker can make (tests/faults/_echo_broker.ts, which confirms each
 * publish and delivers it back to the connection's consumer):
 *
 * - `connection.blocked` at a seeded random point while publishes are in flight (as RabbitMQ's
 *   memory alarm, without setting one on the shared broker): the blocked and unblocked events
 *   arrive, publishes wait for their confirms instead of failing, and once unblocked every one
 *   settles and is consumed.
 * - malformed frames at a random point (a bad frame end, an unknown frame type, a frame larger
 *   than negotiated, a method of an unknown class): the connection ends with a protocol error,
 *   pending publishes reject (none hangs), the connection recovers and the rest goes through.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection, Queue } from "../../mod.ts";
import type { TransportEvent } from "../../src/transport.ts";
import { AmqpTransport } from "../../transports/amqp/mod.ts";
import { EchoBroker } from "./_echo_broker.ts";
import { consumeInto, Ledger, sleep, until } from "./_ledger.ts";

const COUNT = 200;

describe("fault: AMQP connection.blocked and malformed frames (scripted broker)", () => {
  let echo: EchoBroker;
  const opened: Connection[] = [];
  before(async () => {
    echo = await EchoBroker.start();
  });
  after(async () => {
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
    await echo.close();
  });

  function connect(): Connection {
    const conn = new Connection(`amqp://guest:guest@127.0.0.1:${echo.port}//`, {
      transport: AmqpTransport,
      transportOptions: { confirmPublish: true },
      connectTimeout: 1000,
      recoveryPolicy: { intervalStart: 20, intervalStep: 20, intervalMax: 100 },
    });
    opened.push(conn);
    return conn;
  }

  it("connection.blocked holds confirms; all settle and arrive once unblocked", async () => {
    const ledger = new Ledger("amqp connection.blocked", COUNT);
    const conn = connect();
    const events: TransportEvent["type"][] = [];
    conn.onEvent = (e) => void events.push(e.type);
    const queue = new Queue("q");
    const at = ledger.point(COUNT - 40, 20);
    const blockMs = ledger.point(1500, 100);
    ledger.note(`blocked before message ${at} for ${blockMs} ms`);
    let stop: (() => Promise<void>) | undefined;
    try {
      await ledger.watch(30_000, async () => {
        stop = await consumeInto(ledger, conn, queue);
        const producer = conn.producer({ routingKey: "q" });
        const route = await echo.route(echo.routes.length - 1);
        // In flight together, 20 at a time: a block catches several unconfirmed.
        for (let from = 0; from < COUNT; from += 20) {
          const batch: Promise<boolean>[] = [];
          for (let n = from; n < Math.min(COUNT, from + 20); n++) {
            if (n === at) {
              route.block("low on memory");
              setTimeout(() => route.unblock(), blockMs);
            }
            batch.push(ledger.publish(n, (body) => producer.publish(body)));
          }
          await Promise.all(batch);
        }
        await ledger.consumed(10_000);
      });
      ledger.check({ delivered: COUNT });
      assert.equal(ledger.confirmedCount, COUNT, "no publish failed because of the block");
      assert.deepEqual(events, ["blocked", "unblocked"]);
    } finally {
      await stop?.();
    }
  });

  /** Bytes the broker must never send, each a different way. */
  const MALFORMED: [string, Uint8Array][] = [
    ["a frame without its frame-end byte", new Uint8Array([1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 50, 0])],
    ["an unknown frame type", new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0xce])],
    ["a frame larger than frame_max", new Uint8Array([3, 0, 1, 0x7f, 0xff, 0xff, 0xff])],
    [
      "a method of an unknown class",
      new Uint8Array([1, 0, 0, 0, 0, 0, 4, 0x12, 0x34, 0, 10, 0xce]),
    ],
  ];

  it("malformed frames end the connection cleanly; it recovers and goes on", async () => {
    const ledger = new Ledger("amqp malformed frames", COUNT);
    const conn = connect();
    const queue = new Queue("q");
    const [what, bytes] = MALFORMED[ledger.point(MALFORMED.length, 0)];
    const at = ledger.point(COUNT - 20, 10);
    ledger.note(`${what} before message ${at}`);
    const firstRoute = echo.routes.length;
    let stop: (() => Promise<void>) | undefined;
    try {
      await ledger.watch(30_000, async () => {
        stop = await consumeInto(ledger, conn, queue);
        const producer = conn.producer({ routingKey: "q" });
        await ledger.publishAll((body) => producer.publish(body), {
          tries: 50,
          retryDelayMs: 20,
          before: async (n) => {
            if (n !== at) return;
            (await echo.route(echo.routes.length - 1)).client.send(bytes);
            // The connection notices at once: the next publish meets a dead or a new one.
            await sleep(20);
          },
        });
        await ledger.consumed(10_000);
      });
      ledger.check({ delivered: ledger.confirmedCount });
      assert.ok(
        await until(() => echo.routes.length > firstRoute + 1, 5000),
        "the client connected again after the malformed frame",
      );
    } finally {
      await stop?.();
    }
  });
});
