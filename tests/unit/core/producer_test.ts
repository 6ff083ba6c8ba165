import { connectionInternals } from "../../../src/_connection_internals.ts";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Body, bodyBytes, bodyText } from "../../../src/body.ts";
import { decompress } from "../../../src/compression.ts";
import { Connection } from "../../../src/connection.ts";
import { Exchange, Queue } from "../../../src/entity.ts";
import { ConnectionError, EncodeError } from "../../../src/errors.ts";
import { prepareBody, Producer } from "../../../src/producer.ts";
import type { ReturnedMessage } from "../../../src/transport.ts";
import { FlakyTransport, type Published, RecordingChannel, uniqueVhost } from "./_fakes.ts";

const text = (body: Body) => bodyText(body);

async function publishOne(
  body: unknown,
  options: Parameters<Producer["publish"]>[1] = {},
  producerOptions: ConstructorParameters<typeof Producer>[1] = {},
): Promise<Published> {
  const channel = new RecordingChannel();
  await new Producer(channel, producerOptions).publish(body, options);
  assert.equal(channel.published.length, 1);
  return channel.published[0];
}

describe("Producer: what reaches basicPublish", () => {
  it("sends JSON with priority 0, delivery mode 2 and empty headers by default", async () => {
    const sent = await publishOne({ hello: "world" }, { routingKey: "rk" });
    assert.equal(sent.exchange, "");
    assert.equal(sent.routingKey, "rk");
    assert.deepEqual(JSON.parse(text(sent.message.body)), { hello: "world" });
    // Empty headers may be left out (the envelope writes `{}`); priority and mode never are.
    const { headers, ...rest } = sent.message.properties;
    assert.deepEqual(headers ?? {}, {});
    assert.deepEqual(rest, {
      contentType: "application/json",
      contentEncoding: "utf-8",
      deliveryMode: 2,
      priority: 0,
    });
    assert.ok(!sent.options?.mandatory);
  });

  it("maps Kombu's properties: expiration in ms, replyTo from a Queue, timestamp from a Date", async () => {
    const sent = await publishOne("hi", {
      expiration: 1500,
      replyTo: new Queue("replies"),
      timestamp: new Date(1_700_000_000_999),
      correlationId: "c-1",
      messageId: "m-1",
      type: "task",
      userId: "guest",
      appId: "app",
      priority: 7,
      deliveryMode: "transient",
      headers: { task: "add" },
      properties: { clusterId: "c" },
      mandatory: true,
    });
    assert.deepEqual(sent.message.properties, {
      contentType: "text/plain",
      contentEncoding: "utf-8",
      headers: { task: "add" },
      deliveryMode: 1,
      priority: 7,
      expiration: "1500",
      replyTo: "replies",
      timestamp: 1_700_000_000,
      correlationId: "c-1",
      messageId: "m-1",
      type: "task",
      userId: "guest",
      appId: "app",
      clusterId: "c",
    });
    assert.equal(sent.options?.mandatory, true);
    const more = await publishOne(1, { expiration: 0.4, timestamp: 42, replyTo: "r" });
    assert.equal(more.message.properties.expiration, "0");
    assert.equal(more.message.properties.timestamp, 42);
    assert.equal(more.message.properties.replyTo, "r");
  });

  it("takes the delivery mode from the exchange, and from the producer's exchange for a name", async () => {
    const transient = new Exchange("t", { deliveryMode: "transient" });
    assert.equal((await publishOne(1, { exchange: transient })).message.properties.deliveryMode, 1);
    assert.equal(
      (await publishOne(1, { exchange: transient, deliveryMode: 2 })).message.properties
        .deliveryMode,
      2,
    );
    // Kombu's _delivery_details: a string exchange inherits the producer's default exchange's mode.
    const byName = await publishOne(1, { exchange: "other" }, {
      exchange: transient,
      autoDeclare: false,
    });
    assert.equal(byName.exchange, "other");
    assert.equal(byName.message.properties.deliveryMode, 1);
  });

  it("passes raw bodies through with their content type", async () => {
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const raw = await publishOne(bytes, { contentType: "application/x-custom" });
    assert.deepEqual(raw.message.body, bytes);
    assert.equal(raw.message.properties.contentType, "application/x-custom");
    assert.equal(raw.message.properties.contentEncoding, "binary");
    const textual = await publishOne("<a/>", {
      contentType: "application/xml",
      contentEncoding: "latin-1",
    });
    assert.equal(text(textual.message.body), "<a/>");
    assert.equal(textual.message.properties.contentEncoding, "latin-1");
    const bare = await publishOne(bytes);
    assert.equal(bare.message.properties.contentType, "application/data");
    assert.equal(bare.message.properties.contentEncoding, "binary");
    assert.throws(() => prepareBody({ a: 1 }, { contentType: "application/json" }), EncodeError);
  });

  it("compresses and says so in headers.compression, keeping the other headers", async () => {
    const body = { data: "x".repeat(500) };
    const sent = await publishOne(body, { compression: "zlib", headers: { keep: true } });
    assert.equal(sent.message.properties.headers?.compression, "application/x-gzip");
    assert.equal(sent.message.properties.headers?.keep, true);
    assert.ok(sent.message.body.length < 500);
    assert.deepEqual(
      JSON.parse(text(await decompress(bodyBytes(sent.message.body), "application/x-gzip"))),
      body,
    );
    const byDefault = await publishOne(body, {}, { compression: "gzip" });
    assert.equal(byDefault.message.properties.headers?.compression, "application/x-gzip");
  });

  it("turns serializer and compression failures into EncodeError, publishing nothing", async () => {
    const channel = new RecordingChannel();
    const producer = new Producer(channel);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await assert.rejects(producer.publish(circular), EncodeError);
    await assert.rejects(producer.publish({ a: 1 }, { serializer: "no-such" }), EncodeError);
    await assert.rejects(producer.publish(() => 1, { serializer: "json" }), EncodeError);
    await assert.rejects(producer.publish({ a: 1 }, { compression: "no-such-codec" }), EncodeError);
    await assert.rejects(
      producer.publish({ a: 1 }, { contentType: "application/json" }),
      EncodeError,
    );
    assert.deepEqual(channel.published, []);
  });

  it("declares its exchange before publishing, unless it is the default one or autoDeclare is off", async () => {
    const channel = new RecordingChannel();
    await new Producer(channel, { exchange: new Exchange("media") }).publish(1, {
      routingKey: "v",
    });
    assert.deepEqual(channel.methods(), ["exchangeDeclare", "basicPublish"]);
    assert.equal(channel.published[0].exchange, "media");
    const quiet = new RecordingChannel();
    await new Producer(quiet, { exchange: new Exchange("media"), autoDeclare: false }).publish(1);
    await new Producer(quiet).publish(1);
    assert.deepEqual(quiet.methods(), ["basicPublish", "basicPublish"]);
  });

  it("declares the entities of `declare` before publishing", async () => {
    const channel = new RecordingChannel();
    const q = new Queue("video", { exchange: new Exchange("media"), routingKey: "video" });
    await new Producer(channel).publish(1, { routingKey: "video", declare: [q] });
    assert.deepEqual(channel.methods(), [
      "exchangeDeclare",
      "queueDeclare",
      "queueBind",
      "basicPublish",
    ]);
  });

  it("uses the producer's defaults and lets each publish override them", async () => {
    const channel = new RecordingChannel();
    const producer = new Producer(channel, {
      exchange: "amq.topic",
      routingKey: "a.b",
      serializer: "text",
    });
    await producer.publish("x");
    await producer.publish("y", { exchange: "amq.direct", routingKey: "c" });
    assert.deepEqual(channel.published.map((p) => [p.exchange, p.routingKey]), [[
      "amq.topic",
      "a.b",
    ], [
      "amq.direct",
      "c",
    ]]);
    assert.equal(channel.published[0].message.properties.contentType, "text/plain");
    assert.deepEqual(channel.methods(), ["basicPublish", "basicPublish"]);
  });
});

describe("Producer on a connection", () => {
  it("declares once per connection and hands unroutable mandatory messages to onReturn", async () => {
    await using conn = new Connection(`memory:///${uniqueVhost("producer")}`);
    const returned: ReturnedMessage[] = [];
    const producer = conn.producer({
      exchange: new Exchange("px", { type: "topic" }),
      onReturn: (m) => returned.push(m),
    });
    const q = new Queue("pq", {
      exchange: new Exchange("px", { type: "topic" }),
      routingKey: "a.*",
    });
    await producer.publish({ n: 1 }, { routingKey: "a.b", declare: [q] });
    await producer.publish({ n: 2 }, { routingKey: "a.c", declare: [q] });
    assert.ok(connectionInternals(conn)!.declared.has(q.declarationKey));
    await producer.publish({ n: 3 }, { routingKey: "z", mandatory: true });
    await producer.publish({ n: 4 }, { routingKey: "z" });
    assert.equal(returned.length, 1);
    assert.equal(returned[0].replyCode, 312);
    assert.equal(returned[0].routingKey, "z");
    const channel = await conn.channel();
    const first = await channel.basicGet("pq", { noAck: true });
    const second = await channel.basicGet("pq", { noAck: true });
    assert.deepEqual([first, second].map((d) => JSON.parse(text(d!.body)).n), [1, 2]);
    assert.equal(await channel.basicGet("pq"), undefined);
  });

  it("rejects with the connection's error, and nothing else, when compression fails and the broker is down", async () => {
    const conn = new Connection("flaky://down", { transport: new FlakyTransport(100) });
    await assert.rejects(
      conn.producer().publish({ a: 1 }, { compression: "no-such-codec" }),
      (error: unknown) => error instanceof EncodeError || error instanceof ConnectionError,
    );
    // An unhandled rejection of the compression promise would fail this file on Node and Deno.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await conn.close();
  });
});
