/**
 * Worker events on memory://: what a `celeryev` consumer sees when a task runs, in Celery's
 * format (routing key `task.succeeded` for `task-succeeded`, hostname, clock, timestamp...).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Exchange, Queue, uuid } from "../../../mod.ts";
import { startApp } from "./_app.ts";

describe("Celery events", () => {
  it("sends worker and task events as Celery does", async () => {
    const { app, worker, stop } = await startApp((app) => app.task("add", ([a, b]) => a + b), {
      worker: { events: true, heartbeatInterval: 50 },
    });
    const events: Record<string, unknown>[] = [];
    const keys: string[] = [];
    const queue = new Queue(`events.${uuid()}`, {
      exchange: new Exchange("celeryev", { type: "topic" }),
      routingKey: "#",
      autoDelete: true,
    });
    const consumer = app.connection.consumer(queue, {
      noAck: true,
      callbacks: [(body, message) => {
        events.push(body as Record<string, unknown>);
        keys.push(message.deliveryInfo.routingKey);
      }],
    });
    await consumer.consume();
    try {
      const result = await app.sendTask("add", { args: [1, 2] });
      await result.get({ timeout: 5000 });
      for (let i = 0; i < 200 && !events.some((e) => e.type === "worker-heartbeat"); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const task = events.filter((e) => e.uuid === result.id);
      assert.deepEqual(task.map((e) => e.type), [
        "task-received",
        "task-started",
        "task-succeeded",
      ]);
      assert.deepEqual(
        keys.filter((_, i) => events[i].uuid === result.id),
        ["task.received", "task.started", "task.succeeded"],
      );
      const [received, , succeeded] = task;
      assert.equal(received.name, "add");
      assert.equal(received.args, "[1, 2]");
      assert.equal(received.hostname, worker.hostname);
      assert.equal(typeof received.clock, "number");
      assert.equal(typeof received.timestamp, "number");
      assert.equal(succeeded.result, "3");
      assert.ok(events.some((e) => e.type === "worker-heartbeat" && e.freq === 0.05));
    } finally {
      await consumer.cancel();
      await stop();
    }
  });
});
