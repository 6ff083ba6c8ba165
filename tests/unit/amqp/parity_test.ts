/**
 * Kombu's API on RabbitMQ, where the behaviour is the broker's: Queue.get, Consumer.purge and
 * Consumer.flow (RabbitMQ refuses AMQP's channel.flow, so flow cancels and consumes again), and
 * exchange types beyond the four.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection, Exchange, KombuError, Queue } from "../../../mod.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));
const run = Math.random().toString(36).slice(2, 8);
let counter = 0;
const unique = (what: string) => `wakame-parity-${what}-${run}-${++counter}`;
const url = "amqp://guest:guest@127.0.0.1:5672//";

describe("Kombu's API on RabbitMQ", () => {
  it(
    "publish within timeout / confirmTimeout, Queue.get, Consumer.purge and Consumer.flow",
    skip.options(),
    async () => {
      // Confirms: a publish resolves once the queue holds the message, so the counts below hold.
      await using conn = new Connection(url, { transportOptions: { confirmPublish: true } });
      const queue = new Queue(unique("q"), { autoDelete: false, durable: false });
      const producer = conn.producer();
      await producer.publish({ n: 1 }, {
        routingKey: queue.name,
        declare: [queue],
        timeout: 5000,
        confirmTimeout: 5000,
      });
      const channel = await conn.defaultChannel();
      const bound = queue.bind(channel);
      try {
        const got = await bound.get();
        assert.deepEqual(got?.payload, { n: 1 });
        await got?.ack();
        assert.equal(await bound.get(), undefined);

        await producer.publish(2, { routingKey: queue.name });
        await producer.publish(3, { routingKey: queue.name });
        const seen: unknown[] = [];
        await using consumer = conn.consumer([queue], {
          callbacks: [async (body, message) => {
            seen.push(body);
            await message.ack();
          }],
        });
        // Ask the broker, not a clock: both are ready.
        assert.equal(
          (await channel.queueDeclare({ name: queue.name, passive: true })).messageCount,
          2,
        );
        assert.equal(await consumer.purge(), 2);
        await consumer.consume();
        await consumer.flow(false);
        assert.equal(consumer.consumingFrom(queue), true);
        await producer.publish(4, { routingKey: queue.name });
        assert.equal(
          (await channel.queueDeclare({ name: queue.name, passive: true })).messageCount,
          1,
        );
        await consumer.flow(true);
        await conn.drainEvents({ timeout: 2000 });
        await consumer.idle();
        assert.deepEqual(seen, [4]);
      } finally {
        await bound.delete();
      }
    },
  );
});

describe("exchange types beyond the four on RabbitMQ", () => {
  // rabbitmq_delayed_message_exchange and rabbitmq_consistent_hash_exchange are not enabled on
  // the local broker (rabbitmq-plugins list): the type reaches the broker, whose refusal is
  // surfaced. With a plugin enabled the same declaration succeeds.
  for (const driver of ["amqp", "amqplib"]) {
    it(
      `${driver}:// sends an x-... type as it is and surfaces the broker's refusal`,
      skip.options(),
      async () => {
        await using conn = new Connection(url.replace(/^amqp:/, `${driver}:`));
        const exchange = new Exchange(unique("x"), {
          type: "x-wakame-no-such-type",
          autoDelete: true,
        });
        const channel = await conn.defaultChannel();
        await assert.rejects(exchange.declareOn(channel), (error: unknown) => {
          assert.ok(error instanceof KombuError, String(error));
          assert.match((error as Error).message, /x-wakame-no-such-type/);
          assert.match((error as Error).message, /COMMAND_INVALID/);
          return true;
        });
        // The refusal closes the connection (503 is a connection error); ensure reconnects.
        const fanout = new Exchange(unique("f"), { type: "fanout", autoDelete: true });
        await conn.ensure(async () => await fanout.declareOn(await conn.defaultChannel()), {
          maxRetries: 3,
          intervalStart: 0,
        })();
        await fanout.bind(await conn.defaultChannel()).delete();
      },
    );
  }
});
