/**
 * Retries, backoff and error mapping of the SQS transport, against a scripted fake SQS behind
 * an injected fetch (throttling, 5xx, lost answers, stale receipt handles).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConfigurationError,
  ConnectionError,
  HttpError,
  NotFoundError,
} from "../../../src/errors.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import type { StoredMessage } from "../../../src/virtual/backend.ts";
import { Ledger } from "../../../src/virtual/ledger.ts";
import {
  POSSIBLE_DUPLICATE_ATTRIBUTE,
  POSSIBLE_DUPLICATE_HEADER,
  readSqsSettings,
  SqsBackend,
  type SqsTransportOptions,
} from "../../../transports/sqs/mod.ts";
import { encodeBase64 } from "../../../src/_base64.ts";
import { type FakeCall, fakeSqs, md5, type Script, sqsErrorResponse } from "./_fake_sqs.ts";

function params(options: SqsTransportOptions, url = "sqs://"): ConnectionParams {
  return {
    transport: "sqs",
    hostname: "localhost",
    port: undefined,
    userid: undefined,
    password: undefined,
    virtualHost: "",
    url,
    ssl: false,
    heartbeat: 0,
    connectTimeout: 1000,
    transportOptions: options as Record<string, unknown>,
  };
}

function message(text = "payload"): StoredMessage {
  return {
    body: new TextEncoder().encode(JSON.stringify(text)),
    properties: { contentType: "application/json", contentEncoding: "utf-8" },
    exchange: "",
    routingKey: "q",
    tag: crypto.randomUUID(),
    redelivered: false,
  };
}

function backend(script: Script, options: SqsTransportOptions = {}) {
  const fake = fakeSqs(script);
  const warnings: string[] = [];
  const store = new SqsBackend(
    readSqsSettings(params({
      endpoint: "http://sqs.test",
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "secret",
      retryBaseDelay: 0,
      maxRetryDelay: 0,
      ...options,
      fetch: fake.fetch,
    })),
    { warn: (text) => warnings.push(text) },
  );
  return { fake, store, warnings };
}

const sends = (calls: FakeCall[]) => calls.filter((c) => c.action === "SendMessage");

describe("SQS retries and errors", () => {
  it("survives throttling with backoff and does not flag the send as a duplicate", async () => {
    let throttled = 0;
    const { fake, store } = backend((call) =>
      call.action === "SendMessage" && throttled++ < 2
        ? sqsErrorResponse(400, "ThrottlingException", "Rate exceeded")
        : undefined
    );
    await store.put("q", message());
    const attempts = sends(fake.calls);
    assert.equal(attempts.length, 3);
    for (const call of attempts) assert.equal(call.input.MessageAttributes, undefined);
    await store.close();
  });

  it("flags a SendMessage retried after a 503 as a possible duplicate", async () => {
    let failed = false;
    const { fake, store } = backend((call) =>
      call.action === "SendMessage" && !failed
        ? (failed = true, sqsErrorResponse(503, "ServiceUnavailable"))
        : undefined
    );
    await store.put("q", message());
    const [first, second] = sends(fake.calls);
    assert.equal(first.input.MessageAttributes, undefined);
    assert.deepEqual(second.input.MessageAttributes, {
      [POSSIBLE_DUPLICATE_ATTRIBUTE]: { DataType: "String", StringValue: "true" },
    });
    await store.close();
  });

  it("flags a SendMessage retried after a lost answer (network failure)", async () => {
    let lost = false;
    const { fake, store } = backend((call) => {
      if (call.action === "SendMessage" && !lost) {
        lost = true;
        throw new TypeError("fetch failed: connection reset");
      }
      return undefined;
    });
    await store.put("q", message());
    assert.ok(sends(fake.calls)[1].input.MessageAttributes);
    await store.close();
  });

  it("shows the flag to consumers as a header", async () => {
    const body = encodeBase64(new TextEncoder().encode("plain"));
    const { store } = backend((call) =>
      call.action === "ReceiveMessage"
        ? Response.json({
          Messages: [{
            MessageId: "m1",
            ReceiptHandle: "rh-1",
            Body: body,
            MD5OfBody: md5(body),
            Attributes: { ApproximateReceiveCount: "1" },
            MessageAttributes: {
              [POSSIBLE_DUPLICATE_ATTRIBUTE]: { DataType: "String", StringValue: "true" },
            },
          }],
        })
        : undefined
    );
    const got = await store.get("q");
    assert.equal(got?.possibleDuplicate, true);
    // The virtual base turns the store's flag into the header a consumer sees.
    const delivery = new Ledger(store, () => {}, () => {}).deliver("q", got!, true, undefined);
    assert.equal(delivery.properties.headers?.[POSSIBLE_DUPLICATE_HEADER], true);
    assert.equal(delivery.redelivered, false);
    await store.close();
  });

  it("gives up after maxAttempts on persistent 5xx with an HttpError", async () => {
    const { fake, store } = backend(
      (call) => call.action === "SendMessage" ? sqsErrorResponse(500, "InternalError") : undefined,
      { maxAttempts: 4 },
    );
    await assert.rejects(store.put("q", message()), (error: unknown) => {
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, 500);
      assert.equal(error.code, "InternalError");
      assert.equal(error.requestId, "req-1234");
      return true;
    });
    assert.equal(sends(fake.calls).length, 4);
    await store.close();
  });

  it("does not retry a refusal (400) and names the code", async () => {
    const { fake, store } = backend((call) =>
      call.action === "SendMessage"
        ? sqsErrorResponse(400, "InvalidParameterValue", "bad value")
        : undefined
    );
    await assert.rejects(store.put("q", message()), /InvalidParameterValue: bad value/);
    assert.equal(sends(fake.calls).length, 1);
    await store.close();
  });

  it("maps a missing queue to NotFoundError (size of an undeclared queue)", async () => {
    const { store } = backend((call) =>
      call.action === "GetQueueUrl" ? sqsErrorResponse(400, "QueueDoesNotExist") : undefined
    );
    await assert.rejects(store.size("nope"), (e: unknown) => e instanceof NotFoundError);
    await store.close();
  });

  it("creates a missing queue on publish, with Kombu's attributes and the tags", async () => {
    const { fake, store } = backend(
      (call) =>
        call.action === "GetQueueUrl" ? sqsErrorResponse(400, "QueueDoesNotExist") : undefined,
      {
        visibilityTimeout: 60_000,
        sqsCreationAttributes: { KmsMasterKeyId: "alias/aws/sqs" },
        queueTags: { team: "media" },
      },
    );
    await store.put("jobs.fifo", message());
    const create = fake.calls.find((c) => c.action === "CreateQueue")!;
    assert.deepEqual(create.input, {
      QueueName: "jobs.fifo",
      Attributes: { VisibilityTimeout: "60", FifoQueue: "true", KmsMasterKeyId: "alias/aws/sqs" },
      tags: { team: "media" },
    });
    const send = sends(fake.calls)[0];
    assert.equal(send.input.MessageGroupId, "default");
    assert.equal(typeof send.input.MessageDeduplicationId, "string");
    await store.close();
  });

  it("reports an unreachable endpoint as a ConnectionError after the retries", async () => {
    const { fake, store } = backend(() => {
      throw new TypeError("fetch failed");
    }, { maxAttempts: 3 });
    await assert.rejects(store.put("q", message()), ConnectionError);
    assert.equal(fake.calls.length, 3);
    await store.close();
  });

  it("survives an expired receipt handle on ack and requeue with a warning", async () => {
    const { store, warnings } = backend((call) =>
      call.action === "DeleteMessage" || call.action === "ChangeMessageVisibility"
        ? sqsErrorResponse(400, "ReceiptHandleIsInvalid", "The receipt handle has expired")
        : undefined
    );
    const [m, n] = [message(), message()];
    m.backendData = { queue: "http://sqs.test/000000000000/q", handle: "old" };
    n.backendData = { queue: "http://sqs.test/000000000000/q", handle: "older" };
    await store.lease.settle("q", m, "ack");
    await store.lease.release("q", n, { position: "back" });
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /receipt handle expired/);
    await store.close();
  });

  it("reject without requeue deletes by default and leaves the message with redrive", async () => {
    for (const [mode, deletes] of [["delete", 1], ["redrive", 0]] as const) {
      const { fake, store } = backend(() => undefined, { rejectMode: mode });
      const m = message();
      m.backendData = { queue: "http://sqs.test/000000000000/q", handle: "rh" };
      await store.lease.settle("q", m, "reject");
      assert.equal(fake.count("DeleteMessage"), deletes, mode);
      assert.equal(fake.count("ChangeMessageVisibility"), 0);
      await store.close();
    }
  });

  it("batches concurrent publishes into SendMessageBatch calls of at most 10", async () => {
    const { fake, store } = backend(() => undefined);
    await Promise.all(Array.from({ length: 45 }, (_, i) => store.put("q", message(`m${i}`))));
    const batches = fake.calls.filter((c) => c.action === "SendMessageBatch");
    const singles = sends(fake.calls).length;
    const entries = batches.reduce((n, c) => n + (c.input.Entries as unknown[]).length, 0);
    assert.equal(entries + singles, 45);
    assert.ok(batches.length > 0, "some publishes shared a request");
    for (const batch of batches) assert.ok((batch.input.Entries as unknown[]).length <= 10);
    await store.close();
  });

  it("resends a batch entry that failed on the server side alone", async () => {
    const { fake, store } = backend((call) => {
      if (call.action !== "SendMessageBatch") return undefined;
      const entries = call.input.Entries as { Id: string }[];
      return Response.json({
        Successful: [],
        Failed: entries.map((e) => ({
          Id: e.Id,
          SenderFault: e.Id !== "0",
          Code: e.Id === "0" ? "InternalError" : "InvalidMessageContents",
          Message: "no",
        })),
      });
    });
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => store.put("q", message(`m${i}`))),
    );
    const batch = fake.calls.find((c) => c.action === "SendMessageBatch");
    assert.ok(batch, "a batch went out");
    const rejected = results.filter((r) => r.status === "rejected");
    assert.ok(rejected.length > 0, "sender faults reach their publishers");
    for (const r of rejected) assert.match(String(r.reason), /InvalidMessageContents/);
    await store.close();
  });

  it("refuses half a credential and unknown reject modes", () => {
    assert.throws(() => readSqsSettings(params({ accessKeyId: "only" })), ConfigurationError);
    assert.throws(
      () => readSqsSettings(params({ rejectMode: "bounce" as "delete" })),
      /rejectMode/,
    );
  });

  it("reads the endpoint and credentials from the URL (http for loopback)", () => {
    const s = readSqsSettings(params({}, "sqs://AKID:se%2Fcret@127.0.0.1:4566"));
    assert.equal(s.endpoint, "http://127.0.0.1:4566");
    assert.deepEqual(s.credentials, { accessKeyId: "AKID", secretAccessKey: "se/cret" });
    const remote = readSqsSettings(params({ region: "eu-west-1" }, "sqs://a:b@sqs.example.com"));
    assert.equal(remote.endpoint, "https://sqs.example.com");
    assert.equal(remote.region, "eu-west-1");
    assert.equal(readSqsSettings(params({ region: "us-west-2" })).endpoint, undefined);
    assert.equal(readSqsSettings(params({ visibilityTimeout: 1500 })).visibilityTimeoutSeconds, 2);
  });
});
