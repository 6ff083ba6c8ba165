/**
 * The producer's offline buffer on memory:// (through FlakyTransport, whose connections are lost
 * and refused on demand), and the fast failure of a publish on a dead connection without it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bodyText } from "../../../src/body.ts";
import { Connection } from "../../../src/connection.ts";
import { Queue } from "../../../src/entity.ts";
import {
  ChannelError,
  ConfigurationError,
  ConnectionError,
  LimitExceededError,
  TimeoutError,
} from "../../../src/errors.ts";
import { Producer } from "../../../src/producer.ts";
import type {
  Channel,
  ConnectionParams,
  Transport,
  TransportConnection,
} from "../../../src/transport.ts";
import { FlakyTransport, RecordingChannel, uniqueVhost, until } from "./_fakes.ts";

const FAST_RECOVERY = { intervalStart: 5, intervalStep: 5, intervalMax: 20 };

/** A connection over FlakyTransport, with a queue `q` declared and one message published. */
async function setUp(transport: Transport = new FlakyTransport()) {
  const conn = new Connection(`flaky:///${uniqueVhost("offline")}`, {
    transport,
    recoveryPolicy: FAST_RECOVERY,
  });
  const queue = new Queue("q");
  await conn.producer().publish(0, { routingKey: "q", declare: [queue] });
  return { conn, queue };
}

/** Takes everything in `q`, in order (the store is kept per virtual host, across connections). */
async function drain(conn: Connection): Promise<unknown[]> {
  const channel = await conn.channel();
  const bodies: unknown[] = [];
  for (;;) {
    const delivery = await channel.basicGet("q", { noAck: true });
    if (!delivery) return bodies;
    bodies.push(JSON.parse(bodyText(delivery.body)));
  }
}

/** Tracks whether a promise settled, without awaiting it. */
function track(promise: Promise<void>): { settled: boolean; result: Promise<void> } {
  const state = { settled: false, result: promise };
  promise.then(() => (state.settled = true), () => (state.settled = true));
  return state;
}

/** Rejects when `promise` is still pending after `ms` (so a hang fails the test, not the run). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe("Producer without an offline buffer: a dead connection fails fast", () => {
  it("rejects with a ConnectionError when the broker refuses the reconnect", async () => {
    const transport = new FlakyTransport();
    const { conn } = await setUp(transport);
    const producer = conn.producer({ routingKey: "q" });
    transport.failures = Infinity;
    await transport.last.lose();
    await assert.rejects(within(producer.publish(1), 1000, "publish"), ConnectionError);
    await conn.close();
  });

  it("rejects at once while a recovery runs, instead of waiting for it", async () => {
    const transport = new FlakyTransport();
    const { conn, queue } = await setUp(transport);
    // A consumer makes the connection recover after a loss.
    const consumer = conn.consumer(queue, { callbacks: [() => {}] });
    await consumer.consume();
    const producer = conn.producer({ routingKey: "q" });
    transport.failures = Infinity;
    await transport.last.lose();
    await assert.rejects(
      within(producer.publish(1), 1000, "publish during recovery"),
      (error: unknown) =>
        error instanceof ConnectionError && /down and recovering/.test(error.message),
    );
    await conn.close();
  });
});

describe("Producer with an offline buffer (memory://)", () => {
  it("holds publishes while the connection is down and delivers them in order once it is back", async () => {
    const transport = new FlakyTransport();
    const { conn } = await setUp(transport);
    const producer = conn.producer({
      routingKey: "q",
      offlineBuffer: { maxMessages: 100, maxWaitMs: 10_000 },
    });
    await producer.publish(1);
    transport.failures = Infinity;
    await transport.last.lose();
    const held = [2, 3, 4, 5, 6].map((n) => track(producer.publish(n)));
    await until(() => transport.attempts.length > 3, "reconnect attempts");
    assert.ok(held.every((h) => !h.settled), "a held publish settled while the broker was down");
    assert.equal(producer.buffered, 5);
    transport.failures = 0;
    await within(Promise.all(held.map((h) => h.result)), 2000, "held publishes");
    // After the outage the fast path takes over again, behind nothing.
    await producer.publish(7);
    assert.equal(producer.buffered, 0);
    assert.deepEqual(await drain(conn), [0, 1, 2, 3, 4, 5, 6, 7]);
    await conn.close();
  });

  it("rejects a publish at once with LimitExceededError when the buffer is full, keeping the others", async () => {
    const transport = new FlakyTransport();
    const { conn } = await setUp(transport);
    const producer = conn.producer({
      routingKey: "q",
      offlineBuffer: { maxMessages: 2, maxWaitMs: 10_000 },
    });
    transport.failures = Infinity;
    await transport.last.lose();
    const first = track(producer.publish(1));
    const second = track(producer.publish(2));
    await assert.rejects(
      within(producer.publish(3), 500, "a publish past the limit"),
      (error: unknown) =>
        error instanceof LimitExceededError && /buffer is full/.test(error.message),
    );
    // The bytes limit: "12" (2 bytes of JSON) fits in 2 bytes, "3" more does not.
    const bytes = conn.producer({
      routingKey: "q",
      offlineBuffer: { maxMessages: 10, maxBytes: 2, maxWaitMs: 10_000 },
    });
    const small = track(bytes.publish(12));
    await assert.rejects(within(bytes.publish(3), 500, "past maxBytes"), LimitExceededError);
    transport.failures = 0;
    await within(Promise.all([first.result, second.result, small.result]), 2000, "held ones");
    // Order holds per producer (two buffers flush side by side).
    const bodies = await drain(conn);
    assert.deepEqual(bodies.filter((n) => n !== 12), [0, 1, 2]);
    assert.ok(bodies.includes(12));
    await conn.close();
  });

  it("rejects a publish held past maxWaitMs with a TimeoutError, and never sends it", async () => {
    const transport = new FlakyTransport();
    const { conn } = await setUp(transport);
    const producer = conn.producer({
      routingKey: "q",
      offlineBuffer: { maxMessages: 10, maxWaitMs: 50 },
    });
    transport.failures = Infinity;
    await transport.last.lose();
    await assert.rejects(
      within(producer.publish(1), 2000, "a held publish"),
      (error: unknown) =>
        error instanceof TimeoutError && /maxWaitMs \(50 ms\)/.test(error.message) &&
        error.cause instanceof ConnectionError,
    );
    transport.failures = 0;
    await producer.publish(2);
    assert.deepEqual(await drain(conn), [0, 2]);
    await conn.close();
  });

  it("rejects held publishes with a ConnectionError on producer.close() and on conn.close()", async () => {
    const transport = new FlakyTransport();
    const { conn } = await setUp(transport);
    const producer = conn.producer({
      routingKey: "q",
      offlineBuffer: { maxMessages: 10, maxWaitMs: 10_000 },
    });
    const other = conn.producer({
      routingKey: "q",
      offlineBuffer: { maxMessages: 10, maxWaitMs: 10_000 },
    });
    transport.failures = Infinity;
    await transport.last.lose();
    const held = producer.publish(1);
    const otherHeld = other.publish(2);
    producer.close();
    await assert.rejects(
      within(held, 500, "held on producer.close()"),
      (error: unknown) =>
        error instanceof ConnectionError && /producer was closed/.test(error.message),
    );
    await assert.rejects(producer.publish(3), ConnectionError);
    await conn.close();
    await assert.rejects(
      within(otherHeld, 500, "held on conn.close()"),
      (error: unknown) => error instanceof ConnectionError && /was closed/.test(error.message),
    );
    // After conn.close(), nothing is held: a publish rejects at once (here from a producer
    // whose buffer held nothing when the connection closed).
    const late = conn.producer({ offlineBuffer: { maxMessages: 10, maxWaitMs: 10_000 } });
    await assert.rejects(within(late.publish(4), 500, "after conn.close()"), ConnectionError);
  });

  it("resolves a held publish only once the channel confirms it, and rejects it on a nack", async () => {
    const gate = new ConfirmGate(new FlakyTransport());
    const { conn } = await setUp(gate);
    const producer = conn.producer({
      routingKey: "q",
      offlineBuffer: { maxMessages: 10, maxWaitMs: 10_000 },
    });
    gate.inner.failures = Infinity;
    await gate.inner.last.lose();
    const acked = track(producer.publish(1));
    const nacked = track(producer.publish(2));
    await until(() => gate.inner.attempts.length > 3, "reconnect attempts");
    gate.inner.failures = 0;
    // Both reach the channel after the reconnect; neither settles before its confirm.
    await until(() => gate.pending.length === 2, "the held publishes to reach the channel");
    assert.equal(acked.settled, false, "resolved before the confirm");
    assert.equal(nacked.settled, false, "settled before the nack");
    gate.pending[0].resolve();
    gate.pending[1].reject(new ChannelError("Cannot publish: nacked by the fake broker"));
    await within(acked.result, 500, "the confirmed publish");
    await assert.rejects(within(nacked.result, 500, "the nacked publish"), ChannelError);
    await conn.close();
  });

  it("needs a Connection and positive limits", () => {
    assert.throws(
      () =>
        new Producer(new RecordingChannel(), { offlineBuffer: { maxMessages: 1, maxWaitMs: 1 } }),
      ConfigurationError,
    );
    const conn = new Connection("memory://");
    for (
      const limits of [
        { maxMessages: 0, maxWaitMs: 1 },
        { maxMessages: 1, maxWaitMs: 0 },
        { maxMessages: 1, maxBytes: 0, maxWaitMs: 1 },
      ]
    ) {
      assert.throws(() => conn.producer({ offlineBuffer: limits }), ConfigurationError);
    }
  });
});

/**
 * A transport whose channels confirm only when the test says so (as a confirming AMQP channel:
 * the message is in the store, the publish settles on the broker's ack or nack).
 */
class ConfirmGate implements Transport {
  readonly name = "confirm-gate";
  readonly inner: FlakyTransport;
  readonly capabilities: Transport["capabilities"];
  readonly pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  constructor(inner: FlakyTransport) {
    this.inner = inner;
    this.capabilities = inner.capabilities;
  }

  async connect(params: ConnectionParams): Promise<TransportConnection> {
    const connection = await this.inner.connect(params);
    const createChannel = connection.createChannel.bind(connection);
    const { inner, pending } = this;
    connection.createChannel = async () => {
      const channel = await createChannel();
      return new Proxy(channel, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target);
          if (prop !== "basicPublish") {
            return typeof value === "function" ? value.bind(target) : value;
          }
          return async (...args: Parameters<Channel["basicPublish"]>) => {
            await target.basicPublish(...args);
            // Only what follows the recovery waits for a confirm (the setup publishes directly).
            if (inner.connections.length < 2) return;
            await new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
          };
        },
      });
    };
    return connection;
  }
}
