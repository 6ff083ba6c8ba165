import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { z } from "zod";
import type { StandardSchemaV1 as SpecSchema } from "@standard-schema/spec";
import { Connection } from "../../../src/connection.ts";
import { Exchange, Queue } from "../../../src/entity.ts";
import { ValidationError } from "../../../src/errors.ts";
import { setLogger } from "../../../src/logger.ts";
import type { Message } from "../../../src/message.ts";
import type { StandardSchemaV1 } from "../../../src/schema/mod.ts";

// Our copy of the interface and the spec's own accept each other's schemas.
const zodAsOurs: StandardSchemaV1<unknown, { n: number }> = z.object({ n: z.number() });
const specAsOurs = (s: SpecSchema<unknown, string>): StandardSchemaV1<unknown, string> => s;
const oursAsSpec = (s: StandardSchemaV1<unknown, string>): SpecSchema<unknown, string> => s;
void [zodAsOurs, specAsOurs, oursAsSpec];

const Video = z.object({ name: z.string(), seconds: z.number().int().positive() });
type Video = z.infer<typeof Video>;

function capture(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const push = (line: string) => lines.push(line);
  setLogger({ debug: push, info: push, warn: push, error: push }, { level: "info" });
  return { lines, restore: () => setLogger(null) };
}

describe("typed queues with Standard Schema", () => {
  it("zod: a Queue<T> types the consumer's bodies and payloads; bad payloads are rejected without requeue and logged", async () => {
    await using conn = new Connection("memory://");
    const media = new Exchange("media-z", { type: "direct" });
    const video = new Queue("video-z", { exchange: media, routingKey: "video", schema: Video });
    const log = capture();
    try {
      // An untyped producer (another service, Python) can publish anything.
      const loose = conn.producer();
      await loose.publish({ name: "ok.mp4", seconds: 3 }, {
        exchange: media,
        routingKey: "video",
        declare: [video],
      });
      await loose.publish({ name: "bad.mp4", seconds: -1 }, {
        exchange: media,
        routingKey: "video",
      });
      await loose.publish({ name: "also-ok.mp4", seconds: 5 }, {
        exchange: media,
        routingKey: "video",
      });
      const seen: Video[] = [];
      const payloads: Video[] = [];
      await using consumer = conn.consumer(video, {
        callbacks: [async (body, message) => {
          seen.push(body); // body: Video
          payloads.push(message.payload); // message.payload: Video
          await message.ack();
        }],
      });
      await consumer.consume();
      await conn.drainEvents({ timeout: 200 }).catch(() => undefined);
      await consumer.idle();
      assert.deepEqual(seen.map((v) => v.name), ["ok.mp4", "also-ok.mp4"]);
      assert.deepEqual(payloads, seen);
      const channel = await conn.channel();
      const left = await channel.queueDeclare({ name: "video-z", passive: true });
      assert.equal(left.messageCount, 0, "the invalid message was not requeued");
      const line = log.lines.find((l) => l.includes("rejecting it without requeue"));
      assert.ok(line, log.lines.join("\n"));
      assert.match(line, /ValidationError: Message \S+ failed zod validation: seconds: /);
    } finally {
      log.restore();
    }
  });

  it("zod: a Producer<T> validates before publishing and sends nothing on failure", async () => {
    await using conn = new Connection("memory://");
    const queue = new Queue("video-zp", { schema: Video });
    const producer = conn.producer({ schema: Video, routingKey: "video-zp" });
    await producer.publish({ name: "a.mp4", seconds: 1 }, { declare: [queue] });
    await assert.rejects(
      // @ts-expect-error: seconds must be a number
      producer.publish({ name: "b.mp4", seconds: "long" }),
      (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.equal(error.issues.length, 1);
        assert.deepEqual(error.issues[0].path, ["seconds"]);
        assert.match(error.message, /^Publish to "" failed zod validation: seconds: /);
        return true;
      },
    );
    const got = await queue.bind(await conn.defaultChannel()).get();
    assert.deepEqual(got?.payload, { name: "a.mp4", seconds: 1 });
    assert.equal(await queue.bind(await conn.defaultChannel()).get(), undefined);
  });

  it("valibot: transforms apply on consume, and for await yields typed, validated messages", async () => {
    await using conn = new Connection("memory://");
    const Order = v.object({
      id: v.string(),
      total: v.pipe(v.string(), v.transform(Number), v.number()),
    });
    const orders = new Queue("orders-v", { schema: Order });
    const producer = conn.producer();
    await producer.publish({ id: "o1", total: "12.5" }, {
      routingKey: "orders-v",
      declare: [orders],
    });
    await producer.publish({ id: 7 }, { routingKey: "orders-v" });
    await producer.publish({ id: "o2", total: "3" }, { routingKey: "orders-v" });
    const rejected: string[] = [];
    const consumer = conn.consumer(orders, {
      onDecodeError: async (message, error) => {
        assert.ok(error instanceof ValidationError);
        rejected.push(error.message);
        await message.reject({ requeue: false });
      },
    });
    const totals: number[] = [];
    for await (const message of consumer) {
      const order: { id: string; total: number } = message.payload;
      totals.push(order.total);
      await message.ack();
      if (totals.length === 2) break;
    }
    assert.deepEqual(totals, [12.5, 3]);
    assert.equal(rejected.length, 1);
    assert.match(rejected[0], /failed valibot validation: id: /);
  });

  it("an async schema works on publish and consume; a consumer's own schema wins over the queue's", async () => {
    await using conn = new Connection("memory://");
    const slowEven: StandardSchemaV1<unknown, number> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (value) =>
          Promise.resolve(
            typeof value === "number" && value % 2 === 0
              ? { value }
              : { issues: [{ message: "not even" }] },
          ),
      },
    };
    const queue = new Queue("even-a", {
      schema: Video as unknown as StandardSchemaV1<unknown, number>,
    });
    const producer = conn.producer({ schema: slowEven, routingKey: "even-a" });
    await producer.publish(2, { declare: [queue] });
    await assert.rejects(producer.publish(3), /failed test validation: not even/);
    await conn.producer().publish(5, { routingKey: "even-a" });
    const seen: number[] = [];
    const errors: unknown[] = [];
    await using consumer = conn.consumer(queue, {
      schema: slowEven,
      callbacks: [async (body: number, message: Message<number>) => {
        seen.push(body);
        await message.ack();
      }],
      onDecodeError: async (message, error) => {
        errors.push(error);
        await message.reject({ requeue: false });
      },
    });
    await consumer.consume();
    await conn.drainEvents({ timeout: 200 }).catch(() => undefined);
    await consumer.idle();
    assert.deepEqual(seen, [2]);
    assert.equal(errors.length, 1);
  });

  it("queues with different schemas need the consumer's own", async () => {
    await using conn = new Connection("memory://");
    const a = new Queue<unknown>("sa", { schema: Video });
    const b = new Queue<unknown>("sb", { schema: z.string() });
    assert.throws(() => conn.consumer([a, b]), /different schemas/);
  });
});
