/**
 * Recovery on the native AMQP transport with wakame's core: `rabbitmqctl close_connection`
 * (aimed at this test's own connection by its connection_name) ends the connection with a
 * ConnectionError; a running consumer reconnects, re-declares and re-consumes by itself; its
 * unacknowledged messages come back redelivered; an ack of a delivery of the dead channel is
 * refused locally; a publish with `retry` reconnects.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection, Queue } from "../../../mod.ts";
import type { Message } from "../../../src/message.ts";
import { AmqpTransport } from "../../../transports/amqp/mod.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { closeConnectionsNamed as forceClose } from "../../_support/rabbitmq.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));
const run = Math.random().toString(36).slice(2, 8);

describe("AMQP recovery with the core (RabbitMQ)", () => {
  const name = `wakame-recovery-${run}`;
  const conn = new Connection("amqp://guest:guest@127.0.0.1:5672//", {
    transport: AmqpTransport,
    transportOptions: { connectionName: name },
    recoveryPolicy: { intervalStart: 50, intervalStep: 50, intervalMax: 200 },
  });
  after(async () => {
    if (skip.reason) return;
    await conn.close();
  });

  it(
    "re-consumes after a forced close; unacked messages come back redelivered",
    skip.options(),
    async () => {
      const queue = new Queue(`${name}-q`, { durable: false, autoDelete: false });
      const producer = conn.producer({ routingKey: queue.name });
      await producer.publish({ n: 0 }, { declare: [queue] });
      await producer.publish({ n: 1 }, { declare: [queue] });

      const seen: Message[] = [];
      let wake: (() => void) | undefined;
      const waitFor = async (n: number) => {
        while (seen.length < n) await new Promise<void>((r) => (wake = r));
      };
      const consumer = conn.consumer(queue, {
        prefetchCount: 10,
        callbacks: [(_body, message) => {
          seen.push(message);
          wake?.();
        }],
      });
      await consumer.consume();
      await waitFor(2);
      assert.deepStrictEqual(seen.map((m) => m.deliveryInfo.redelivered), [false, false]);

      assert.equal(await forceClose(name), 1);
      await waitFor(4); // the consumer reconnected and got both again
      await conn.recovered();
      const [old, again] = [seen[0], seen.slice(2)];
      assert.deepStrictEqual(again.map((m) => m.deliveryInfo.redelivered), [true, true]);
      assert.deepStrictEqual(
        await Promise.all(again.map((m) => m.decode())),
        [{ n: 0 }, { n: 1 }],
      );
      await assert.rejects(old.ack(), /closed/);
      for (const m of again) await m.ack();

      await producer.publish({ n: 2 }, { retry: true });
      await waitFor(5);
      assert.deepStrictEqual(await seen[4].decode(), { n: 2 });
      await seen[4].ack();
      await consumer.cancel();
      await (await conn.channel()).queueDelete(queue.name);
    },
  );

  it("publishes with retry across a forced close", skip.options(), async () => {
    const queue = new Queue(`${name}-retry`, { durable: false, autoDelete: false });
    const producer = conn.producer({ routingKey: queue.name });
    await producer.publish({ n: 1 }, { declare: [queue] });
    assert.equal(await forceClose(name), 1);
    await producer.publish({ n: 2 }, { declare: [queue], retry: true });
    const ch = await conn.channel();
    assert.equal((await ch.queueDeclare({ name: queue.name, passive: true })).messageCount, 2);
    await ch.queueDelete(queue.name);
  });
});
