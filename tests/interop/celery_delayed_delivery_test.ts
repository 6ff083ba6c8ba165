/**
 * Native delayed delivery (Celery 5.5) on the local RabbitMQ, in a vhost of its own that is
 * deleted after (the 28 `celery_delayed_*` quorum queues go with it): a task sent with a
 * countdown waits in the broker's delay queue for its level, not in the worker, then reaches
 * the worker's queue through `celery_delayed_delivery` and runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Celery, delayedRoutingKey, levelName } from "../../celery/mod.ts";
import { uuid } from "../../mod.ts";
import "../../transports/amqp/mod.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { rabbitmqctl } from "../_support/rabbitmq.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));

describe("Celery native delayed delivery on RabbitMQ", () => {
  const vhost = `wakame-delayed-${uuid().slice(0, 8)}`;
  const queue = `delayed.${uuid().slice(0, 8)}`;
  let app: Celery;
  const stop = new AbortController();
  let running: Promise<void>;
  const ranAt: number[] = [];

  before(async () => {
    if (skip.reason) return;
    await rabbitmqctl("add_vhost", vhost);
    await rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
    app = new Celery({
      broker: `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(vhost)}`,
      backend: "rpc://",
      defaultQueue: queue,
      delayedDelivery: true,
    });
    app.task("delayed.add", ([a, b]) => {
      ranAt.push(Date.now());
      return a + b;
    });
    const worker = app.worker({ hostname: `delayed-${vhost}@wakame` });
    running = worker.run({ signal: stop.signal });
    await worker.ready;
  });

  after(async () => {
    if (skip.reason) return;
    stop.abort();
    await running;
    await app.close();
    await rabbitmqctl("delete_vhost", vhost);
  });

  it("holds a countdown in the level queues, then runs it", skip.options(), async () => {
    const sent = Date.now();
    const result = await app.sendTask("delayed.add", { args: [2, 3], countdown: 2000 });
    // 2 s = bit 1: the message waits in level 1's queue (TTL 2 s).
    const channel = await app.connection.channel();
    let waiting = 0;
    for (let i = 0; i < 50 && waiting === 0; i++) {
      waiting = (await channel.queueDeclare({ name: levelName(1), passive: true })).messageCount;
      if (waiting === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await channel.close();
    assert.equal(waiting, 1);
    assert.equal(await result.get({ timeout: 15_000 }), 5);
    assert.ok(ranAt[0] - sent >= 1900, `ran ${ranAt[0] - sent} ms after sending`);
  });

  it("encodes the delay as Kombu's calculate_routing_key", () => {
    assert.equal(delayedRoutingKey(2, "celery"), `${"0.".repeat(26)}1.0.celery`);
    assert.equal(delayedRoutingKey(5.9, "q"), `${"0.".repeat(25)}1.0.1.q`);
    assert.equal(delayedRoutingKey(2 ** 28 - 1, "q"), `${"1.".repeat(28)}q`);
    // An already delayed key is not prefixed twice.
    assert.equal(delayedRoutingKey(1, delayedRoutingKey(3, "q")), `${"0.".repeat(27)}1.q`);
    assert.throws(() => delayedRoutingKey(0, "q"), RangeError);
    assert.throws(() => delayedRoutingKey(1, ""), RangeError);
  });
});
