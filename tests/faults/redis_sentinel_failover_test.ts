/**
 * Redis Sentinel failover under load: a private master, its replica and three sentinels
 * (tests/_support/redis_cluster.ts). A `sentinel://` connection publishes and consumes; the
 * master is killed (SIGKILL) mid-stream; the sentinels promote the replica; the client asks
 * them again on reconnect, follows the promotion and goes on.
 *
 * What the ledger allows, and why: Redis replicates asynchronously and Kombu publishes without
 * `WAIT`, so a write the old master acknowledged but had not yet sent to the replica dies with
 * it. Such a write is a message published before the kill (lost), or a fetch or an ack done
 * before the kill (the message is delivered again, without the redelivered flag). The test
 * allows exactly these for messages published before the kill, and reports how many there
 * were; a message published after the kill (acknowledged by the new master) must not be lost,
 * and no duplicate may lack a cause.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection, Queue } from "../../mod.ts";
import "../../transports/redis/mod.ts";
import { Ledger } from "../_support/cluster_ledger.ts";
import {
  redisDeploymentSkipReason,
  type SentinelGroup,
  startSentinelGroup,
} from "../_support/redis_cluster.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(
  import.meta.url,
  redisDeploymentSkipReason("redis-server", "redis-sentinel") ?? false,
);
const run = Math.random().toString(36).slice(2, 8);

describe("Redis Sentinel: the master dies mid-stream", () => {
  let group: SentinelGroup | undefined;
  before(async () => {
    if (skip.reason) return;
    group = await startSentinelGroup(`wk-failover-${run}`);
  });
  after(async () => {
    if (skip.reason) return;
    await group?.stop();
  });

  it(
    "follows the promotion; loses at most what was not replicated before the kill",
    { ...skip.options(), timeout: 60_000 },
    async () => {
      const [first, ...others] = group!.sentinels;
      await using conn = new Connection(`sentinel://127.0.0.1:${first.port}/0`, {
        transportOptions: {
          masterName: group!.masterName,
          sentinels: others.map((s) => `127.0.0.1:${s.port}`),
          socketConnectTimeout: 1000,
        },
        recoveryPolicy: { intervalStart: 100, intervalStep: 100, intervalMax: 500 },
      });
      const queue = new Queue(`fq-${run}`);
      const ledger = new Ledger();
      const consumer = await ledger.consume(conn, queue);
      const producer = conn.producer();
      await ledger.publish(producer, queue, 100);

      const killedAt = ledger.published.size; // numbers below this reached the old master
      group!.master.kill();
      await ledger.publish(producer, queue, 100);
      assert.equal(await group!.currentMasterPort(), group!.replica.port, "the replica leads");
      await ledger.settle(20_000);

      const lost = ledger.missing();
      assert.deepStrictEqual(
        lost.filter((n) => n >= killedAt),
        [],
        "nothing published after the kill (to the new master) was lost",
      );
      const duplicates = ledger.unexplainedDuplicates();
      assert.deepStrictEqual(
        duplicates.filter((n) => n >= killedAt),
        [],
        "a duplicate after the kill comes from redelivery or a retried publish",
      );
      assert.ok(
        ledger.deliveries.some((d) => d.n >= killedAt),
        "the consumer resumed on the new master",
      );
      console.log(
        `redis sentinel failover: ${ledger.summary()}; lost to async replication: ${lost.length}` +
          `${lost.length ? ` (${lost.join(", ")})` : ""}; delivered again after a lost ack or ` +
          `fetch: ${duplicates.length}`,
      );
      await consumer.cancel();
    },
  );

  it(
    "with replication cut before the kill, loses exactly what only the old master had",
    { ...skip.options(), timeout: 60_000 },
    async () => {
      const proxied = await startSentinelGroup(`wk-cut-${run}`, { proxied: true });
      try {
        const [first, ...others] = proxied.sentinels;
        await using conn = new Connection(`sentinel://127.0.0.1:${first.port}/0`, {
          transportOptions: {
            masterName: proxied.masterName,
            sentinels: others.map((s) => `127.0.0.1:${s.port}`),
            socketConnectTimeout: 1000,
          },
          recoveryPolicy: { intervalStart: 100, intervalStep: 100, intervalMax: 500 },
        });
        const queue = new Queue(`cq-${run}`);
        const ledger = new Ledger();
        let consumer = await ledger.consume(conn, queue);
        const producer = conn.producer();
        await ledger.publish(producer, queue, 50);
        await ledger.settle(20_000);
        // The consumer pauses, so that what is published next waits in the master's queue, and
        // replication stops: what the master acknowledges from now on, only it has.
        await consumer.cancel();
        proxied.replication!.cut();
        const cutAt = ledger.published.size;
        await ledger.publish(producer, queue, 30);
        const killedAt = ledger.published.size;
        proxied.master.kill();
        const killed = Date.now();
        await ledger.publish(producer, queue, 1);
        const firstAfter = Date.now() - killed;
        await ledger.publish(producer, queue, 49);
        assert.equal(await proxied.currentMasterPort(), proxied.replica.port);
        consumer = await ledger.consume(conn, queue);
        const cut = (n: number) => cutAt <= n && n < killedAt;
        await ledger.settle(20_000, cut);

        const lost = ledger.missing();
        assert.deepStrictEqual(
          lost,
          [...ledger.published].filter(cut),
          "exactly the messages published while replication was cut are lost",
        );
        const duplicates = ledger.unexplainedDuplicates();
        assert.deepStrictEqual(
          duplicates.filter((n) => n >= killedAt),
          [],
          "a duplicate without a cause is one whose fetch or ack the old master alone had",
        );
        console.log(
          `redis sentinel failover, replication cut ${killedAt - cutAt} publishes before the ` +
            `kill: first publish after the kill took ${firstAfter} ms; ${ledger.summary()}; ` +
            `lost: ${lost.length}; delivered again after a lost ack or fetch: ${duplicates.length}`,
        );
        await consumer.cancel();
      } finally {
        await proxied.stop();
      }
    },
  );
});
