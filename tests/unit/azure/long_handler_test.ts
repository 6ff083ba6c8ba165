/**
 * kombu#337 on Azure Storage Queues: a handler that runs three visibility timeouts is not
 * redelivered to another consumer, because the virtual base renews the message's visibility with
 * its pop receipt while the handler runs; the message is deleted once, at the ack.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection } from "../../../src/connection.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import {
  AzureBackend,
  AzureStorageQueuesTransport,
  readAzureSettings,
} from "../../../transports/azure_storage_queues/mod.ts";
import {
  AZURITE_KEY,
  type Emulator,
  emulatorSkipReason,
  startAzurite,
} from "../../_support/emulators.ts";
import { longHandler } from "../../_support/long_handler.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await emulatorSkipReason("azurite"));

describe("Azure long handlers", () => {
  let azurite: Emulator;
  let connectionString = "";
  const transportOptions = (extra: Record<string, unknown> = {}) => ({
    connectionString,
    pollingInterval: 50,
    ...extra,
  });

  before(async () => {
    if (skip.reason) return;
    azurite = await startAzurite();
    connectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
      `AccountKey=${AZURITE_KEY};QueueEndpoint=${azurite.url}/devstoreaccount1;`;
  });
  after(async () => {
    if (skip.reason) return;
    await azurite?.stop();
  });

  it(
    "a handler of 3x the visibility timeout is not redelivered; the message is deleted once",
    skip.options(),
    async () => {
      const queue = `long-${crypto.randomUUID().slice(0, 8)}`;
      const visibilityTimeout = 1000;
      const outcome = await longHandler({
        connect: () =>
          new Connection("azurestoragequeues://", {
            transport: AzureStorageQueuesTransport,
            transportOptions: transportOptions({ visibilityTimeout }),
          }),
        queue,
        handlerMs: 3 * visibilityTimeout,
        settleMs: visibilityTimeout + 500,
      });
      assert.deepEqual(outcome.slow, [{ job: "long" }], "delivered once to the slow consumer");
      assert.deepEqual(outcome.other, [], "never redelivered to the other consumer");
      assert.ok(outcome.acked);
      const store = new AzureBackend(
        readAzureSettings({
          url: "azurestoragequeues://",
          transportOptions: transportOptions(),
        } as unknown as ConnectionParams),
      );
      try {
        assert.equal(await store.get(queue), undefined, "deleted: nothing visible");
        assert.equal(await store.size(queue), 0, "deleted: nothing hidden either");
      } finally {
        await store.close();
      }
    },
  );
});
