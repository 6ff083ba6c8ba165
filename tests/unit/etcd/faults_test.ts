import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection, Queue } from "../../../mod.ts";
import { EtcdTransport } from "../../../transports/etcd/mod.ts";
import { type EtcdServer, etcdSkipReason, startEtcd } from "../../_support/etcd_server.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, etcdSkipReason());
let etcd: EtcdServer | undefined;

const connect = (transportOptions: Record<string, unknown> = {}) =>
  new Connection(`etcd://127.0.0.1:${etcd!.port}`, {
    transport: EtcdTransport,
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

describe("etcd faults", () => {
  before(async () => {
    if (skip.reason) return;
    etcd = await startEtcd();
  });
  after(() => etcd?.stop());

  it(
    "a consumer carries on by itself when etcd is killed and restarted",
    skip.options(),
    async () => {
      const queue = `restart-${crypto.randomUUID()}`;
      await using conn = connect();
      await using producer = connect();
      const { got, finished, consumer } = await collect(conn, queue, 6);
      const publish = (n: number) => producer.producer().publish({ n }, { routingKey: queue });
      for (const n of [0, 1, 2]) await publish(n);
      while (got.length < 3) await new Promise((r) => setTimeout(r, 20));
      await etcd!.restart();
      for (const n of [3, 4, 5]) await publish(n);
      await finished;
      await consumer.cancel();
      assert.deepEqual(got.map((m) => m.payload), [0, 1, 2, 3, 4, 5].map((n) => ({ n })));
    },
  );

  it("keeps what was published and not consumed across a restart", skip.options(), async () => {
    const queue = `kept-${crypto.randomUUID()}`;
    {
      await using producer = connect();
      for (const n of [0, 1]) await producer.producer().publish({ n }, { routingKey: queue });
    }
    await etcd!.restart();
    await using conn = connect();
    const { got, finished } = await collect(conn, queue, 2);
    await finished;
    assert.deepEqual(got.map((m) => m.payload), [{ n: 0 }, { n: 1 }]);
  });

  it(
    "gives back what a consumer that went silent held, after the visibility timeout",
    skip.options(),
    async () => {
      const queue = `silent-${crypto.randomUUID()}`;
      await using producer = connect();
      for (const n of [0, 1, 2]) await producer.producer().publish({ n }, { routingKey: queue });
      // The doomed consumer takes every message, then loses the network for good: it can
      // neither acknowledge, renew nor give anything back (as if killed with SIGKILL).
      let cut = false;
      const doomed = connect({
        visibilityTimeout: 1000,
        fetch: (request: Request) =>
          cut ? Promise.reject(new TypeError("network cut")) : fetch(request),
      });
      const channel = await doomed.defaultChannel();
      for (let i = 0; i < 3; i++) assert.ok(await channel.basicGet(queue));
      cut = true;
      const ready = await (await producer.defaultChannel()).basicGet(queue);
      assert.equal(ready, undefined, "nothing ready while the records are fresh");
      await using rescuer = connect({ visibilityTimeout: 1000 });
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
