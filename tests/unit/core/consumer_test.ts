import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Connection } from "../../../src/connection.ts";
import { Consumer } from "../../../src/consumer.ts";
import { Queue } from "../../../src/entity.ts";
import { ContentDisallowedError, DecodeError, TimeoutError } from "../../../src/errors.ts";
import type { Message } from "../../../src/message.ts";
import type { Channel } from "../../../src/transport.ts";
import { RecordingChannel, uniqueVhost, until } from "./_fakes.ts";
import { bodyText } from "../../../mod.ts";

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Number of ready messages in a queue, asked of the broker. */
async function size(channel: Channel, queue: string): Promise<number> {
  return (await channel.queueDeclare({ name: queue, passive: true })).messageCount;
}

function memory(): Connection {
  return new Connection(`memory:///${uniqueVhost("consumer")}`);
}

describe("Consumer on a recording channel", () => {
  it("declares, then consumes each queue with its own tag", async () => {
    const channel = new RecordingChannel();
    const consumer = new Consumer(channel, ["a", new Queue("b", { noAck: true })], {
      tagPrefix: "t-",
    });
    await consumer.consume();
    await consumer.consume(); // a second call changes nothing
    assert.deepEqual(channel.methods(), [
      "queueDeclare",
      "queueDeclare",
      "basicConsume",
      "basicConsume",
    ]);
    assert.deepEqual(channel.calls[2].args, ["a", {
      consumerTag: "t-0",
      noAck: false,
      exclusive: false,
      arguments: undefined,
    }]);
    assert.deepEqual(channel.calls[3].args[1], {
      consumerTag: "t-1",
      noAck: true,
      exclusive: false,
      arguments: undefined,
    });
    assert.deepEqual([...consumer.consumerTags], [["a", "t-0"], ["b", "t-1"]]);
    assert.equal(consumer.consuming, true);
    await consumer.cancel();
    assert.equal(consumer.consuming, false);
    assert.deepEqual(channel.methods().slice(4), ["basicCancel", "basicCancel"]);
  });

  it("awaits callbacks in order, message after message", async () => {
    const channel = new RecordingChannel();
    const events: string[] = [];
    const consumer = new Consumer(channel, ["q"], {
      autoDeclare: false,
      callbacks: [
        async (body) => {
          events.push(`first ${(body as { n: number }).n} start`);
          await tick();
          events.push(`first ${(body as { n: number }).n} end`);
        },
        (body) => void events.push(`second ${(body as { n: number }).n}`),
      ],
    });
    await consumer.consume();
    for (let n = 1; n <= 3; n++) channel.deliver("q", { body: encode({ n }) });
    await consumer.idle();
    assert.deepEqual(events, [
      "first 1 start",
      "first 1 end",
      "second 1",
      "first 2 start",
      "first 2 end",
      "second 2",
      "first 3 start",
      "first 3 end",
      "second 3",
    ]);
  });

  it("keeps going when a callback throws or rejects, and reports it to onError", async () => {
    const channel = new RecordingChannel();
    const seen: number[] = [];
    const errors: string[] = [];
    const consumer = new Consumer(channel, ["q"], {
      autoDeclare: false,
      onError: (error, message) =>
        errors.push(`${(error as Error).message} @${message?.deliveryTag}`),
      callbacks: [
        (body) => {
          if ((body as { n: number }).n === 1) throw new Error("sync boom");
        },
        async (body) => {
          await tick();
          if ((body as { n: number }).n === 2) throw new Error("async boom");
        },
        (body) => void seen.push((body as { n: number }).n),
      ],
    });
    await consumer.consume();
    channel.deliver("q", { body: encode({ n: 1 }), deliveryTag: 101 });
    channel.deliver("q", { body: encode({ n: 2 }), deliveryTag: 102 });
    channel.deliver("q", { body: encode({ n: 3 }), deliveryTag: 103 });
    await consumer.idle();
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual(errors, ["sync boom @101", "async boom @102"]);
  });

  it("survives an onError hook that throws too", async () => {
    const channel = new RecordingChannel();
    const seen: number[] = [];
    const consumer = new Consumer(channel, ["q"], {
      autoDeclare: false,
      onError: () => {
        throw new Error("hook failed");
      },
      callbacks: [(body) => {
        seen.push((body as { n: number }).n);
        throw new Error("boom");
      }],
    });
    await consumer.consume();
    channel.deliver("q", { body: encode({ n: 1 }) });
    channel.deliver("q", { body: encode({ n: 2 }) });
    await consumer.idle();
    assert.deepEqual(seen, [1, 2]);
  });

  it("rejects undecodable messages without requeue by default, and never calls callbacks for them", async () => {
    const channel = new RecordingChannel();
    const seen: unknown[] = [];
    const consumer = new Consumer(channel, ["q"], {
      autoDeclare: false,
      callbacks: [(b) => void seen.push(b)],
    });
    await consumer.consume();
    channel.deliver("q", {
      body: new TextEncoder().encode("{broken"),
      properties: { contentType: "application/json" },
      deliveryTag: 1,
    });
    channel.deliver("q", {
      body: new Uint8Array([0x80, 0x04]),
      properties: { contentType: "application/x-python-serialize" },
      deliveryTag: 2,
    });
    channel.deliver("q", {
      body: encode("fine"),
      properties: { contentType: "application/json" },
      deliveryTag: 3,
    });
    await consumer.idle();
    assert.deepEqual(seen, ["fine"]);
    assert.deepEqual(channel.calls.filter((c) => c.method === "basicReject").map((c) => c.args), [[
      1,
      false,
    ], [2, false]]);
  });

  it("hands decode failures to onDecodeError instead, when given", async () => {
    const channel = new RecordingChannel();
    const failures: Array<[number | string, string]> = [];
    const consumer = new Consumer(channel, ["q"], {
      autoDeclare: false,
      accept: ["json"],
      onDecodeError: (message, error) =>
        void failures.push([message.deliveryTag, (error as Error).name]),
    });
    await consumer.consume();
    channel.deliver("q", {
      body: new TextEncoder().encode("{x"),
      properties: { contentType: "application/json" },
      deliveryTag: 5,
    });
    channel.deliver("q", {
      body: new TextEncoder().encode("a: 1"),
      properties: { contentType: "application/x-yaml" },
      deliveryTag: 6,
    });
    await consumer.idle();
    assert.deepEqual(failures, [[5, DecodeError.name], [6, ContentDisallowedError.name]]);
    assert.equal(channel.calls.filter((c) => c.method === "basicReject").length, 0);
  });

  it("accepts what the accept list names, by serializer name or MIME type", async () => {
    for (const accept of [["yaml"], ["application/x-yaml"]]) {
      const channel = new RecordingChannel();
      const seen: unknown[] = [];
      const consumer = new Consumer(channel, ["q"], {
        autoDeclare: false,
        accept,
        callbacks: [(b) => void seen.push(b)],
      });
      await consumer.consume();
      channel.deliver("q", {
        body: new TextEncoder().encode("a: 1\n"),
        properties: { contentType: "application/x-yaml", contentEncoding: "utf-8" },
      });
      channel.deliver("q", {
        body: encode(1),
        properties: { contentType: "application/json" },
        deliveryTag: 9,
      });
      await consumer.idle();
      assert.deepEqual(seen, [{ a: 1 }], `accept ${accept}`);
      assert.deepEqual(channel.calls.filter((c) => c.method === "basicReject").map((c) => c.args), [
        [9, false],
      ]);
    }
  });

  it("passes undecoded messages to onMessage, awaited in order", async () => {
    const channel = new RecordingChannel();
    const order: string[] = [];
    const consumer = new Consumer(channel, ["q"], {
      autoDeclare: false,
      onMessage: async (message: Message) => {
        order.push(`in ${message.deliveryTag}`);
        assert.throws(() => message.payload);
        await tick();
        order.push(`out ${message.deliveryTag}`);
      },
    });
    await consumer.consume();
    channel.deliver("q", { body: encode(1), deliveryTag: 1 });
    channel.deliver("q", { body: encode(2), deliveryTag: 2 });
    await consumer.idle();
    assert.deepEqual(order, ["in 1", "out 1", "in 2", "out 2"]);
  });

  it("makes no-ack consumers whose messages need no channel call", async () => {
    const channel = new RecordingChannel();
    const consumer = new Consumer(channel, ["q"], {
      autoDeclare: false,
      noAck: true,
      callbacks: [async (_b, message) => await message.ack()],
    });
    await consumer.consume();
    assert.equal((channel.calls[0].args[1] as { noAck: boolean }).noAck, true);
    channel.deliver("q", { body: encode(1) });
    await consumer.idle();
    assert.deepEqual(channel.methods(), ["basicConsume"]);
  });

  it("sets QoS and recovers through the channel", async () => {
    const channel = new RecordingChannel();
    const consumer = new Consumer(channel, ["q"], { autoDeclare: false, prefetchCount: 4 });
    await consumer.consume();
    await consumer.qos({ prefetchCount: 1 });
    await consumer.recover();
    assert.deepEqual(channel.calls.map((c) => [c.method, c.args[0]]), [
      ["basicQos", { prefetchCount: 4 }],
      ["basicConsume", "q"],
      ["basicQos", { prefetchCount: 1 }],
      ["basicRecover", true],
    ]);
  });

  it("on break, requeues a message that arrives while the consumer is being cancelled", async () => {
    const channel = new RecordingChannel();
    const consumer = new Consumer(channel, ["q"], { autoDeclare: false });
    channel.onCancel = () => channel.deliver("q", { body: encode("late"), deliveryTag: 77 });
    const iterating = (async () => {
      for await (const message of consumer) {
        await message.ack();
        break;
      }
    })();
    await until(() => channel.consumers.size === 1, "the consumer");
    channel.deliver("q", { body: encode("first"), deliveryTag: 76 });
    await iterating;
    const cancelled = channel.calls.find((c) => c.method === "basicCancel");
    assert.ok(cancelled);
    assert.deepEqual(
      channel.calls.filter((c) => c.method !== "basicConsume").map((c) => [c.method, ...c.args]),
      [["basicAck", 76, false], ["basicCancel", cancelled.args[0]], ["basicReject", 77, true]],
    );
  });
});

describe("Consumer on memory://", () => {
  it("iterates decoded messages; break cancels and requeues the ones received but not yielded", async () => {
    await using conn = memory();
    const producer = conn.producer();
    const queue = new Queue("it-q");
    for (let n = 0; n < 5; n++) {
      await producer.publish({ n }, { routingKey: "it-q", declare: [queue] });
    }
    const consumer = conn.consumer([queue]);
    const got: unknown[] = [];
    for await (const message of consumer) {
      got.push(message.payload);
      await message.ack();
      break;
    }
    assert.deepEqual(got, [{ n: 0 }]);
    assert.equal(consumer.consuming, false);
    assert.equal(consumer.consumerTags.size, 0);
    const channel = await conn.channel();
    const left: number[] = [];
    for (let i = 0; i < 10; i++) {
      const d = await channel.basicGet("it-q", { noAck: true });
      if (!d) break;
      left.push((JSON.parse(bodyText(d.body)) as { n: number }).n);
    }
    assert.deepEqual(left.sort(), [1, 2, 3, 4]);
  });

  it("ends a for-await loop when the consumer is cancelled elsewhere, requeueing its buffer", async () => {
    await using conn = memory();
    const consumer = conn.consumer(["ending-q"], { prefetchCount: 0 });
    const producer = conn.producer();
    const got: unknown[] = [];
    let firstSeen!: () => void;
    const seen = new Promise<void>((resolve) => (firstSeen = resolve));
    const iterating = (async () => {
      for await (const message of consumer) {
        got.push(message.payload);
        await message.ack();
        firstSeen();
        await new Promise((resolve) => setTimeout(resolve, 20)); // more arrive meanwhile
      }
    })();
    await until(() => consumer.consumerTags.size === 1, "consuming");
    for (let n = 0; n < 3; n++) await producer.publish(n, { routingKey: "ending-q" });
    await seen;
    await consumer.cancel();
    await iterating; // the loop ended instead of waiting forever
    assert.deepEqual(got, [0]);
    const channel = await conn.channel();
    assert.equal(await size(channel, "ending-q"), 2);
  });

  it("skips undecodable messages in for-await, rejecting them", async () => {
    await using conn = memory();
    const producer = conn.producer();
    await producer.publish("{bad", {
      routingKey: "iter-bad",
      contentType: "application/json",
      declare: [new Queue("iter-bad")],
    });
    await producer.publish({ good: 1 }, { routingKey: "iter-bad" });
    const got: unknown[] = [];
    for await (const message of conn.consumer(["iter-bad"])) {
      got.push(message.payload);
      await message.ack();
      break;
    }
    assert.deepEqual(got, [{ good: 1 }]);
    const channel = await conn.channel();
    assert.equal(await size(channel, "iter-bad"), 0); // the bad one was dropped, not requeued
  });

  it("drainEvents counts a message handled before the call, once", async () => {
    await using conn = memory();
    let handled = 0;
    const consumer = conn.consumer(["early-q"], {
      callbacks: [async (_b, m) => {
        handled++;
        await m.ack();
      }],
    });
    await consumer.consume();
    await conn.producer().publish(1, { routingKey: "early-q" });
    await until(() => handled === 1, "the callback");
    await conn.drainEvents({ timeout: 10 }); // resolves: the message came before the call
    await assert.rejects(conn.drainEvents({ timeout: 10 }), TimeoutError);
    await consumer.cancel();
  });

  it("never holds more unacked messages than prefetchCount", async () => {
    await using conn = memory();
    const held: Message[] = [];
    const consumer = conn.consumer(["pf-q"], {
      prefetchCount: 2,
      callbacks: [(_b, m) => void held.push(m)],
    });
    await consumer.consume();
    const producer = conn.producer();
    for (let n = 0; n < 5; n++) await producer.publish({ n }, { routingKey: "pf-q" });
    await until(() => held.length === 2, "two deliveries");
    const channel = await conn.channel();
    assert.equal(await size(channel, "pf-q"), 3);
    await held[0].ack();
    await until(() => held.length === 3, "a third delivery");
    assert.equal(await size(channel, "pf-q"), 2);
    assert.equal(held.length, 3);
    await consumer.cancel();
  });

  it("cancelByQueue stops one queue, addQueue starts another while consuming", async () => {
    await using conn = memory();
    const seen: string[] = [];
    const consumer = conn.consumer(["qa", "qb"], {
      callbacks: [async (body, m) => {
        seen.push(body as string);
        await m.ack();
      }],
    });
    await consumer.consume();
    await consumer.cancelByQueue("qa");
    assert.deepEqual(consumer.queues.map((q) => q.name), ["qb"]);
    assert.deepEqual([...consumer.consumerTags.keys()], ["qb"]);
    await consumer.addQueue("qc");
    const producer = conn.producer();
    await producer.publish("to-a", { routingKey: "qa" });
    await producer.publish("to-b", { routingKey: "qb" });
    await producer.publish("to-c", { routingKey: "qc" });
    await until(() => seen.length === 2, "qb and qc");
    assert.deepEqual(seen.sort(), ["to-b", "to-c"]);
    const channel = await conn.channel();
    const left = await channel.basicGet("qa", { noAck: true });
    assert.equal(bodyText(left!.body), "to-a");
    await consumer.cancel();
  });

  it("drainEvents resolves after a message, times out with TimeoutError, and stops on abort", async () => {
    await using conn = memory();
    const seen: unknown[] = [];
    const consumer = conn.consumer(["drain-q"], {
      callbacks: [async (b, m) => {
        seen.push(b);
        await m.ack();
      }],
    });
    await consumer.consume();
    await assert.rejects(conn.drainEvents({ timeout: 10 }), TimeoutError);
    const controller = new AbortController();
    const aborted = conn.drainEvents({ signal: controller.signal });
    controller.abort(new Error("enough"));
    await assert.rejects(aborted, /enough/);
    await assert.rejects(
      conn.drainEvents({ signal: AbortSignal.abort(new Error("already")) }),
      /already/,
    );
    await conn.producer().publish({ x: 1 }, { routingKey: "drain-q" });
    await conn.drainEvents({ timeout: 1000 });
    assert.deepEqual(seen, [{ x: 1 }]);
    await consumer.cancel();
  });
});

describe("Consumer on memory:// (property)", () => {
  it("acks every message once, whatever mix of requeues, rejects and prefetch", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.constantFrom("ack", "requeue", "reject"), { minLength: 1, maxLength: 30 }),
        async (count, prefetchCount, decisions) => {
          await using conn = memory();
          const acked: number[] = [];
          const dropped: number[] = [];
          const requeued = new Set<number>();
          const notRedelivered: number[] = [];
          let turn = 0;
          const consumer = conn.consumer(["prop-q"], {
            prefetchCount,
            callbacks: [async (body, message) => {
              const n = body as number;
              // Recorded, not asserted: the consumer catches what a callback throws.
              if (requeued.has(n) && !message.deliveryInfo.redelivered) notRedelivered.push(n);
              const decision = decisions[turn++ % decisions.length];
              // Bounded: after 40 deliveries everything is acked.
              if (decision === "ack" || turn > 40) {
                acked.push(n);
                await message.ack();
              } else if (decision === "requeue") {
                requeued.add(n);
                await message.requeue();
              } else {
                dropped.push(n);
                await message.reject();
              }
            }],
          });
          await consumer.consume();
          const producer = conn.producer();
          for (let n = 0; n < count; n++) await producer.publish(n, { routingKey: "prop-q" });
          await until(() => acked.length + dropped.length === count, "every message settled");
          const all = [...acked, ...dropped].sort((a, b) => a - b);
          assert.deepEqual(all, Array.from({ length: count }, (_, i) => i));
          assert.deepEqual(notRedelivered, []);
          const channel = await conn.channel();
          assert.equal(await size(channel, "prop-q"), 0);
          await consumer.cancel();
        },
      ),
      { numRuns: 40 },
    );
  });
});
