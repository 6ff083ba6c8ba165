/**
 * The Redis store's default wake-up (client tracking, `wakeup: "tracking"`) against the polling
 * fallback: an idle consumer sends nothing to the server, and a message published while it is
 * idle arrives long before the poll interval would have fetched it. Both cases fail when the
 * store polls instead (`wakeup: "poll"`), which the rest of the suite cannot tell apart.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection } from "../../../src/connection.ts";
import { Queue } from "../../../src/entity.ts";
import { redisTransport } from "../../../transports/redis/mod.ts";
import type { RespConnection } from "../../../transports/redis/resp/client.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { dropPrefix, randomPrefix, rawRedis, text } from "./_helpers.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));

/** One `CLIENT LIST` line as fields (`id`, `name`, `idle`, `flags`, `cmd`...). */
type ClientInfo = Record<string, string>;

async function clientsNamed(raw: RespConnection, name: string): Promise<ClientInfo[]> {
  const list = text(await raw.send(["CLIENT", "LIST", "TYPE", "NORMAL"]));
  const clients: ClientInfo[] = [];
  for (const line of list.split("\n")) {
    if (!line.trim()) continue;
    const info: ClientInfo = {};
    for (const field of line.trim().split(" ")) {
      const at = field.indexOf("=");
      if (at > 0) info[field.slice(0, at)] = field.slice(at + 1);
    }
    if (info.name === name) clients.push(info);
  }
  return clients;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const driver of ["resp", "ioredis"] as const) {
  describe(`Redis wake-up through client tracking, the default (${driver})`, () => {
    let raw: RespConnection;
    const prefix = randomPrefix();
    const open: Connection[] = [];

    const connect = async (transportOptions: Record<string, unknown>): Promise<Connection> => {
      const conn = new Connection("redis://127.0.0.1:6379/0", {
        transport: redisTransport,
        transportOptions: { driver, globalKeyprefix: prefix, ...transportOptions },
      });
      open.push(conn);
      await conn.connect();
      return conn;
    };

    before(async () => {
      if (skip.reason) return;
      raw = await rawRedis();
    });
    after(async () => {
      if (skip.reason) return;
      await Promise.allSettled(open.map((conn) => conn.close()));
      await dropPrefix(raw, prefix);
      await raw.close();
    });

    it("an idle consumer sends no command for seconds (no polling)", skip.options(), async () => {
      // Polling every 50 ms would touch the connection 40 times in the idle window below.
      const clientName = `wk-idle-${crypto.randomUUID().slice(0, 8)}`;
      const conn = await connect({ clientName, pollInterval: 50 });
      const q = new Queue(`idle-${crypto.randomUUID().slice(0, 8)}`);
      const consumer = conn.consumer([q], { callbacks: [() => {}] });
      await consumer.consume();
      const idleWindow = 2500;
      await sleep(idleWindow);
      const clients = await clientsNamed(raw, clientName);
      await consumer.cancel();
      assert.ok(clients.length > 0, `no Redis connection named "${clientName}"`);
      // CLIENT LIST's `idle` is whole seconds since the connection's last command.
      const busy = clients.filter((c) => Number(c.idle) < Math.floor(idleWindow / 1000));
      assert.deepEqual(
        busy.map((c) => `id=${c.id} idle=${c.idle} cmd=${c.cmd} flags=${c.flags}`),
        [],
        "connections of an idle consumer that sent commands during the idle window",
      );
    });

    it("wakes a waiting consumer much sooner than the poll interval", skip.options(), async () => {
      const pollInterval = 5000;
      const consumerConn = await connect({ pollInterval });
      const producerConn = await connect({ pollInterval });
      const q = new Queue(`wake-${crypto.randomUUID().slice(0, 8)}`);
      await q.bind(await producerConn.defaultChannel()).declare();
      let delivered!: (at: number) => void;
      const arrived = new Promise<number>((resolve) => (delivered = resolve));
      const consumer = consumerConn.consumer([q], {
        callbacks: [async (_body, message) => {
          delivered(Date.now());
          await message.ack();
        }],
      });
      await consumer.consume();
      // Not a proof of anything: lets the consumer's first fetch find the queue empty, so that a
      // polling store would next look only `pollInterval` ms later.
      await sleep(300);
      const sent = Date.now();
      await producerConn.producer().publish("wake up", { routingKey: q.name });
      const at = await Promise.race([arrived, sleep(pollInterval * 2).then(() => Infinity)]);
      await consumer.cancel();
      const latency = at - sent;
      assert.ok(
        latency < 1000,
        `delivered ${latency} ms after publish; polling every ${pollInterval} ms would take about that`,
      );
    });
  });
}
