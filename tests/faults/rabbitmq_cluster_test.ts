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
      try {
        const confirmed = new Set<number>();
        const retried = new Set<number>();
        const deliveries: { n: number; redelivered: boolean }[] = [];
        const seen = new Set<number>();
        let wake: (() => void) | undefined;
        const consumer = conn.consumer(queue, {
          prefetchCount: 20,
          callbacks: [async (body, message) => {
            const n = (body as { n: number }).n;
            deliveries.push({ n, redelivered: message.deliveryInfo.redelivered });
            seen.add(n);
            await message.ack();
            wake?.();
          }],
        });
        await consumer.consume();
        const first = conn.asUri();
        const channel = await conn.channel();
        const declared = await channel.queueDeclare({
          name: queue.name,
          durable: true,
          passive: true,
        });
        assert.equal(declared.queue, queue.name);

        const producer = conn.producer({ routingKey: queue.name });
        let killed: string | undefined;
        for (let n = 0; n < TOTAL; n++) {
          if (n === KILL_AT) {
            const node = nodes.find((x) => first.includes(`:${x.port}/`))!;
            killed = node.url;
            cluster!.kill(node);
          }
          await producer.publish({ n }, {
            declare: [queue],
            retry: true,
            retryPolicy: {
              maxRetries: 40,
              intervalStart: 100,
              intervalStep: 100,
              intervalMax: 500,
              onRetry: () => void retried.add(n),
            },
          });
          confirmed.add(n);
        }
        assert.ok(killed, "a node was killed");
        assert.ok(!conn.asUri().includes(killed!.split("@")[1]), "the connection moved on");

        const deadline = Date.now() + 30_000;
        while ([...confirmed].some((n) => !seen.has(n)) && Date.now() < deadline) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 500);
          });
        }
        const lost = [...confirmed].filter((n) => !seen.has(n));
        assert.deepStrictEqual(lost, [], "every confirmed message was consumed");
        const counts = new Map<number, number>();
        for (const d of deliveries) counts.set(d.n, (counts.get(d.n) ?? 0) + 1);
        const unexplained = [...counts].filter(([n, count]) =>
          count > 1 && !retried.has(n) &&
          !deliveries.some((d) => d.n === n && d.redelivered)
        ).map(([n]) => n);
        assert.deepStrictEqual(unexplained, [], "duplicates come only from redelivery or retry");
        assert.ok(
          deliveries.slice(KILL_AT).length > 0 && seen.has(TOTAL - 1),
          "the consumer resumed on the new node",
        );
        console.log(
          `rabbitmq cluster: killed ${
            killed!.replace(/guest:guest@/, "")
          }, now on ${conn.asUri()}; ` +
            `${confirmed.size} confirmed, ${deliveries.length} deliveries, ` +
            `${
              deliveries.filter((d) => d.redelivered).length
            } redelivered, ${retried.size} publishes retried`,
        );
        await consumer.cancel();
        await (await conn.channel()).queueDelete(queue.name);
      } finally {
        await conn.close();
      }
    },
  );
});
