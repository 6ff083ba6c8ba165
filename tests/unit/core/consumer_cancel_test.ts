/**
 * A consumer whose queue is deleted under it (RabbitMQ sends basic.cancel): by default it stops
 * consuming that queue and reports a ConsumerCancelledError to onError and out of `for await`
 * (py-amqp's ConsumerCancelled); with `onCancel: "resume"` it declares the queue again and goes
 * on, as a Celery worker does. Both drivers.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { Queue } from "../../../src/entity.ts";
import { ConsumerCancelledError } from "../../../src/errors.ts";
import type { Message } from "../../../src/message.ts";
import "../../../transports/amqp/mod.ts";
import "../../../transports/amqplib/mod.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));

/** Waits until `check` holds, failing after `ms` (a broken consumer fails, never hangs). */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const scheme of ["amqp", "amqplib"]) {
  describe(`a consumer whose queue is deleted (${scheme}://)`, () => {
    const url = `${scheme}://guest:guest@127.0.0.1:5672//`;
    let admin: Connection;
    let n = 0;
    const unique = () => `cancel-${scheme}-${Date.now().toString(36)}-${n++}`;
    const deleteQueue = async (name: string) => (await admin.defaultChannel()).queueDelete(name);
    /** The queue's consumer count, or -1 when it does not exist (a passive declare). */
    const consumersOf = async (name: string) => {
      const probe = await admin.channel();
      try {
        return (await probe.queueDeclare({ name, passive: true })).consumerCount;
      } catch {
        return -1;
      } finally {
        if (probe.isOpen) await probe.close();
      }
    };

    before(async () => {
      if (skip.reason) return;
      admin = new Connection(url);
      await admin.connect();
    });
    after(async () => {
      if (skip.reason) return;
      await admin.close();
    });

    it(
      "reports ConsumerCancelledError to onError and stops consuming",
      skip.options(),
      async () => {
        await using conn = new Connection(url);
        const name = unique();
        const errors: [unknown, Message | undefined][] = [];
        await using consumer = conn.consumer(new Queue(name), {
          callbacks: [() => {}],
          onError: (error, message) => errors.push([error, message]),
        });
        await consumer.consume();
        assert.equal(consumer.consuming, true);
        await deleteQueue(name);
        await waitFor("onError", () => errors.length > 0);
        const [error, message] = errors[0];
        assert.ok(error instanceof ConsumerCancelledError, String(error));
        assert.equal(error.queue, name);
        assert.equal(message, undefined);
        assert.equal(consumer.consuming, false);
      },
    );

    it("ends a for-await loop with ConsumerCancelledError", skip.options(), async () => {
      await using conn = new Connection(url);
      const name = unique();
      const consumer = conn.consumer(new Queue(name));
      // How the loop ends, caught at once (it may end before the assertion looks).
      const outcome = (async () => {
        for await (const message of consumer) await message.ack();
      })().then(() => "ended without an error", (error: unknown) => error);
      await waitFor("the consumer on the broker", async () => (await consumersOf(name)) === 1);
      await deleteQueue(name);
      const timeout = new Promise((resolve) =>
        setTimeout(() => resolve("the loop neither ended nor threw"), 5000)
      );
      const ended = await Promise.race([outcome, timeout]);
      assert.ok(ended instanceof ConsumerCancelledError, String(ended));
      assert.equal(ended.queue, name);
    });

    it(
      "with onCancel 'resume', declares the queue again and goes on consuming",
      skip.options(),
      async () => {
        await using conn = new Connection(url);
        const name = unique();
        const seen: unknown[] = [];
        const errors: unknown[] = [];
        await using consumer = conn.consumer(new Queue(name), {
          onCancel: "resume",
          callbacks: [async (body, message) => {
            seen.push(body);
            await message.ack();
          }],
          onError: (error) => errors.push(error),
        });
        await consumer.consume();
        await deleteQueue(name);
        await waitFor("the queue consumed again", async () => (await consumersOf(name)) === 1);
        await admin.producer().publish({ after: "delete" }, { routingKey: name });
        await waitFor("the message after the delete", () => seen.length > 0);
        assert.deepEqual(seen, [{ after: "delete" }]);
        assert.deepEqual(errors, []);
        assert.equal(consumer.consuming, true);
        await deleteQueue(name);
      },
    );
  });
}
