/**
 * kombu#337 on Azure Storage Queues: a handler that runs three visibility timeouts is not
 * redelivered to another consumer, because the virtual base renews the message's visibility with
 * its pop receipt while the handler runs; the message is deleted once, at the ack.
 */
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
import { expectLongHandlerSettledOnce } from "../../_support/long_handler.ts";
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
    () =>
      expectLongHandlerSettledOnce(
        () =>
          new Connection("azurestoragequeues://", {
            transport: AzureStorageQueuesTransport,
            transportOptions: transportOptions({ visibilityTimeout: 1000 }),
          }),
        () =>
          new AzureBackend(
            readAzureSettings({
              url: "azurestoragequeues://",
              transportOptions: transportOptions(),
            } as unknown as ConnectionParams),
          ),
        1000,
      ),
  );
});
