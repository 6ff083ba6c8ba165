/**
 * A Redis server that answers with malformed RESP (a fault proxy in front of the shared Redis
 * puts bad bytes before the next reply of every open connection, at a seeded random point): an
 * unknown type byte, a negative bulk length, a bulk length over the limit, a bad integer. Each
 * connection ends with a protocol error instead of reading on in a broken stream; the transport
 * reconnects and the ledger holds.
 */
import { after, before, describe, it } from "node:test";
import { Connection, Queue } from "../../mod.ts";
import { redisTransport } from "../../transports/redis/mod.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { FaultProxy } from "../_support/fault_proxy.ts";
import { envSkip } from "../_support/skips.ts";
import { dropPrefix, rawRedis } from "../unit/redis/_helpers.ts";
import { consumeInto, Ledger } from "./_ledger.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));
const COUNT = 200;
const enc = new TextEncoder();

/** Replies no Redis sends. */
const MALFORMED: [string, Uint8Array][] = [
  ["an unknown type byte", enc.encode("?what\r\n")],
  ["a negative bulk length", enc.encode("$-7\r\n")],
  ["a bulk length over the limit", enc.encode("$99999999999999\r\n")],
  ["an integer that is not one", enc.encode(":12ab\r\n")],
];

describe("fault: malformed RESP from the server", () => {
  let proxy: FaultProxy;
  const opened: Connection[] = [];
  before(async () => {
    if (skip.reason) return;
    proxy = await FaultProxy.start("127.0.0.1", 6379);
  });
  after(async () => {
    if (skip.reason) return;
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
    await proxy.close();
  });

  it("each connection fails cleanly and reconnects; the ledger holds", skip.options(), async () => {
    const ledger = new Ledger("redis malformed replies", COUNT);
    const prefix = `wk-faults-${ledger.run}:`;
    const connect = () => {
      const conn = new Connection(`redis://127.0.0.1:${proxy.port}/0`, {
        transport: redisTransport,
        transportOptions: { globalKeyprefix: prefix, visibilityTimeout: 1000 },
        connectTimeout: 1000,
        recoveryPolicy: { intervalStart: 20, intervalStep: 20, intervalMax: 100 },
      });
      opened.push(conn);
      return conn;
    };
    const queue = new Queue(`malformed-${ledger.run}`);
    const [what, bytes] = MALFORMED[ledger.point(MALFORMED.length, 0)];
    const at = ledger.point(COUNT - 20, 10);
    ledger.note(`${what} before message ${at}`);
    const producerConn = connect();
    const consumerConn = connect();
    const accepted = () => proxy.accepted;
    let stop: (() => Promise<void>) | undefined;
    const raw = await rawRedis();
    try {
      await ledger.watch(30_000, async () => {
        stop = await consumeInto(ledger, consumerConn, queue);
        const producer = producerConn.producer({ routingKey: queue.name });
        let before = 0;
        await ledger.publishAll((body) => producer.publish(body, { declare: [queue] }), {
          tries: 50,
          retryDelayMs: 20,
          before: (n) => {
            if (n !== at) return;
            before = accepted();
            proxy.corruptNext(bytes);
          },
        });
        await ledger.consumed(20_000);
        ledger.note(`${accepted() - before} connections made after the fault`);
      });
      ledger.check({ delivered: ledger.confirmedCount });
    } finally {
      await stop?.();
      await dropPrefix(raw, prefix);
      await raw.close();
    }
  });
});
