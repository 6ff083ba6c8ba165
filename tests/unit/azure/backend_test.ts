/** The Azure store: limits, foreign messages, both ack modes, visibility renewal, retries. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection } from "../../../src/connection.ts";
import { HttpError, LimitExceededError } from "../../../src/errors.ts";
import type { Message } from "../../../src/message.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import type { StoredMessage } from "../../../src/virtual/backend.ts";
import { Ledger } from "../../../src/virtual/ledger.ts";
import {
  AzureBackend,
  AzureQueueClient,
  azureQueueName,
  AzureStorageQueuesTransport,
  POSSIBLE_DUPLICATE_HEADER,
  readAzureSettings,
} from "../../../transports/azure_storage_queues/mod.ts";
import {
  AZURITE_KEY,
  type Emulator,
  emulatorSkipReason,
  startAzurite,
} from "../../_support/emulators.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await emulatorSkipReason("azurite"));
const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

function stored(text: string, queue: string): StoredMessage {
  return {
    body: new TextEncoder().encode(JSON.stringify(text)),
    properties: { contentType: "application/json", contentEncoding: "utf-8" },
    exchange: "",
    routingKey: queue,
    tag: crypto.randomUUID(),
    redelivered: false,
  };
}

describe("Azure store on Azurite", () => {
  let azurite: Emulator;
  let connectionString = "";
  const open: Connection[] = [];

  const params = (extra: Record<string, unknown> = {}) =>
    ({
      url: "azurestoragequeues://",
      transportOptions: { connectionString, pollingInterval: 50, ...extra },
    }) as unknown as ConnectionParams;
  const connect = (extra: Record<string, unknown> = {}) => {
    const conn = new Connection("azurestoragequeues://", {
      transport: AzureStorageQueuesTransport,
      transportOptions: params(extra).transportOptions,
    });
    open.push(conn);
    return conn;
  };

  before(async () => {
    if (skip.reason) return;
    azurite = await startAzurite();
    connectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
      `AccountKey=${AZURITE_KEY};QueueEndpoint=${azurite.url}/devstoreaccount1;`;
  });
  after(async () => {
    if (skip.reason) return;
    await Promise.allSettled(open.map((c) => c.close()));
    await azurite?.stop();
  });

  it(
    "fails a publish over 64 KiB with LimitExceededError and stores nothing",
    skip.options(),
    async () => {
      const queue = unique("big");
      const conn = connect();
      await conn.simpleQueue(queue).put("small");
      await assert.rejects(
        conn.producer().publish("é".repeat(30_000), { routingKey: queue }),
        (e: unknown) =>
          e instanceof LimitExceededError && /65536 bytes/.test(String(e)) &&
          /body 60000 bytes/.test(String(e)),
      );
      const store = new AzureBackend(readAzureSettings(params()));
      assert.equal(await store.size(queue), 1);
      await store.close();
    },
  );

  it(
    "delivers text that is not Kombu's envelope as a raw body and keeps consuming",
    skip.options(),
    async () => {
      const queue = unique("foreign");
      const store = new AzureBackend(readAzureSettings(params()));
      await store.declare(queue);
      const client = new AzureQueueClient(readAzureSettings(params()));
      for (const text of ["plain words", "[1, 2]"]) {
        await client.call("send", "POST", `/${azureQueueName("", queue)}/messages`, {
          body: () => `<QueueMessage><MessageText>${text}</MessageText></QueueMessage>`,
        });
      }
      await store.put(queue, stored("kombu", queue));
      const conn = connect();
      const got: Message[] = [];
      const consumer = conn.consumer(conn.simpleQueue(queue).queue, {
        callbacks: [async (_b, m) => {
          got.push(m);
          await m.ack();
        }],
      });
      await consumer.consume();
      for (let i = 0; i < 200 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 25));
      await consumer.cancel();
      const raw = got.filter((m) => m.contentType === undefined)
        .map((m) => new TextDecoder().decode(m.body)).sort();
      assert.deepEqual(raw, ["[1, 2]", "plain words"]);
      assert.equal(got.find((m) => m.contentType)?.payload, "kombu");
      await store.close();
    },
  );

  it(
    "deleteOnReceive (Kombu's mode) removes a message when it is received",
    skip.options(),
    async () => {
      const queue = unique("atmostonce");
      const store = new AzureBackend(readAzureSettings(params({ ackMode: "deleteOnReceive" })));
      assert.equal(store.lease, undefined);
      await store.put(queue, stored("once", queue));
      const got = await store.get(queue);
      assert.ok(got);
      assert.equal(await store.size(queue), 0);
      const other = new AzureBackend(readAzureSettings(params()));
      assert.equal(await other.get(queue), undefined);
      await Promise.all([store.close(), other.close()]);
    },
  );

  it(
    "keeps a held message hidden past its visibility timeout (the base renews), deletes it on ack",
    skip.options(),
    async () => {
      const queue = unique("renew");
      const holder = new AzureBackend(readAzureSettings(params({ visibilityTimeout: 1000 })));
      const other = new AzureBackend(readAzureSettings(params()));
      await holder.put(queue, stored("held", queue));
      const held = await holder.get(queue);
      assert.ok(held);
      const ledger = new Ledger(holder, () => {}, () => {});
      const { deliveryTag } = ledger.deliver(queue, held, false, undefined);
      // Three visibility timeouts pass while the consumer holds the message (renewed at half).
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(await other.get(queue), undefined);
      await ledger.ack(deliveryTag, false);
      ledger.close();
      await holder.close();
      assert.equal(await other.get(queue), undefined);
      const store = new AzureBackend(readAzureSettings(params()));
      assert.equal(await store.size(queue), 0);
      await Promise.all([other.close(), store.close()]);
    },
  );

  it("requeue makes a message visible at once, marked redelivered", skip.options(), async () => {
    const queue = unique("requeue");
    const store = new AzureBackend(readAzureSettings(params()));
    await store.put(queue, stored("again", queue));
    const ledger = new Ledger(store, () => {}, () => {});
    const first = ledger.deliver(queue, (await store.get(queue))!, false, undefined);
    assert.equal(first.redelivered, false);
    await ledger.reject(first.deliveryTag, true);
    const again = await store.get(queue);
    assert.equal(again?.deliveryCount, 2);
    const second = ledger.deliver(queue, again!, false, undefined);
    assert.equal(second.redelivered, true);
    await ledger.ack(second.deliveryTag, false);
    await store.close();
  });

  it(
    "retries ServerBusy and flags a send retried after a 500 as a possible duplicate",
    skip.options(),
    async () => {
      const queue = unique("retry");
      const bodies: string[] = [];
      let failures = 0;
      const fetchWithFaults = async (request: Request): Promise<Response> => {
        if (request.method === "POST") {
          bodies.push(await request.clone().text());
          if (failures === 0) {
            failures++;
            return new Response("<Error><Code>ServerBusy</Code><Message>busy</Message></Error>", {
              status: 503,
              headers: { "x-ms-error-code": "ServerBusy" },
            });
          }
          if (failures === 1) {
            failures++;
            await fetch(request); // the message is stored, but the answer is "lost"
            return new Response("<Error><Code>InternalError</Code></Error>", { status: 500 });
          }
        }
        return await fetch(request);
      };
      const store = new AzureBackend(readAzureSettings(params({
        fetch: fetchWithFaults,
        retryBaseDelay: 0,
        maxRetryDelay: 0,
      })));
      await store.put(queue, stored("dup?", queue));
      assert.equal(bodies.length, 3);
      assert.ok(!bodies[0].includes(POSSIBLE_DUPLICATE_HEADER));
      assert.ok(!bodies[1].includes(POSSIBLE_DUPLICATE_HEADER));
      assert.ok(bodies[2].includes(POSSIBLE_DUPLICATE_HEADER));
      const reader = new AzureBackend(readAzureSettings(params()));
      const flags: unknown[] = [];
      for (let m = await reader.get(queue); m; m = await reader.get(queue)) {
        flags.push(m.properties.headers?.[POSSIBLE_DUPLICATE_HEADER] ?? false);
        await reader.lease!.settle(queue, m, "ack");
      }
      assert.deepEqual(flags.sort(), [false, true]);
      await Promise.all([store.close(), reader.close()]);
    },
  );

  it("maps a refusal to HttpError with the service's code", skip.options(), async () => {
    const store = new AzureBackend(readAzureSettings(params({ maxAttempts: 1 })));
    await assert.rejects(
      store.size(unique("missing")),
      (e: unknown) => e instanceof HttpError || (e as Error).name === "NotFoundError",
    );
    await store.close();
  });
});
