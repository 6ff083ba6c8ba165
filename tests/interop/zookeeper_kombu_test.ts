import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ZkClient, ZooKeeperTransport } from "../../transports/zookeeper/mod.ts";
import { connectSocket } from "../../src/runtime/mod.ts";
import { startZooKeeper, zookeeperSkipReason } from "../_support/zookeeper_server.ts";
import { kombuSkipReason } from "../_support/python.ts";
import { serverFor } from "../_support/server_hooks.ts";
import { envSkip } from "../_support/skips.ts";
import * as kombu from "../_support/store_interop.ts";

const skip = envSkip(import.meta.url, zookeeperSkipReason() || kombuSkipReason(["kazoo"]));
const run = crypto.randomUUID().slice(0, 8);

/** The envelopes under a queue's znode, read with a separate session to `port`. */
async function storedEnvelopes(port: number, path: string): Promise<{ redelivered?: boolean }[]> {
  const client = new ZkClient({
    hosts: [{ hostname: "127.0.0.1", port }],
    sessionTimeout: 5000,
    connectTimeout: 5000,
    socketFactory: connectSocket,
    warn: () => {},
  });
  await client.start();
  try {
    const list = await client.call({ op: "getChildren", path, watch: false });
    const out = [];
    for (const name of list.op === "getChildren" ? list.children : []) {
      assert.match(name, /^entry-009-\d{10}$/, "Kombu's node name, priority 0");
      const node = await client.call({ op: "getData", path: `${path}/${name}`, watch: false });
      if (node.op === "getData") out.push(JSON.parse(new TextDecoder().decode(node.data)));
    }
    return out;
  } finally {
    await client.close();
  }
}

describe("zookeeper interop with Python Kombu", () => {
  const zookeeper = serverFor(skip, startZooKeeper);
  const zookeeperPeer = kombu.storePeer(
    () => `zookeeper://127.0.0.1:${zookeeper().port}/`,
    ZooKeeperTransport,
  );

  it("consumes what Python Kombu published (plain and zlib)", skip.options(), () =>
    // Message n was published with priority n: kazoo's names (entry-<9 - p>-) put 3 first.
    kombu.consumesFromKombu(
      zookeeperPeer,
      `from-python-${run}`,
      [3, 2, 1, 0],
      "highest priority first, every one once",
    ));

  it(
    "publishes what Python Kombu consumes",
    skip.options(),
    () => kombu.publishesToKombu(zookeeperPeer, `to-python-${run}`),
  );

  it(
    "shares a queue with a Kombu consumer: each message goes to exactly one",
    skip.options(),
    () => kombu.sharesQueueWithKombu(zookeeperPeer, `shared-${run}`),
  );

  it(
    "requeues as Kombu's restore does (top-level redelivered), for Kombu to take",
    skip.options(),
    () =>
      kombu.requeuesForKombu(
        zookeeperPeer,
        `requeued-${run}`,
        () => storedEnvelopes(zookeeper().port, `/requeued-${run}`),
      ),
  );

  it(
    "a message Kombu requeues reaches wakame marked redelivered",
    skip.options(),
    () => kombu.kombuRequeueReachesWakame(zookeeperPeer, `kombu-requeued-${run}`),
  );
});
