/**
 * Interop with Python Kombu 5.2 (Debian) on Azure Storage Queues.
 *
 * What runs: Kombu's own Azure channel code (`_put`, `_get`, `entity_name`) in the Python peer,
 * against an in-process stand-in of `azure.storage.queue.QueueService`; wakame against Azurite.
 * Message texts cross over exactly.
 *
 * What cannot run: Kombu against Azurite. Debian ships no `azure-storage-queue`, which Kombu's
 * transport needs for its HTTP calls (and Kombu 5.2's module wants the pre-v12 `QueueService`).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection } from "../../src/connection.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import {
  AzureQueueClient,
  azureQueueName,
  AzureStorageQueuesTransport,
  parseMessagesList,
  readAzureSettings,
} from "../../transports/azure_storage_queues/mod.ts";
import {
  AZURITE_KEY,
  type Emulator,
  emulatorSkipReason,
  startAzurite,
} from "../_support/emulators.ts";
import { kombuSkipReason, runPython } from "../_support/python.ts";

const skip = (await emulatorSkipReason("azurite")) || kombuSkipReason(["kombu"]);
const peer = fileURLToPath(new URL("./sqs_azure_kombu_peer.py", import.meta.url));

describe("Azure Storage Queues interop with Python Kombu 5.2", { skip }, () => {
  let azurite: Emulator;
  let connectionString = "";
  let raw: AzureQueueClient;

  before(async () => {
    azurite = await startAzurite();
    connectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
      `AccountKey=${AZURITE_KEY};QueueEndpoint=${azurite.url}/devstoreaccount1;`;
    raw = new AzureQueueClient(readAzureSettings({
      url: "azurestoragequeues://",
      transportOptions: { connectionString },
    } as unknown as ConnectionParams));
  });
  after(async () => {
    await azurite?.stop();
  });

  const connect = () =>
    new Connection("azurestoragequeues://", {
      transport: AzureStorageQueuesTransport,
      transportOptions: { connectionString, pollingInterval: 50 },
    });

  it("translates queue names as Kombu does", async () => {
    const out = JSON.parse(await runPython(peer, ["produce", "azure", "celery.pidbox_x"]));
    assert.deepEqual(out.names, [azureQueueName("", "celery.pidbox_x")]);
  });

  it("consumes what Kombu's _put sends (the envelope as the message text)", async () => {
    const queue = `kombu.to.wakame.${Date.now().toString(36)}`;
    const out = JSON.parse(await runPython(peer, ["produce", "azure", queue]));
    const name = azureQueueName("", queue);
    await raw.call("create", "PUT", `/${name}`);
    for (const text of out.bodies) {
      const xml = `<QueueMessage><MessageText>${
        text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      }</MessageText></QueueMessage>`;
      await raw.call("send", "POST", `/${name}/messages`, { body: () => xml });
    }
    const conn = connect();
    try {
      const simple = conn.simpleQueue(queue);
      const first = await simple.get({ timeout: 5000 });
      assert.deepEqual(first.payload, { hello: "wörld", n: 1 });
      assert.equal(first.contentType, "application/json");
      assert.equal(first.headers["x-trace"], "t-1");
      assert.equal(first.correlationId, "corr-1");
      assert.equal(first.properties.messageId, "mid-1");
      await first.ack();
      const second = await simple.get({ timeout: 5000 });
      assert.equal(second.payload, "plain text");
      await second.ack();
      await simple.close();
    } finally {
      await conn.close();
    }
  });

  it("sends texts Kombu's consumer decodes", async () => {
    const queue = `wakame.to.kombu.${Date.now().toString(36)}`;
    const conn = connect();
    try {
      const producer = conn.producer();
      await producer.publish({ hello: "wörld", list: [1, 2] }, {
        routingKey: queue,
        headers: { "x-trace": "t-2" },
        correlationId: "corr-2",
      });
      await producer.publish("text <&>", { routingKey: queue });
    } finally {
      await conn.close();
    }
    const answer = await raw.call("peek", "GET", `/${azureQueueName("", queue)}/messages`, {
      query: { peekonly: "true", numofmessages: "32" },
    });
    const texts = parseMessagesList(answer.text).map((m) => m.messageText);
    assert.equal(texts.length, 2);
    const decoded = JSON.parse(
      await runPython(peer, ["consume", "azure", queue, JSON.stringify(texts)]),
    );
    assert.deepEqual(decoded[0].payload, { hello: "wörld", list: [1, 2] });
    assert.equal(decoded[0].headers["x-trace"], "t-2");
    assert.equal(decoded[0].properties.correlation_id, "corr-2");
    assert.equal(decoded[1].payload, "text <&>");
  });
});
