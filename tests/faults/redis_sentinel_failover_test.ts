/**
 * Redis Sentinel failover under load: a private master, its replica and three sentinels
 * (tests/_support/redis_cluster.ts). A `sentinel://` connection publishes and consumes; the
 * master is killed (SIGKILL) mid-stream; the sentinels promote the replica; the client asks
 * them again on reconnect, follows the promotion and goes on.
 *
 * What the ledger allows, and why: Redis replicates asynchronously and Kombu publishes without
 * `WAIT`, so a write the old master acknowledged but had not yet sent to the replica dies with
 * it. Such a write is a message published before the kill (lost), or a fetch or an ack done
 * before the kill (the message is delivered again, without the redelivered flag). The ledger
 * declares exactly these (`allowLoss`, `allowDuplicates`) for messages published before the
 * kill, and reports how many there were; a message published after the kill (acknowledged by
 * the new master) must not be lost, and no other duplicate may lack a cause. With replication
 * cut before the kill, the messages published during the cut are declared certainly lost.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection, Queue } from "../../mod.ts";
import "../../transports/redis/mod.ts";
import { consumeInto, Ledger, publishRetrying, range } from "./_ledger.ts";
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
      const ledger = new Ledger("redis sentinel: master killed");
      await ledger.watch(50_000, async () => {
        const cancel = await consumeInto(ledger, conn, queue);
        const producer = conn.producer();
        await publishRetrying(ledger, producer, queue, 100);

        const killedAt = ledger.count; // numbers below this reached the old master
        group!.master.kill();
        ledger.note(`killed the master after ${killedAt} publishes`);
        // Nothing published after the kill (to the new master) may be lost or repeated.
        ledger.allowLoss(range(0, killedAt), "acknowledged by the old master, not replicated");
        ledger.allowDuplicates(
          range(0, killedAt),
          "a fetch or ack the old master alone had",
        );
        await publishRetrying(ledger, producer, queue, 100);
        assert.equal(await group!.currentMasterPort(), group!.replica.port, "the replica leads");
        await ledger.consumed(20_000);
        ledger.check();
        assert.ok(
          range(killedAt, ledger.count).some((n) => ledger.wasDelivered(n)),
          "the consumer resumed on the new master",
        );
        const lost = ledger.missing();
        console.log(
          `redis sentinel failover: lost to async replication: ${lost.length}; delivered ` +
            `again after a lost ack or fetch: ${ledger.unexplained().length}\n${ledger.summary()}`,
        );
        await cancel();
      });
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
        const ledger = new Ledger("redis sentinel: replication cut, then master killed");
        await ledger.watch(50_000, async () => {
          let cancel = await consumeInto(ledger, conn, queue);
          const producer = conn.producer();
          await publishRetrying(ledger, producer, queue, 50);
          assert.ok(await ledger.consumed(20_000), "the first 50 arrived before the cut");
          // The consumer pauses, so that what is published next waits in the master's queue, and
          // replication stops: what the master acknowledges from now on, only it has.
          await cancel();
          proxied.replication!.cut();
          const cutAt = ledger.count;
          await publishRetrying(ledger, producer, queue, 30);
          const killedAt = ledger.count;
          proxied.master.kill();
          ledger.note(`replication cut at ${cutAt}, master killed at ${killedAt}`);
          // Exactly the messages published while replication was cut are lost, every one.
          ledger.allowLoss(range(cutAt, killedAt), "published while replication was cut", {
            certain: true,
          });
          // A duplicate without a cause is one whose fetch or ack the old master alone had.
          ledger.allowDuplicates(range(0, killedAt), "a fetch or ack the old master alone had");
          const killed = Date.now();
          await publishRetrying(ledger, producer, queue, 1);
          const firstAfter = Date.now() - killed;
          await publishRetrying(ledger, producer, queue, 49);
          assert.equal(await proxied.currentMasterPort(), proxied.replica.port);
          cancel = await consumeInto(ledger, conn, queue);
          await ledger.consumed(20_000);
          ledger.check();
          console.log(
            `redis sentinel failover, replication cut ${killedAt - cutAt} publishes before the ` +
              `kill: first publish after the kill took ${firstAfter} ms; lost: ` +
              `${ledger.missing().length}; delivered again after a lost ack or fetch: ` +
              `${ledger.unexplained().length}\n${ledger.summary()}`,
          );
          await cancel();
        });
      } finally {
        await proxied.stop();
      }
    },
  );
});
