/**
 * Interop with Python Kombu 5.2 (Debian) on SQS.
 *
 * What runs: Kombu's own SQS channel code (`_put`, `_get_bulk`, `_message_to_python`,
 * `entity_name`) in the Python peer, against an in-process stand-in of boto3's client; wakame
 * against fauxqs. Bodies cross over as the exact `MessageBody` strings.
 *
 * What cannot run: Kombu 5.2 against fauxqs itself. Debian's botocore 1.29 speaks SQS's query
 * protocol and fauxqs only the JSON protocol (`X-Amz-Target`), so boto3 cannot reach it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { Connection } from "../../src/connection.ts";
import { SqsClient, sqsQueueName, SqsTransport } from "../../transports/sqs/mod.ts";
import { type Emulator, emulatorSkipReason, startFauxqs } from "../_support/emulators.ts";
import { kombuSkipReason, runPython } from "../_support/python.ts";

const skip = (await emulatorSkipReason("fauxqs")) || kombuSkipReason(["kombu", "boto3"]);
const peer = fileURLToPath(new URL("./sqs_azure_kombu_peer.py", import.meta.url));

interface Decoded {
  payload: unknown;
  content_type: string;
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  routing_key: string;
}

describe("SQS interop with Python Kombu 5.2", { skip }, () => {
  let sqs: Emulator;
  let raw: SqsClient;
  const options = () => ({
    transport: SqsTransport,
    transportOptions: {
      endpoint: sqs.url,
      accessKeyId: "interop",
      secretAccessKey: "interop",
      waitTimeSeconds: 1,
    },
  });

  before(async () => {
    sqs = await startFauxqs();
    raw = new SqsClient({
      region: "us-east-1",
      endpoint: sqs.url,
      credentials: { accessKeyId: "interop", secretAccessKey: "interop" },
      fetch: (request) => fetch(request),
      backoff: { attempts: 1 },
    });
  });
  const urlOf = async (queue: string): Promise<string> => {
    const out = await raw.send<{ QueueUrl: string }>(
      "find",
      () => new GetQueueUrlCommand({ QueueName: sqsQueueName("", queue) }),
    );
    return out.QueueUrl;
  };

  after(async () => {
    raw?.destroy();
    await sqs?.stop();
  });

  it("translates queue names as Kombu does", async () => {
    const out = JSON.parse(await runPython(peer, ["produce", "sqs", "celery.pidbox:x"]));
    assert.deepEqual(out.names, [sqsQueueName("", "celery.pidbox:x")]);
  });

  it("consumes what Kombu's _put sends (base64 of the envelope)", async () => {
    const queue = `kombu.to.wakame.${Date.now().toString(36)}`;
    const out = JSON.parse(await runPython(peer, ["produce", "sqs", queue]));
    const conn = new Connection("sqs://", options());
    try {
      const simple = conn.simpleQueue(queue);
      await simple.getNowait().catch(() => undefined); // creates the queue
      const url = await urlOf(queue);
      for (const body of out.bodies) {
        await raw.send("send", () => new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
      }
      const first = await simple.get({ timeout: 5000 });
      assert.deepEqual(first.payload, { hello: "wörld", n: 1 });
      assert.equal(first.contentType, "application/json");
      assert.equal(first.headers["x-trace"], "t-1");
      assert.equal(first.correlationId, "corr-1");
      assert.equal(first.replyTo, "replies");
      assert.equal(first.properties.messageId, "mid-1");
      assert.equal(first.deliveryInfo.routingKey, queue);
      await first.ack();
      const second = await simple.get({ timeout: 5000 });
      assert.equal(second.payload, "plain text");
      await second.ack();
      await simple.close();
    } finally {
      await conn.close();
    }
  });

  it("sends bodies Kombu's consumer decodes", async () => {
    const queue = `wakame.to.kombu.${Date.now().toString(36)}`;
    const conn = new Connection("sqs://", options());
    const bodies: string[] = [];
    try {
      const producer = conn.producer();
      await producer.publish({ hello: "wörld", list: [1, 2] }, {
        routingKey: queue,
        headers: { "x-trace": "t-2" },
        correlationId: "corr-2",
        replyTo: "replies",
      });
      await producer.publish("text", { routingKey: queue });
      const url = await urlOf(queue);
      for (let i = 0; i < 10 && bodies.length < 2; i++) {
        const got = await raw.send<{ Messages?: { Body?: string }[] }>(
          "receive",
          () => new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }),
        );
        for (const m of got.Messages ?? []) bodies.push(m.Body ?? "");
      }
    } finally {
      await conn.close();
    }
    const decoded: Decoded[] = JSON.parse(
      await runPython(peer, ["consume", "sqs", queue, JSON.stringify(bodies)]),
    );
    assert.equal(decoded.length, 2);
    const [first, second] = decoded;
    assert.deepEqual(first.payload, { hello: "wörld", list: [1, 2] });
    assert.equal(first.content_type, "application/json");
    assert.equal(first.headers["x-trace"], "t-2");
    assert.equal(first.properties.correlation_id, "corr-2");
    assert.equal(first.properties.reply_to, "replies");
    assert.equal(first.routing_key, queue);
    assert.equal(second.payload, "text");
  });
});
