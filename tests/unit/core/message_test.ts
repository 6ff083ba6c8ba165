import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compress } from "../../../src/compression.ts";
import { ContentDisallowedError, DecodeError, MessageStateError } from "../../../src/errors.ts";
import { Message } from "../../../src/message.ts";
import { serializers } from "../../../src/serialization.ts";
import type { Delivery } from "../../../src/transport.ts";
import { jsonDelivery, RecordingChannel } from "./_fakes.ts";

function received(
  extra: Partial<Delivery> = {},
  options: { noAck?: boolean; accept?: readonly string[] } = {},
) {
  const channel = new RecordingChannel();
  const message = new Message(channel, jsonDelivery({ n: 1 }, { deliveryTag: 7, ...extra }), {
    noAck: options.noAck,
    accept: options.accept ? serializers.prepareAccept(options.accept) : undefined,
  });
  return { channel, message };
}

describe("Message: ack / reject / requeue", () => {
  it("acks once; any second settlement throws MessageStateError", async () => {
    const { channel, message } = received();
    assert.equal(message.state, "RECEIVED");
    assert.equal(message.acknowledged, false);
    await message.ack();
    assert.equal(message.state, "ACK");
    assert.equal(message.acknowledged, true);
    for (const again of [() => message.ack(), () => message.reject(), () => message.requeue()]) {
      await assert.rejects(again(), (error: unknown) => {
        assert.ok(error instanceof MessageStateError);
        assert.match((error as Error).message, /already ack/);
        return true;
      });
    }
    assert.deepEqual(channel.calls, [{ method: "basicAck", args: [7, false] }]);
  });

  it("rejects without requeue, or requeues", async () => {
    const a = received();
    await a.message.reject();
    assert.equal(a.message.state, "REJECTED");
    await assert.rejects(a.message.ack(), MessageStateError);
    const b = received();
    await b.message.requeue();
    assert.equal(b.message.state, "REQUEUED");
    await assert.rejects(b.message.reject({ requeue: true }), MessageStateError);
    const c = received();
    await c.message.reject({ requeue: true });
    assert.equal(c.message.state, "REQUEUED");
    assert.deepEqual(a.channel.calls, [{ method: "basicReject", args: [7, false] }]);
    assert.deepEqual(b.channel.calls, [{ method: "basicReject", args: [7, true] }]);
    assert.deepEqual(c.channel.calls, [{ method: "basicReject", args: [7, true] }]);
  });

  it("passes ack's multiple flag on", async () => {
    const { channel, message } = received();
    await message.ack({ multiple: true });
    assert.deepEqual(channel.calls, [{ method: "basicAck", args: [7, true] }]);
  });

  it("refuses to ack on a closed channel and stays unsettled", async () => {
    const { channel, message } = received();
    await channel.close();
    await assert.rejects(message.ack(), (error: unknown) => {
      assert.ok(error instanceof MessageStateError);
      assert.match((error as Error).message, /closed/);
      return true;
    });
    await assert.rejects(message.reject(), MessageStateError);
    assert.equal(message.state, "RECEIVED");
    assert.equal(message.acknowledged, false);
  });

  it("settles no-ack messages locally, still only once", async () => {
    const { channel, message } = received({}, { noAck: true });
    await channel.close(); // a no-ack message needs no channel
    await message.ack();
    assert.equal(message.state, "ACK");
    await assert.rejects(message.ack(), MessageStateError);
    assert.deepEqual(channel.calls, []);
  });

  it("ackIfPending acks once and then does nothing", async () => {
    const { channel, message } = received();
    await message.ackIfPending();
    await message.ackIfPending();
    assert.equal(channel.calls.length, 1);
  });
});

describe("Message: decoding", () => {
  it("decodes once and exposes the payload only after decode()", async () => {
    const { message } = received();
    assert.throws(() => message.payload, MessageStateError);
    assert.deepEqual(await message.decode(), { n: 1 });
    assert.deepEqual(message.payload, { n: 1 });
    assert.equal(await message.decode(), message.payload);
    assert.deepEqual(received().message.decodeNow(), { n: 1 });
  });

  it("decompresses by the compression header", async () => {
    const body = new TextEncoder().encode(JSON.stringify({ big: "y".repeat(300) }));
    const packed = await compress(body, "zlib");
    const { message } = received({
      body: packed.body,
      properties: {
        contentType: "application/json",
        contentEncoding: "utf-8",
        headers: { compression: packed.contentType },
      },
    });
    assert.equal(message.compression, "application/x-gzip");
    const pending = message.decodeNow();
    assert.ok(pending instanceof Promise);
    assert.deepEqual(await pending, { big: "y".repeat(300) });
  });

  it("never decodes pickle, even when accepted, and refuses types outside the accept list", async () => {
    const pickle = received({
      body: new Uint8Array([0x80, 0x04, 0x95]),
      properties: { contentType: "application/x-python-serialize", contentEncoding: "binary" },
    }, { accept: ["pickle", "json"] });
    await assert.rejects(pickle.message.decode(), ContentDisallowedError);
    const yaml = received({
      body: new TextEncoder().encode("a: 1\n"),
      properties: { contentType: "application/x-yaml", contentEncoding: "utf-8" },
    });
    await assert.rejects(yaml.message.decode(), ContentDisallowedError);
    const accepted = received({
      body: new TextEncoder().encode("a: 1\n"),
      properties: { contentType: "application/x-yaml", contentEncoding: "utf-8" },
    }, { accept: ["yaml"] });
    assert.deepEqual(await accepted.message.decode(), { a: 1 });
  });

  it("accepts by MIME type as well as by serializer name", async () => {
    const byType = received({}, { accept: ["application/json"] });
    assert.deepEqual(await byType.message.decode(), { n: 1 });
    const other = received({}, { accept: ["text/plain"] });
    await assert.rejects(other.message.decode(), ContentDisallowedError);
  });

  it("throws DecodeError for a body that is not what it says", async () => {
    const { message } = received({ body: new TextEncoder().encode("{not json") });
    await assert.rejects(message.decode(), DecodeError);
  });

  it("exposes delivery info, properties and headers", () => {
    const { message } = received({
      exchange: "media",
      routingKey: "video",
      consumerTag: "ctag",
      redelivered: true,
      properties: {
        contentType: "application/json",
        contentEncoding: "utf-8",
        replyTo: "r",
        correlationId: "c",
      },
    });
    assert.deepEqual(message.deliveryInfo, {
      exchange: "media",
      routingKey: "video",
      consumerTag: "ctag",
      redelivered: true,
      deliveryTag: 7,
    });
    assert.equal(message.deliveryTag, 7);
    assert.deepEqual(message.headers, {});
    assert.equal(message.contentType, "application/json");
    assert.equal(message.contentEncoding, "utf-8");
    assert.equal(message.replyTo, "r");
    assert.equal(message.correlationId, "c");
    assert.equal(message.compression, undefined);
    assert.match(String(message), /<Message 7 RECEIVED application\/json>/);
  });
});
