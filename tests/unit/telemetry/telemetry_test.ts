import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { Exchange, Queue } from "../../../src/entity.ts";
import { instrument, uninstrument } from "../../../src/telemetry/mod.ts";
import { testOtel } from "./_otel.ts";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

describe("OpenTelemetry on memory://", () => {
  const otel = testOtel();
  before(() => instrument(otel.api));
  after(() => uninstrument());

  it("injects traceparent on publish; receive and process spans continue the publisher's trace", async () => {
    await using conn = new Connection("memory://");
    const media = new Exchange("otel-media", { type: "direct" });
    const video = new Queue("otel-video", { exchange: media, routingKey: "video" });
    await conn.producer().publish({ n: 1 }, {
      exchange: media,
      routingKey: "video",
      declare: [video],
      headers: { mine: "kept" },
    });
    const headers: Record<string, unknown>[] = [];
    await using consumer = conn.consumer(video, {
      callbacks: [async (_body, message) => {
        headers.push(message.headers);
        await message.ack();
      }],
    });
    await consumer.consume();
    await conn.drainEvents({ timeout: 200 }).catch(() => undefined);
    await consumer.idle();

    const spans = otel.spans();
    const publish = spans.find((s) => s.name === "publish otel-media")!;
    const receive = spans.find((s) => s.name === "receive otel-media")!;
    const process = spans.find((s) => s.name === "process otel-media")!;
    assert.ok(publish && receive && process, spans.map((s) => s.name).join(", "));
    assert.equal(publish.kind, 3); // PRODUCER
    assert.equal(process.kind, 4); // CONSUMER
    assert.deepEqual(publish.attributes, {
      "messaging.system": "memory",
      "messaging.operation.name": "publish",
      "messaging.operation.type": "send",
      "messaging.destination.name": "otel-media",
      "messaging.rabbitmq.destination.routing_key": "video",
    });
    assert.equal(process.attributes["messaging.operation.type"], "process");
    assert.equal(receive.attributes["messaging.operation.type"], "receive");
    const [, traceId, spanId] = TRACEPARENT.exec(String(headers[0].traceparent))!;
    assert.equal(headers[0].mine, "kept");
    assert.equal(traceId, publish.spanContext().traceId);
    assert.equal(spanId, publish.spanContext().spanId);
    for (const span of [receive, process]) {
      assert.equal(span.spanContext().traceId, traceId);
      assert.equal(span.parentSpanId, spanId);
    }
  });

  it("counts published, delivered, acked, rejected, redelivered and in-flight messages", async () => {
    await using conn = new Connection("memory://");
    const before = await otel.metrics();
    const queue = new Queue("otel-metrics");
    const producer = conn.producer();
    for (let i = 0; i < 3; i++) {
      await producer.publish(i, { routingKey: queue.name, declare: [queue] });
    }
    let requeued = false;
    const inFlight: number[] = [];
    await using consumer = conn.consumer(queue, {
      callbacks: [async (body, message) => {
        inFlight.push((await otel.metrics())["wakame.messages.in_flight"] ?? 0);
        if (body === 0) await message.ack();
        else if (body === 1 && !requeued) {
          requeued = true;
          await message.requeue();
        } else if (body === 1) await message.ack();
        else await message.reject();
      }],
    });
    await consumer.consume();
    await conn.drainEvents({ timeout: 200 }).catch(() => undefined);
    await consumer.idle();
    const after = await otel.metrics();
    const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
    assert.equal(delta("wakame.messages.published"), 3);
    assert.equal(delta("messaging.client.sent.messages"), 3);
    assert.equal(delta("wakame.messages.delivered"), 4);
    assert.equal(delta("messaging.client.consumed.messages"), 4);
    assert.equal(delta("wakame.messages.acked"), 2);
    assert.equal(delta("wakame.messages.rejected"), 2); // one requeue, one reject
    assert.equal(delta("wakame.messages.redelivered"), 1);
    assert.equal(after["wakame.messages.in_flight"], 0);
    assert.ok(inFlight.every((n) => n >= 1), `in flight while processing: ${inFlight}`);
  });

  it("a failing publish ends its span with an error status", async () => {
    await using conn = new Connection("memory://");
    await assert.rejects(conn.producer().publish(1n as unknown, { routingKey: "x" }));
    const span = otel.spans().at(-1)!;
    assert.equal(span.name, "publish amq.default");
    assert.equal(span.status.code, 2);
  });

  it("uninstrument() stops it: no header, no span", async () => {
    uninstrument();
    try {
      await using conn = new Connection("memory://");
      const count = otel.spans().length;
      const queue = new Queue("otel-off");
      await conn.producer().publish(1, { routingKey: queue.name, declare: [queue] });
      const got = await queue.bind(await conn.defaultChannel()).get();
      assert.equal(got?.headers.traceparent, undefined);
      assert.equal(otel.spans().length, count);
    } finally {
      instrument(otel.api);
    }
  });
});
