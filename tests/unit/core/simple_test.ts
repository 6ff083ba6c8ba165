import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { Exchange, Queue } from "../../../src/entity.ts";
import { ContentDisallowedError, DecodeError, TimeoutError } from "../../../src/errors.ts";
import { EmptyError } from "../../../src/simple.ts";
import { uniqueVhost } from "./_fakes.ts";

function memory(): Connection {
  return new Connection(`memory:///${uniqueVhost("simple")}`);
}

const bounded = { timeout: 5000 };

describe("SimpleQueue", () => {
  it("puts and gets decoded messages in order", bounded, async () => {
    await using conn = memory();
    await using queue = conn.simpleQueue("sq");
    await queue.put({ n: 1 });
    await queue.put({ n: 2 }, { headers: { h: "v" } });
    const first = await queue.get({ timeout: 1000 });
    assert.deepEqual(first.payload, { n: 1 });
    await first.ack();
    const second = await queue.get({ timeout: 1000 });
    assert.deepEqual(second.payload, { n: 2 });
    assert.deepEqual(second.headers, { h: "v" });
    await second.ack();
  });

  it("get times out with EmptyError, a TimeoutError", bounded, async () => {
    await using conn = memory();
    await using queue = conn.simpleQueue("empty");
    await assert.rejects(queue.get({ timeout: 10 }), (error: unknown) => {
      assert.ok(error instanceof EmptyError);
      assert.ok(error instanceof TimeoutError);
      return true;
    });
  });

  it("getNowait and get({ block: false }) answer at once", bounded, async () => {
    await using conn = memory();
    await using queue = conn.simpleQueue("nowait");
    await assert.rejects(queue.getNowait(), EmptyError);
    await assert.rejects(queue.get({ block: false }), EmptyError);
    await queue.put("x");
    const message = await queue.getNowait();
    assert.equal(message.payload, "x");
    await message.ack();
    await assert.rejects(queue.getNowait(), EmptyError);
  });

  it("counts with qsize and empties with clear", bounded, async () => {
    await using conn = memory();
    await using queue = conn.simpleQueue("sizes");
    assert.equal(await queue.qsize(), 0);
    for (let n = 0; n < 3; n++) await queue.put(n);
    assert.equal(await queue.qsize(), 3);
    assert.equal(await queue.clear(), 3);
    assert.equal(await queue.qsize(), 0);
  });

  it("stops a get on abort", bounded, async () => {
    await using conn = memory();
    await using queue = conn.simpleQueue("abort");
    const controller = new AbortController();
    const waiting = queue.get({ signal: controller.signal });
    controller.abort(new Error("no more"));
    await assert.rejects(waiting, /no more/);
  });

  it("ends a waiting get when the queue is closed", bounded, async () => {
    await using conn = memory();
    const queue = conn.simpleQueue("closing");
    const waiting = queue.get();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await queue.close();
    await assert.rejects(waiting, TimeoutError);
    await assert.rejects(queue.put(1));
  });

  it("serves two waiting gets", bounded, async () => {
    await using conn = memory();
    await using queue = conn.simpleQueue("two-gets");
    const a = queue.get({ timeout: 30_000 });
    const b = queue.get({ timeout: 30_000 });
    await queue.put("one");
    await queue.put("two");
    const first = await Promise.race([a, b]);
    await first.ack(); // prefetch 1: the second arrives once the first is acked
    const both = await Promise.all([a, b]);
    assert.deepEqual(both.map((m) => m.payload).sort(), ["one", "two"]);
    for (const m of both) if (!m.acknowledged) await m.ack();
  });

  it("gives unacked messages back on close, marked redelivered", bounded, async () => {
    await using conn = memory();
    const first = conn.simpleQueue("back");
    await first.put("keep me");
    const message = await first.get({ timeout: 1000 });
    assert.equal(message.deliveryInfo.redelivered, false);
    await first.close();
    await using again = conn.simpleQueue("back");
    const redelivered = await again.get({ timeout: 1000 });
    assert.equal(redelivered.payload, "keep me");
    assert.equal(redelivered.deliveryInfo.redelivered, true);
    await redelivered.ack();
  });

  it("uses the serializer option, and a Queue given as is", bounded, async () => {
    await using conn = memory();
    await using typed = conn.simpleQueue("typed", { serializer: "json" });
    await typed.put("text as json");
    const m = await typed.get({ timeout: 1000 });
    assert.equal(m.contentType, "application/json");
    await m.ack();
    const q = new Queue("given", { exchange: new Exchange("given-x"), routingKey: "rk" });
    await using given = conn.simpleQueue(q);
    assert.equal(given.queue, q);
    await given.put({ ok: true });
    const g = await given.get({ timeout: 1000 });
    assert.deepEqual(g.payload, { ok: true });
    assert.equal(g.deliveryInfo.exchange, "given-x");
    assert.equal(g.deliveryInfo.routingKey, "rk");
    await g.ack();
  });
});

describe("SimpleQueue with undecodable messages", () => {
  it("rejects an undecodable message and goes on with the next one", bounded, async () => {
    await using conn = memory();
    await using queue = conn.simpleQueue("bad-body");
    await queue.put("{not json", { contentType: "application/json" });
    await queue.put({ fine: true });
    await assert.rejects(queue.get({ timeout: 1000 }), DecodeError);
    const next = await queue.get({ timeout: 1000 });
    assert.deepEqual(next.payload, { fine: true });
    await next.ack();
    assert.equal(await queue.qsize(), 0); // the bad one was dropped, not requeued
  });

  it(
    "refuses pickle with ContentDisallowedError, then serves the next message",
    bounded,
    async () => {
      await using conn = memory();
      await using queue = conn.simpleQueue("pickled");
      await queue.put(new Uint8Array([0x80, 0x04, 0x95]), {
        contentType: "application/x-python-serialize",
      });
      await queue.put("plain");
      await assert.rejects(queue.getNowait(), ContentDisallowedError);
      const next = await queue.get({ timeout: 1000 });
      assert.equal(next.payload, "plain");
      await next.ack();
    },
  );
});

describe("SimpleBuffer", () => {
  it("is transient, auto-delete and needs no acks", bounded, async () => {
    await using conn = memory();
    await using buffer = conn.simpleBuffer("buf");
    assert.equal(buffer.noAck, true);
    assert.equal(buffer.queue.durable, false);
    assert.equal(buffer.queue.autoDelete, true);
    assert.equal(buffer.exchange.deliveryMode, 1);
    await buffer.put({ n: 1 });
    await buffer.put({ n: 2 });
    const a = await buffer.get({ timeout: 1000 });
    const b = await buffer.get({ timeout: 1000 }); // no ack needed for the next one
    assert.deepEqual([a.payload, b.payload], [{ n: 1 }, { n: 2 }]);
    assert.equal(a.properties.deliveryMode, 1);
    await assert.rejects(buffer.get({ timeout: 10 }), EmptyError);
  });
});
