/**
 * A three-node RabbitMQ cluster (private nodes on loopback, tests/_support/rabbitmq_cluster.ts)
 * and a quorum queue declared through `Queue` options. One Connection with the three nodes as
 * failover alternates publishes with confirms (`confirmPublish`) and consumes; the node it is
 * on is killed (SIGKILL) mid-stream. The connection must move to another node, re-declare,
 * re-consume and go on; every confirmed message must be consumed. The ledger allows a
 * duplicate only where the broker marked the delivery redelivered or the publish was retried.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection, Queue } from "../../mod.ts";
import { AmqpTransport } from "../../transports/amqp/mod.ts";
import {
  type RabbitCluster,
  rabbitmqClusterSkipReason,
  startRabbitCluster,
} from "../_support/rabbitmq_cluster.ts";
import { consumeInto, Ledger, publishRetrying, range } from "./_ledger.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(import.meta.url, rabbitmqClusterSkipReason() ?? false);
const run = Math.random().toString(36).slice(2, 8);
const TOTAL = 300;
const KILL_AT = 100;

describe("RabbitMQ cluster: failover with a quorum queue", () => {
  let cluster: RabbitCluster | undefined;
  before(async () => {
    if (skip.reason) return;
    cluster = await startRabbitCluster(run);
  });
  after(async () => {
    if (skip.reason) return;
    await cluster?.stop();
  });

  it(
    "moves to another node when its node dies; nothing confirmed is lost",
    { ...skip.options(), timeout: 60_000 },
    async () => {
      const nodes = cluster!.nodes;
      const conn = new Connection(nodes.map((n) => n.url).join(";"), {
        transport: AmqpTransport,
        transportOptions: { confirmPublish: true },
        recoveryPolicy: { intervalStart: 100, intervalStep: 100, intervalMax: 500 },
      });
      const queue = new Queue(`wakame-quorum-${run}`, {
        queueArguments: { "x-queue-type": "quorum" },
      });
      const ledger = new Ledger("rabbitmq cluster: node killed");
      try {
        await ledger.watch(50_000, async () => {
          const cancel = await consumeInto(ledger, conn, queue);
          const first = conn.asUri();
          const channel = await conn.channel();
          const declared = await channel.queueDeclare({
            name: queue.name,
            durable: true,
            passive: true,
          });
          assert.equal(declared.queue, queue.name);

          const producer = conn.producer();
          // Each resolves once confirmed.
          await publishRetrying(ledger, producer, queue, KILL_AT);
          const node = nodes.find((x) => first.includes(`:${x.port}/`))!;
          cluster!.kill(node);
          ledger.note(`killed the node on ${node.port} after ${KILL_AT} publishes`);
          await publishRetrying(ledger, producer, queue, TOTAL - KILL_AT);
          assert.ok(!conn.asUri().includes(`:${node.port}/`), "the connection moved on");

          await ledger.consumed(30_000);
          // Every confirmed message consumed; a duplicate only from redelivery or retry.
          ledger.check();
          assert.ok(
            range(KILL_AT, TOTAL).some((n) => ledger.wasDelivered(n)),
            "the consumer resumed on the new node",
          );
          console.log(`rabbitmq cluster: now on ${conn.asUri()}\n${ledger.summary()}`);
          await cancel();
          await (await conn.channel()).queueDelete(queue.name);
        });
      } finally {
        await conn.close();
      }
    },
  );
});
