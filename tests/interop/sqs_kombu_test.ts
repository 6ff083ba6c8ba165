/**
 * Interop with Python Kombu 5.2.4 (Debian) on SQS, live: Kombu's own SQS transport and wakame's
 * both talk to one fauxqs (botocore gets SQS's JSON protocol from `../shared/peers/`
 * `sqs_json_model.py`). Both directions, acks crossing libraries, and the visibility timeout:
 * a message one side took and never acked comes back to the other side.
 *
 * Kombu 5.2.4 receives without `ApproximateReceiveCount`, so it cannot mark a redelivery;
 * wakame marks one from that count.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GetQueueAttributesCommand, GetQueueUrlCommand } from "@aws-sdk/client-sqs";
import { Connection } from "../../src/connection.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import {
  readSqsSettings,
  SqsBackend,
  SqsClient,
  sqsQueueName,
  SqsTransport,
} from "../../transports/sqs/mod.ts";
import {
  type CloudPeer,
  cloudPeerSkipReason,
  sqsPeer,
  takeKombuProduced,
} from "../_support/cloud_peer.ts";
import { type Emulator, emulatorSkipReason, startFauxqs } from "../_support/emulators.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(
  import.meta.url,
  (await emulatorSkipReason("fauxqs")) || cloudPeerSkipReason("sqs"),
);

/** The visibility timeout of every queue here, in seconds (both sides create queues with it). */
const VISIBILITY = 1;

describe("SQS interop with Python Kombu 5.2 (live, fauxqs)", () => {
  let sqs: Emulator;
  let raw: SqsClient;
  let kombu: CloudPeer;
  let n = 0;
  const unique = (what: string) => `${what}.${Date.now().toString(36)}:${n++}`;
  const connect = () =>
    new Connection(`sqs://interop:interop@127.0.0.1:${sqs.port}`, {
      transport: SqsTransport,
      transportOptions: {
        region: "us-east-1",
        waitTimeSeconds: 1,
        visibilityTimeout: VISIBILITY * 1000,
      },
    });

  before(async () => {
    if (skip.reason) return;
    sqs = await startFauxqs();
    raw = new SqsClient({
      region: "us-east-1",
      endpoint: sqs.url,
      credentials: { accessKeyId: "interop", secretAccessKey: "interop" },
      fetch: (request) => fetch(request),
      backoff: { attempts: 1 },
    });
    kombu = sqsPeer(sqs, VISIBILITY);
  });
  after(async () => {
    if (skip.reason) return;
    raw?.destroy();
    await sqs?.stop();
  });

  /** wakame's view of a queue: waiting and in-flight messages, from its own SQS client. */
  const counts = async (queue: string): Promise<{ visible: number; hidden: number }> => {
    const { QueueUrl } = await raw.send<{ QueueUrl: string }>(
      "find",
      () => new GetQueueUrlCommand({ QueueName: sqsQueueName("", queue) }),
    );
    const out = await raw.send<{ Attributes?: Record<string, string> }>(
      "attributes",
      () =>
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
    );
    return {
      visible: Number(out.Attributes?.ApproximateNumberOfMessages),
      hidden: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible),
    };
  };

  it("consumes what Kombu publishes; its acks delete for Kombu too", skip.options(), async () => {
    const queue = unique("kombu.to.wakame");
    const { names } = await kombu.produce(queue);
    assert.deepEqual(names, [sqsQueueName("", queue)], "queue names translate alike");
    await using conn = connect();
    const simple = conn.simpleQueue(queue);
    await takeKombuProduced(simple, queue);
    // Deleted, not just hidden: Kombu sees no message, neither waiting nor in flight.
    assert.deepEqual(await kombu.count(queue), { visible: 0, hidden: 0 });
    await simple.close();
  });

  it(
    "publishes what Kombu consumes; Kombu's acks delete for wakame too",
    skip.options(),
    async () => {
      const queue = unique("wakame.to.kombu");
      {
        await using conn = connect();
        const producer = conn.producer();
        await producer.publish({ hello: "wörld", list: [1, 2] }, {
          routingKey: queue,
          headers: { "x-trace": "t-2" },
          correlationId: "corr-2",
          replyTo: "replies",
        });
        await producer.publish("text <&>", { routingKey: queue });
      }
      const got = await kombu.get(queue, 2, 5);
      assert.equal(got.length, 2);
      const byPayload = (p: unknown) =>
        got.find((m) => JSON.stringify(m.payload) === JSON.stringify(p));
      const first = byPayload({ hello: "wörld", list: [1, 2] });
      assert.ok(first, JSON.stringify(got));
      assert.equal(first.content_type, "application/json");
      assert.equal(first.headers["x-trace"], "t-2");
      assert.equal(first.properties.correlation_id, "corr-2");
      assert.equal(first.properties.reply_to, "replies");
      assert.equal(first.routing_key, queue);
      assert.ok(byPayload("text <&>"));
      assert.deepEqual(await counts(queue), { visible: 0, hidden: 0 });
    },
  );

  it(
    "a message Kombu took and never acked comes back to wakame, redelivered",
    skip.options(),
    async () => {
      const queue = unique("kombu.crash");
      {
        await using conn = connect(); // creates the queue with wakame's visibility timeout
        await conn.producer().publish({ job: 1 }, { routingKey: queue });
      }
      const taken = await kombu.get(queue, 1, 5, "crash");
      assert.deepEqual(taken.map((m) => m.payload), [{ job: 1 }]);
      assert.deepEqual(await counts(queue), { visible: 0, hidden: 1 }, "in flight at Kombu");
      await using conn = connect();
      const simple = conn.simpleQueue(queue);
      const back = await simple.get({ timeout: VISIBILITY * 1000 + 5000 });
      assert.deepEqual(back.payload, { job: 1 });
      assert.equal(
        back.deliveryInfo.redelivered,
        true,
        "ApproximateReceiveCount 2 marks the redelivery",
      );
      await back.ack();
      assert.deepEqual(await kombu.count(queue), { visible: 0, hidden: 0 });
      await simple.close();
    },
  );

  it(
    "a message a wakame consumer took and died with comes back to Kombu",
    skip.options(),
    async () => {
      const queue = unique("wakame.holds");
      await kombu.produce(queue); // Kombu creates the queue with its visibility_timeout
      // A live wakame consumer renews what it holds (kombu#337); one that died does not. The store
      // alone receives as a consumer does and then stops, as a dead process would: no close, no
      // requeue, no renewal.
      const dying = new SqsBackend(readSqsSettings({
        url: `sqs://interop:interop@127.0.0.1:${sqs.port}`,
        transportOptions: {
          region: "us-east-1",
          endpoint: sqs.url,
          accessKeyId: "interop",
          secretAccessKey: "interop",
          visibilityTimeout: VISIBILITY * 1000,
        },
      } as unknown as ConnectionParams));
      const held = [await dying.get(queue), await dying.get(queue)];
      assert.equal(held.every((m) => m?.deliveryCount === 1), true);
      assert.deepEqual(await kombu.count(queue), { visible: 0, hidden: 2 }, "in flight at wakame");
      // They show again after the timeout.
      const back = await kombu.get(queue, 2, VISIBILITY + 5);
      assert.deepEqual(
        back.map((m) => JSON.stringify(m.payload)).sort(),
        [JSON.stringify({ hello: "wörld", n: 1 }), JSON.stringify("plain <&> text")].sort(),
      );
      // Kombu 5.2.4 does not ask SQS for ApproximateReceiveCount: no redelivery mark there.
      assert.deepEqual(back.map((m) => [m.redelivered, m.receive_count]), [
        [false, null],
        [false, null],
      ]);
      assert.deepEqual(await counts(queue), { visible: 0, hidden: 0 }, "Kombu acked: deleted");
      await dying.close();
      assert.deepEqual(await counts(queue), { visible: 0, hidden: 0 });
    },
  );
});
