import { describe, it } from "node:test";
import { EtcdTransport } from "../../transports/etcd/mod.ts";
import { etcdSkipReason, startEtcd } from "../_support/etcd_server.ts";
import { kombuSkipReason } from "../_support/python.ts";
import { serverFor } from "../_support/server_hooks.ts";
import { envSkip } from "../_support/skips.ts";
import * as kombu from "../_support/store_interop.ts";

const skip = envSkip(import.meta.url, etcdSkipReason() || kombuSkipReason(["etcd"]));
const run = crypto.randomUUID().slice(0, 8);

/** The envelopes etcd (at `base`) holds under a queue's key. */
async function storedEnvelopes(base: string, name: string): Promise<{ redelivered?: boolean }[]> {
  const listing = await (await fetch(`${base}/v2/keys/kombu/${name}`)).json();
  return listing.node.nodes.map((n: { value: string }) => JSON.parse(n.value));
}

describe("etcd interop with Python Kombu", () => {
  const etcd = serverFor(skip, startEtcd);
  const etcdPeer = kombu.storePeer(() => `etcd://127.0.0.1:${etcd().port}`, EtcdTransport);

  it(
    "consumes what Python Kombu published (plain and zlib)",
    skip.options(),
    () =>
      kombu.consumesFromKombu(
        etcdPeer,
        `from-python-${run}`,
        [0, 1, 2, 3],
        "oldest first, every one once",
      ),
  );

  it("publishes what Python Kombu consumes", skip.options(), () =>
    // Kombu takes the last node etcd lists, unsorted: its order is not the publication's.
    kombu.publishesToKombu(
      etcdPeer,
      `to-python-${run}`,
      (got) => got.sort((a, b) => a.body.n - b.body.n),
    ));

  it(
    "shares a queue with a Kombu consumer: each message goes to exactly one",
    skip.options(),
    () => kombu.sharesQueueWithKombu(etcdPeer, `shared-${run}`),
  );

  it(
    "requeues as Kombu's restore does (top-level redelivered), for Kombu to take",
    skip.options(),
    () =>
      kombu.requeuesForKombu(
        etcdPeer,
        `requeued-${run}`,
        () => storedEnvelopes(etcd().url, `requeued-${run}`),
      ),
  );

  it(
    "a message Kombu requeues reaches wakame marked redelivered",
    skip.options(),
    () => kombu.kombuRequeueReachesWakame(etcdPeer, `kombu-requeued-${run}`),
  );
});
