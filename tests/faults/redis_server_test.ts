/**
 * Redis faults under load, on a private redis-server (append-only, so a restart keeps the data):
 * at a seeded random point of the publish, the producer's and the consumer's connections are
 * killed (CLIENT KILL, by client name), the server is paused (CLIENT PAUSE for a random time), or
 * it is stopped and started again. The ledger then holds: every publish settled, every resolved
 * one consumed, a duplicate only redelivered or retried.
 */
import { after, before, describe, it } from "node:test";
import { Connection, Queue } from "../../mod.ts";
import { redisTransport } from "../../transports/redis/mod.ts";
import { envSkip } from "../_support/skips.ts";
import { killClientsNamed, rawRedis } from "../unit/redis/_helpers.ts";
import { haveBinary, PrivateRedis } from "../unit/redis/_server.ts";
import { consumeInto, Ledger, sleep } from "./_ledger.ts";

const skip = envSkip(
  import.meta.url,
  haveBinary("redis-server")
    ? false
    : "redis-server is not installed (apt-get install redis-server)",
);
const COUNT = 300;

describe("fault: Redis connections killed, server paused and restarted under load", () => {
  let server: PrivateRedis;
  const opened: Connection[] = [];
  before(async () => {
    if (skip.reason) return;
    server = await PrivateRedis.start();
  });
  after(async () => {
    if (skip.reason) return;
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
    await server.dispose();
  });

  function connect(clientName: string): Connection {
    const conn = new Connection(`redis://127.0.0.1:${server.port}/0`, {
      transport: redisTransport,
      transportOptions: { clientName, visibilityTimeout: 1000 },
      connectTimeout: 1000,
      recoveryPolicy: { intervalStart: 50, intervalStep: 50, intervalMax: 200 },
    });
    opened.push(conn);
    return conn;
  }

  async function scenario(
    title: string,
    fault: (ledger: Ledger, name: string) => Promise<void>,
  ): Promise<void> {
    const ledger = new Ledger(title, COUNT);
    const name = `wk-faults-${ledger.run}`;
    const queue = new Queue(name);
    const producerConn = connect(name);
    const consumerConn = connect(name);
    const at = ledger.point(COUNT - 10, 10);
    ledger.note(`fault before message ${at}`);
    let stop: (() => Promise<void>) | undefined;
    try {
      await ledger.watch(45_000, async () => {
        stop = await consumeInto(ledger, consumerConn, queue);
        const producer = producerConn.producer({ routingKey: name });
        await ledger.publishAll((body) => producer.publish(body, { declare: [queue] }), {
          tries: 100,
          retryDelayMs: 50,
          before: (n) => n === at ? fault(ledger, name) : undefined,
        });
        await ledger.consumed(25_000);
      });
      ledger.check({ delivered: ledger.confirmedCount });
    } finally {
      await stop?.();
    }
  }

  it(
    "CLIENT KILL of the producer's and consumer's connections",
    skip.options(),
    () =>
      scenario("redis client kill", async (ledger, name) => {
        const raw = await rawRedis(server.port);
        try {
          const killed = await killClientsNamed(raw, name);
          ledger.note(`killed ${killed} connections`);
          if (killed < 2) {
            throw new Error(`expected to kill 2 connections or more, killed ${killed}`);
          }
        } finally {
          await raw.close();
        }
      }),
  );

  it(
    "CLIENT PAUSE of the server for a random while",
    skip.options(),
    () =>
      scenario("redis client pause", async (ledger) => {
        const ms = ledger.point(2000, 100);
        ledger.note(`paused ${ms} ms`);
        const raw = await rawRedis(server.port);
        try {
          await raw.send(["CLIENT", "PAUSE", ms, "ALL"]);
        } finally {
          await raw.close();
        }
      }),
  );

  it(
    "the server stopped and started again",
    skip.options(),
    () =>
      scenario("redis restart", async (ledger) => {
        const ms = ledger.point(1000, 0);
        ledger.note(`down ${ms} ms`);
        await server.stop();
        setTimeout(() => void server.startAgain(), ms);
        await sleep(0);
      }),
  );
});
