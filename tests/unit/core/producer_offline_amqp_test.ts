/**
 * The producer's offline buffer on the native AMQP transport against RabbitMQ, with the outage
 * made by a loopback TCP proxy the test cuts and restores (the broker itself stays up), and
 * publisher confirms on (`confirmPublish`).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bodyText } from "../../../src/body.ts";
import { Connection } from "../../../src/connection.ts";
import { Queue } from "../../../src/entity.ts";
import {
  ChannelError,
  ConnectionError,
  LimitExceededError,
  TimeoutError,
} from "../../../src/errors.ts";
import { AmqpTransport } from "../../../transports/amqp/mod.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { FaultProxy } from "../../_support/fault_proxy.ts";
import { envSkip } from "../../_support/skips.ts";
import { until } from "./_fakes.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));
const run = Math.random().toString(36).slice(2, 8);
const DIRECT = "amqp://guest:guest@127.0.0.1:5672//";

/** Tracks whether a promise settled, without awaiting it. */
function track(promise: Promise<void>): { settled: boolean; result: Promise<void> } {
  const state = { settled: false, result: promise };
  promise.then(() => (state.settled = true), () => (state.settled = true));
  return state;
}

/** Rejects when `promise` is still pending after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe("Producer offline buffer on AMQP through a fault proxy (RabbitMQ)", () => {
  let proxy: FaultProxy;
  const direct = new Connection(DIRECT, { transport: AmqpTransport });
  const made: Connection[] = [];
  const queues: string[] = [];

  /** A confirming connection through the proxy, recovering quickly. */
  function throughProxy(): Connection {
    const conn = new Connection(`amqp://guest:guest@127.0.0.1:${proxy.port}//`, {
      transport: AmqpTransport,
      transportOptions: { confirmPublish: true },
      connectTimeout: 1000,
      recoveryPolicy: { intervalStart: 20, intervalStep: 20, intervalMax: 100 },
    });
    made.push(conn);
    return conn;
  }

  function queue(suffix: string, options: ConstructorParameters<typeof Queue>[1] = {}): Queue {
    const name = `wakame-offline-${run}-${suffix}`;
    queues.push(name);
    return new Queue(name, { durable: false, autoDelete: false, ...options });
  }

  /** Everything in a queue, in order, read on a connection that does not go through the proxy. */
  async function drain(name: string): Promise<unknown[]> {
    const channel = await direct.channel();
    const bodies: unknown[] = [];
    for (;;) {
      const delivery = await channel.basicGet(name, { noAck: true });
      if (!delivery) break;
      bodies.push(JSON.parse(bodyText(delivery.body)));
    }
    await channel.close();
    return bodies;
  }

  before(async () => {
    if (skip.reason) return;
    proxy = await FaultProxy.start("127.0.0.1", 5672);
  });

  after(async () => {
    if (skip.reason) return;
    for (const conn of made) await conn.close();
    const channel = await direct.channel();
    for (const name of queues) await channel.queueDelete(name);
    await direct.close();
    await proxy.close();
  });

  it(
    "delivers publishes held through an outage in order, each resolving after its confirm",
    skip.options(),
    async () => {
      proxy.restore();
      const conn = throughProxy();
      const q = queue("order");
      const producer = conn.producer({
        routingKey: q.name,
        offlineBuffer: { maxMessages: 100, maxWaitMs: 20_000 },
      });
      await producer.publish(0, { declare: [q] });
      proxy.cut();
      const held = [1, 2, 3, 4, 5].map((n) => track(producer.publish(n, { declare: [q] })));
      await until(() => proxy.refused >= 2, "reconnects refused by the cut proxy", 20_000);
      assert.ok(held.every((h) => !h.settled), "a publish settled while the broker was away");
      assert.deepEqual(await drain(q.name), [0]);
      proxy.restore();
      await within(Promise.all(held.map((h) => h.result)), 10_000, "held publishes");
      await producer.publish(6);
      assert.deepEqual(await drain(q.name), [1, 2, 3, 4, 5, 6]);
    },
  );

  it(
    "rejects a held publish the broker nacks instead of resolving it",
    skip.options(),
    async () => {
      proxy.restore();
      const conn = throughProxy();
      // A queue that takes nothing: RabbitMQ nacks every publish routed to it.
      const full = queue("nack", {
        maxLength: 0,
        queueArguments: { "x-overflow": "reject-publish" },
      });
      const producer = conn.producer({
        routingKey: full.name,
        offlineBuffer: { maxMessages: 10, maxWaitMs: 20_000 },
      });
      await assert.rejects(producer.publish("first", { declare: [full] }), ChannelError);
      proxy.cut();
      const held = track(producer.publish("held"));
      await until(() => proxy.refused >= 1, "a reconnect refused by the cut proxy", 20_000);
      proxy.restore();
      await assert.rejects(within(held.result, 10_000, "the held publish"), ChannelError);
    },
  );

  it("rejects past maxMessages, past maxWaitMs and on close()", skip.options(), async () => {
    proxy.restore();
    const conn = throughProxy();
    const q = queue("limits");
    const producer = conn.producer({
      routingKey: q.name,
      offlineBuffer: { maxMessages: 2, maxWaitMs: 300 },
    });
    await producer.publish(0, { declare: [q] });
    proxy.cut();
    const first = track(producer.publish(1));
    const second = track(producer.publish(2));
    await assert.rejects(within(producer.publish(3), 1000, "past the limit"), LimitExceededError);
    await assert.rejects(within(first.result, 5000, "held"), TimeoutError);
    await assert.rejects(within(second.result, 5000, "held"), TimeoutError);
    const closing = producer.publish(4);
    producer.close();
    await assert.rejects(within(closing, 1000, "held on close"), ConnectionError);
    proxy.restore();
    await conn.ensureConnection({ maxRetries: 50, intervalStart: 20, intervalStep: 20 });
    assert.deepEqual(await drain(q.name), [0]);
  });

  it(
    "without a buffer, fails fast with a ConnectionError while the connection recovers",
    skip.options(),
    async () => {
      proxy.restore();
      const conn = throughProxy();
      const q = queue("off");
      const producer = conn.producer({ routingKey: q.name });
      await producer.publish(0, { declare: [q] });
      // A consumer makes the connection recover after the loss.
      const consumer = conn.consumer(q, { callbacks: [() => {}] });
      await consumer.consume();
      proxy.cut();
      await until(() => proxy.refused >= 1, "a reconnect refused by the cut proxy", 20_000);
      // One on the dead channel, one that has no channel yet (it would ask the connection).
      const fresh = conn.producer({ routingKey: q.name });
      for (const p of [producer, fresh]) {
        const started = Date.now();
        await assert.rejects(within(p.publish(1), 2000, "publish"), ConnectionError);
        assert.ok(Date.now() - started < 1000, "the publish waited for the recovery");
      }
      proxy.restore();
    },
  );
});
