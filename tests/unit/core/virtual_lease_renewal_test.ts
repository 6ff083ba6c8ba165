/**
 * Lease renewal counts from when the store's lease began (`StoredMessage.leasedAt`: a Redis
 * fetch, an SQS or Azure receive), not from the delivery: a message that waited in a read-ahead
 * or receive buffer is renewed before its lease runs out.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { QueueBackend, StoredMessage } from "../../../src/virtual/backend.ts";
import { Ledger } from "../../../src/virtual/ledger.ts";
import { MemoryBackend } from "../../../transports/memory/mod.ts";

function stored(tag: string, leasedAt?: number): StoredMessage {
  return {
    body: "{}",
    properties: {},
    exchange: "",
    routingKey: "q",
    tag,
    redelivered: false,
    leasedAt,
  };
}

function storeWithLease(duration: number, extended: string[]): QueueBackend {
  const memory = new MemoryBackend();
  return {
    put: (q, m) => memory.put(q, m),
    get: (q) => memory.get(q),
    purge: (q) => memory.purge(q),
    size: (q) => memory.size(q),
    delete: (q) => memory.delete(q),
    lease: {
      duration,
      settle: () => Promise.resolve(),
      release: () => Promise.resolve(),
      extend: (_q, m) => Promise.resolve(void extended.push(m.tag)),
    },
  };
}

describe("lease renewal", () => {
  it("renews at the first check a message whose lease began long before its delivery", async () => {
    // duration 2000: checks every 500 ms, renews after 1000 ms of lease.
    const extended: string[] = [];
    const ledger = new Ledger(storeWithLease(2000, extended), () => {}, () => {});
    try {
      const old = ledger.deliver("q", stored("fetched-early", Date.now() - 1500), false, undefined);
      const fresh = ledger.deliver("q", stored("fetched-now"), false, undefined);
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.deepEqual(extended, ["fetched-early"], "only the old lease, at the first check");
      await ledger.ack(old.deliveryTag, false);
      await ledger.ack(fresh.deliveryTag, false);
    } finally {
      ledger.close();
    }
  });
});
