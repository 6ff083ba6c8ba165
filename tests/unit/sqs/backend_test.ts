/** The SQS store against fauxqs: foreign messages, size limits, FIFO, long polls across queues. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GetQueueUrlCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { Connection } from "../../../src/connection.ts";
import { ConfigurationError, LimitExceededError } from "../../../src/errors.ts";
import type { Message } from "../../../src/message.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import {
  readSqsSettings,
  SqsBackend,
  SqsClient,
  sqsQueueName,
  SqsTransport,
} from "../../../transports/sqs/mod.ts";
import { type Emulator, emulatorSkipReason, startFauxqs } from "../../_support/emulators.ts";
import { bodyText } from "../../../mod.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await emulatorSkipReason("fauxqs"));
const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

describe("SQS store on fauxqs", () => {
  let sqs: Emulator;
  const open: Connection[] = [];
  const transportOptions = (extra: Record<string, unknown> = {}) => ({
    endpoint: sqs.url,
    accessKeyId: "unit",
    secretAccessKey: "unit",
    waitTimeSeconds: 1,
    pollingInterval: 50,
    ...extra,
  });
  const connect = (extra: Record<string, unknown> = {}) => {
    const conn = new Connection("sqs://", {
      transport: SqsTransport,
      transportOptions: transportOptions(extra),
    });
    open.push(conn);
    return conn;
  };
  const rawClient = () =>
    new SqsClient({
      region: "us-east-1",
      endpoint: sqs.url,
      credentials: { accessKeyId: "unit", secretAccessKey: "unit" },
      fetch: (request) => fetch(request),
      backoff: { attempts: 1 },
    });
  const store = (extra: Record<string, unknown> = {}) =>
    new SqsBackend(
      readSqsSettings({
        url: "sqs://",
        transportOptions: transportOptions(extra),
      } as unknown as ConnectionParams),
    );

  before(async () => {
    if (skip.reason) return;
    sqs = await startFauxqs();
  });
  after(async () => {
    if (skip.reason) return;
    await Promise.allSettled(open.map((c) => c.close()));
    await sqs?.stop();
  });

  it("delivers foreign messages as raw bodies and keeps consuming", skip.options(), async () => {
    const queue = unique("foreign");
    const conn = connect();
    const producer = conn.producer();
    const s = store();
    await s.declare(queue);
    const client = rawClient();
    const { QueueUrl } = await client.send<{ QueueUrl: string }>(
      "find",
      () => new GetQueueUrlCommand({ QueueName: sqsQueueName("", queue) }),
    );
    for (const text of ["not json at all", '{"order": 7}', "eyJ4IjogMX0="]) {
      await client.send("send", () => new SendMessageCommand({ QueueUrl, MessageBody: text }));
    }
    await producer.publish({ kombu: true }, { routingKey: queue });
    const got: Message[] = [];
    const consumer = conn.consumer(conn.simpleQueue(queue).queue, {
      callbacks: [async (_body, m) => {
        got.push(m);
        await m.ack();
      }],
    });
    await consumer.consume();
    for (let i = 0; i < 200 && got.length < 4; i++) await new Promise((r) => setTimeout(r, 25));
    await consumer.cancel();
    const texts = got.filter((m) => m.contentType === undefined).map((m) => bodyText(m.body))
      .sort();
    assert.deepEqual(texts, ["not json at all", '{"order": 7}', '{"x": 1}']);
    assert.deepEqual(got.find((m) => m.contentType === "application/json")?.payload, {
      kombu: true,
    });
    client.destroy();
    await s.close();
  });

  it(
    "fails a publish over 256 KiB with LimitExceededError and stores nothing",
    skip.options(),
    async () => {
      const queue = unique("big");
      const conn = connect();
      await conn.simpleQueue(queue).put("small"); // declares the queue
      await assert.rejects(
        conn.producer().publish("x".repeat(200_000), { routingKey: queue }),
        (error: unknown) =>
          error instanceof LimitExceededError && /262144 bytes/.test(String(error)),
      );
      const s = store();
      assert.equal(await s.size(queue), 1);
      await s.close();
    },
  );

  it(
    "long-polls several queues at once and answers with what arrives",
    skip.options(),
    async () => {
      const [a, b, c] = [unique("pa"), unique("pb"), unique("pc")];
      const s = store({ waitTimeSeconds: 2 });
      for (const q of [a, b, c]) await s.declare(q);
      const controller = new AbortController();
      const waiting = s.getMany([a, b, c], { max: 10, signal: controller.signal });
      const publisher = store();
      await publisher.put(c, {
        body: new TextEncoder().encode('"to c"'),
        properties: { contentType: "application/json" },
        exchange: "",
        routingKey: c,
        tag: crypto.randomUUID(),
        redelivered: false,
      });
      const got = await waiting;
      assert.deepEqual(got.map((batch) => batch.queue), [c]);
      await s.lease.settle(c, got[0].messages[0], "ack");
      controller.abort();
      await Promise.all([s.close(), publisher.close()]);
    },
  );

  it("answers getMany at once with nothing when the caller aborts", skip.options(), async () => {
    const q = unique("abort");
    const s = store({ waitTimeSeconds: 1 });
    await s.declare(q);
    const controller = new AbortController();
    const waiting = s.getMany([q], { max: 5, signal: controller.signal });
    controller.abort();
    assert.deepEqual(await waiting, []);
    await s.close();
  });

  it(
    "uses FIFO queues with a group id and the delivery tag as dedup id",
    skip.options(),
    async () => {
      const queue = `${unique("fifo")}.fifo`;
      const s = store();
      const m = {
        body: new TextEncoder().encode('"once"'),
        properties: { contentType: "application/json", headers: { MessageGroupId: "g1" } },
        exchange: "",
        routingKey: queue,
        tag: crypto.randomUUID(),
        redelivered: false,
      };
      await s.put(queue, m);
      await s.put(queue, { ...m }); // same tag: deduplicated by SQS
      const first = await s.get(queue);
      assert.equal(bodyText(first!.body), '"once"');
      await s.lease.settle(queue, first!, "ack");
      assert.equal(await s.get(queue), undefined);
      await s.close();
    },
  );

  it("marks a requeued message redelivered (ApproximateReceiveCount)", skip.options(), async () => {
    const queue = unique("redeliver");
    const conn = connect();
    const simple = conn.simpleQueue(queue);
    await simple.put("again");
    const first = await simple.get({ timeout: 5000 });
    assert.equal(first.deliveryInfo.redelivered, false);
    await first.requeue();
    const second = await simple.get({ timeout: 5000 });
    assert.equal(second.deliveryInfo.redelivered, true);
    await second.ack();
    await simple.close();
  });

  it("keeps to predefinedQueues and refuses others", skip.options(), async () => {
    const queue = unique("predef");
    const s = store();
    await s.declare(queue);
    const client = rawClient();
    const { QueueUrl } = await client.send<{ QueueUrl: string }>(
      "find",
      () => new GetQueueUrlCommand({ QueueName: queue }),
    );
    client.destroy();
    await s.close();
    const predefined = store({ predefinedQueues: { [queue]: { url: QueueUrl } } });
    await predefined.put(queue, {
      body: new TextEncoder().encode("1"),
      properties: {},
      exchange: "",
      routingKey: queue,
      tag: crypto.randomUUID(),
      redelivered: false,
    });
    assert.ok(await predefined.get(queue));
    await assert.rejects(predefined.declare("other"), ConfigurationError);
    await predefined.delete(queue); // never deletes a predefined queue
    assert.ok((await predefined.size(queue)) >= 0);
    await predefined.close();
  });
});
