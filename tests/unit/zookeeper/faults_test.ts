import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection, Queue } from "../../../mod.ts";
import { ZooKeeperTransport } from "../../../transports/zookeeper/mod.ts";
import { connectSocket } from "../../../src/runtime/mod.ts";
import type { Socket, SocketOptions } from "../../../src/socket.ts";
import {
  startZooKeeper,
  type ZooKeeperServer,
  zookeeperSkipReason,
} from "../../_support/zookeeper_server.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, zookeeperSkipReason());
let zookeeper: ZooKeeperServer | undefined;

const connect = (transportOptions: Record<string, unknown> = {}) =>
  new Connection(`zookeeper://127.0.0.1:${zookeeper!.port}/`, {
    transport: ZooKeeperTransport,
    transportOptions: { pollingInterval: 50, onWarning: () => {}, ...transportOptions },
  });

/** Collects payloads of `queue` until `count` came (no deadline: the runner's timeout bounds). */
async function collect(conn: Connection, queue: string, count: number) {
  const got: { payload: unknown; redelivered: boolean }[] = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = conn.consumer(new Queue(queue), {
    callbacks: [async (payload, message) => {
      got.push({ payload, redelivered: message.deliveryInfo.redelivered });
      await message.ack();
      if (got.length >= count) done();
    }],
  });
  await consumer.consume();
  return { got, finished, consumer };
}

describe("zookeeper faults", () => {
  before(async () => {
    if (skip.reason) return;
    zookeeper = await startZooKeeper();
  });
  after(() => zookeeper?.stop());

  it(
    "a consumer carries on by itself when ZooKeeper is killed and restarted",
    skip.options(),
    async () => {
      const queue = `restart-${crypto.randomUUID()}`;
      await using conn = connect();
      await using producer = connect();
      const { got, finished, consumer } = await collect(conn, queue, 6);
      const publish = (n: number) => producer.producer().publish({ n }, { routingKey: queue });
      for (const n of [0, 1, 2]) await publish(n);
      while (got.length < 3) await new Promise((r) => setTimeout(r, 20));
      await zookeeper!.restart();
      for (const n of [3, 4, 5]) await publish(n);
      await finished;
      await consumer.cancel();
      assert.deepEqual(got.map((m) => m.payload), [0, 1, 2, 3, 4, 5].map((n) => ({ n })));
    },
  );

  it(
    "takes every server of a ;-separated URL list into one session, as Kombu's kazoo does",
    skip.options(),
    async () => {
      const ports: number[] = [];
      // Port 1 refuses at once: the session goes on to the next server of the list, in the same
      // attempt (the connection's own failover would retry port 1 until its connect timeout).
      await using conn = new Connection(
        `zookeeper://127.0.0.1:1/;zookeeper://127.0.0.1:${zookeeper!.port}/`,
        {
          transport: ZooKeeperTransport,
          transportOptions: {
            onWarning: () => {},
            socketFactory: (options: SocketOptions) => {
              ports.push(options.port);
              return connectSocket(options);
            },
          },
        },
      );
      const queue = `hosts-${crypto.randomUUID()}`;
      await conn.producer().publish({ n: 1 }, { routingKey: queue, declare: [new Queue(queue)] });
      assert.deepEqual(ports, [1, zookeeper!.port]);
    },
  );

  it("keeps what was published and not consumed across a restart", skip.options(), async () => {
    const queue = `kept-${crypto.randomUUID()}`;
    {
      await using producer = connect();
      for (const n of [0, 1]) await producer.producer().publish({ n }, { routingKey: queue });
    }
    await zookeeper!.restart();
    await using conn = connect();
    const { got, finished } = await collect(conn, queue, 2);
    await finished;
    assert.deepEqual(got.map((m) => m.payload), [{ n: 0 }, { n: 1 }]);
  });

  it(
    "gives back what a consumer that went silent held, once its session has expired",
    skip.options(),
    async () => {
      const queue = `silent-${crypto.randomUUID()}`;
      await using producer = connect();
      for (const n of [0, 1, 2]) await producer.producer().publish({ n }, { routingKey: queue });
      // The doomed consumer takes every message, then loses the network for good: it can
      // neither acknowledge nor give anything back, and its session expires (as if killed).
      let cut = false;
      const sockets: Socket[] = [];
      const doomed = connect({
        sessionTimeout: 2000,
        socketFactory: async (options: SocketOptions) => {
          if (cut) throw new TypeError("network cut");
          const socket = await connectSocket(options);
          sockets.push(socket);
          return socket;
        },
      });
      const channel = await doomed.defaultChannel();
      for (let i = 0; i < 3; i++) assert.ok(await channel.basicGet(queue));
      cut = true;
      await Promise.all(sockets.map((s) => s.close()));
      const ready = await (await producer.defaultChannel()).basicGet(queue);
      assert.equal(ready, undefined, "nothing ready while the session may live");
      await using rescuer = connect({ sweepInterval: 200 });
      const { got, finished } = await collect(rescuer, queue, 3);
      await finished;
      assert.deepEqual(
        got.map((m) => m.payload).sort((a, b) => (a as { n: number }).n - (b as { n: number }).n),
        [{ n: 0 }, { n: 1 }, { n: 2 }],
      );
      assert.ok(got.every((m) => m.redelivered), "marked redelivered");
      await doomed.close().catch(() => {});
    },
  );
});
