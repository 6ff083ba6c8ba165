/**
 * Interop with Python Kombu 5.2.4 (Debian) on Azure Storage Queues, live: Kombu's own transport
 * (on azure-storage-queue 12 through `../shared/peers/kombu52_azure.py`) and wakame's both talk
 * to one Azurite. Both directions, acks crossing libraries, and the visibility timeout.
 *
 * Kombu 5.2.4 deletes a message when it receives it (at most once): what Kombu took is gone for
 * wakame whether Kombu acked it or not, and Kombu never marks a redelivery. wakame holds a
 * received message hidden (renewing its visibility) until it is acked or given back; if wakame
 * dies holding it, it shows again to Kombu after the visibility timeout.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection } from "../../src/connection.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import {
  AzureBackend,
  azureQueueName,
  AzureStorageQueuesTransport,
  readAzureSettings,
} from "../../transports/azure_storage_queues/mod.ts";
import {
  azurePeer,
  type CloudPeer,
  cloudPeerSkipReason,
  takeKombuProduced,
} from "../_support/cloud_peer.ts";
import {
  AZURITE_KEY,
  type Emulator,
  emulatorSkipReason,
  startAzurite,
} from "../_support/emulators.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(
  import.meta.url,
  (await emulatorSkipReason("azurite")) || cloudPeerSkipReason("azure"),
);

/** wakame's visibility timeout here, in ms (Azure's least: 1 s). */
const VISIBILITY = 1000;

describe("Azure Storage Queues interop with Python Kombu 5.2 (live, Azurite)", () => {
  let azurite: Emulator;
  let kombu: CloudPeer;
  let connectionString = "";
  let n = 0;
  const unique = (what: string) => `${what}.${Date.now().toString(36)}:${n++}`;
  const transportOptions = () => ({
    connectionString,
    pollingInterval: 50,
    visibilityTimeout: VISIBILITY,
  });
  const connect = () =>
    new Connection("azurestoragequeues://", {
      transport: AzureStorageQueuesTransport,
      transportOptions: transportOptions(),
    });

  before(async () => {
    if (skip.reason) return;
    azurite = await startAzurite();
    connectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
      `AccountKey=${AZURITE_KEY};QueueEndpoint=${azurite.url}/devstoreaccount1;`;
    kombu = azurePeer(azurite);
  });
  after(async () => {
    if (skip.reason) return;
    await azurite?.stop();
  });

  it("consumes what Kombu publishes; its acks delete for Kombu too", skip.options(), async () => {
    const queue = unique("kombu.to.wakame");
    const { names } = await kombu.produce(queue);
    assert.deepEqual(names, [azureQueueName("", queue)], "queue names translate alike");
    await using conn = connect();
    const simple = conn.simpleQueue(queue);
    await takeKombuProduced(simple, queue);
    // Azure's count includes hidden messages: 0 means deleted, not just hidden.
    assert.equal((await kombu.count(queue)).visible, 0);
    await simple.close();
  });

  it(
    "publishes what Kombu consumes; what Kombu took is gone for wakame",
    skip.options(),
    async () => {
      const queue = unique("wakame.to.kombu");
      await using conn = connect();
      const producer = conn.producer();
      await producer.publish({ hello: "wörld", list: [1, 2] }, {
        routingKey: queue,
        headers: { "x-trace": "t-2" },
        correlationId: "corr-2",
      });
      await producer.publish("text <&>", { routingKey: queue });
      const got = await kombu.get(queue, 2, 5);
      assert.deepEqual(got.map((m) => m.payload), [{ hello: "wörld", list: [1, 2] }, "text <&>"]);
      assert.equal(got[0].content_type, "application/json");
      assert.equal(got[0].headers["x-trace"], "t-2");
      assert.equal(got[0].properties.correlation_id, "corr-2");
      assert.equal(got[0].routing_key, queue);
      const simple = conn.simpleQueue(queue);
      assert.equal(await simple.qsize(), 0);
      await simple.close();
    },
  );

  it(
    "what Kombu took without ack is gone for wakame too (Kombu 5.2 deletes on receive)",
    skip.options(),
    async () => {
      const queue = unique("kombu.crash");
      await using conn = connect();
      await conn.producer().publish({ job: 1 }, { routingKey: queue });
      const taken = await kombu.get(queue, 1, 5, "crash");
      assert.deepEqual(taken.map((m) => m.payload), [{ job: 1 }]);
      const simple = conn.simpleQueue(queue);
      assert.equal(await simple.qsize(), 0, "Azure's count includes hidden messages");
      await simple.close();
    },
  );

  it(
    "a message wakame died holding comes back to Kombu after the visibility timeout",
    skip.options(),
    async () => {
      const queue = unique("wakame.crash");
      await kombu.produce(queue);
      // wakame's store receives both, then stops as a killed process would: no ack, no release.
      const backend = new AzureBackend(
        readAzureSettings(
          {
            url: "azurestoragequeues://",
            transportOptions: transportOptions(),
          } as unknown as ConnectionParams,
        ),
      );
      const held = [await backend.get(queue), await backend.get(queue)];
      assert.equal(held.filter(Boolean).length, 2);
      await backend.close();
      // Not asserted: that Kombu sees nothing at first (its start-up can outlast the 1 s timeout).
      const back = await kombu.get(queue, 2, VISIBILITY / 1000 + 5);
      assert.deepEqual(
        back.map((m) => JSON.stringify(m.payload)).sort(),
        [JSON.stringify({ hello: "wörld", n: 1 }), JSON.stringify("plain <&> text")].sort(),
      );
      assert.equal((await kombu.count(queue)).visible, 0);
    },
  );

  it(
    "wakame keeps a message it holds hidden from Kombu past the timeout; closing gives it back at once",
    skip.options(),
    async () => {
      const queue = unique("wakame.holds");
      await using conn = connect();
      await conn.producer().publish({ job: 2 }, { routingKey: queue });
      const simple = conn.simpleQueue(queue);
      const held = await simple.get({ timeout: 5000 });
      // The renewals (every half timeout) keep it hidden through 2.5 timeouts of Kombu polling.
      assert.deepEqual(await kombu.get(queue, 1, (VISIBILITY * 2.5) / 1000), []);
      assert.equal(held.deliveryInfo.redelivered, false);
      // Not held.requeue(): wakame's own consumer would take it again before Kombu polls.
      await conn.close();
      const back = await kombu.get(queue, 1, 1);
      assert.deepEqual(back.map((m) => m.payload), [{ job: 2 }]);
      assert.equal((await kombu.count(queue)).visible, 0);
    },
  );
});
