import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Connection, Queue } from "../../../mod.ts";
import { ZooKeeperTransport } from "../../../transports/zookeeper/mod.ts";
import { connectSocket } from "../../../src/runtime/mod.ts";
import type { Socket, SocketOptions } from "../../../src/socket.ts";
import { startZooKeeper, zookeeperSkipReason } from "../../_support/zookeeper_server.ts";
import { envSkip } from "../../_support/skips.ts";
import { serverFor } from "../../_support/server_hooks.ts";
import {
  givesBackWhatSilentHeld,
  restartTests,
  storeConnector,
} from "../../_support/store_faults.ts";

const skip = envSkip(import.meta.url, zookeeperSkipReason());

describe("zookeeper faults", () => {
  const zookeeper = serverFor(skip, startZooKeeper);
  const connect = storeConnector(
    () => `zookeeper://127.0.0.1:${zookeeper().port}/`,
    ZooKeeperTransport,
  );

  restartTests("ZooKeeper", skip, connect, () => zookeeper().restart());

  it(
    "takes every server of a ;-separated URL list into one session, as Kombu's kazoo does",
    skip.options(),
    async () => {
      const ports: number[] = [];
      // Port 1 refuses at once: the session goes on to the next server of the list, in the same
      // attempt (the connection's own failover would retry port 1 until its connect timeout).
      await using conn = new Connection(
        `zookeeper://127.0.0.1:1/;zookeeper://127.0.0.1:${zookeeper().port}/`,
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
      assert.deepEqual(ports, [1, zookeeper().port]);
    },
  );

  it(
    "gives back what a consumer that went silent held, once its session has expired",
    skip.options(),
    () => {
      // Neither acknowledge nor give back, and the session expires: no new socket from the cut
      // on, and the open ones closed.
      const sockets: Socket[] = [];
      return givesBackWhatSilentHeld(
        connect,
        {
          transportOptions: (isCut) => ({
            sessionTimeout: 2000,
            socketFactory: async (options: SocketOptions) => {
              if (isCut()) throw new TypeError("network cut");
              const socket = await connectSocket(options);
              sockets.push(socket);
              return socket;
            },
          }),
          cut: () => Promise.all(sockets.map((s) => s.close())),
        },
        { sweepInterval: 200 },
        "nothing ready while the session may live",
      );
    },
  );
});
