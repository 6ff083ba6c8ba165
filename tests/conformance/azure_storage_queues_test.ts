import { after, before } from "node:test";
import { conformanceSuite } from "../../testing/conformance.ts";
import { azureInspector } from "../_support/inspect.ts";
import {
  AZURITE_KEY,
  type Emulator,
  emulatorSkipReason,
  startAzurite,
} from "../_support/emulators.ts";
import {
  azureStorageQueuesCapabilities,
  AzureStorageQueuesTransport,
} from "../../transports/azure_storage_queues/mod.ts";
import { skipReporter } from "../_support/skips.ts";

const skip = await emulatorSkipReason("azurite");
let azurite: Emulator | undefined;
// The emulator's port is known only once it runs: the suite reads the connection string from
// the option object filled in here (the suite connects in its own `before`, after this one).
const options = {
  transport: AzureStorageQueuesTransport,
  transportOptions: { pollingInterval: 50, visibilityTimeout: 5000 } as Record<string, unknown>,
};

before(async () => {
  if (skip) return;
  azurite = await startAzurite();
  options.transportOptions.connectionString = "DefaultEndpointsProtocol=http;" +
    `AccountName=devstoreaccount1;AccountKey=${AZURITE_KEY};` +
    `QueueEndpoint=${azurite.url}/devstoreaccount1;`;
});
after(async () => {
  await azurite?.stop();
});

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "azurestoragequeues (Azurite)",
  url: "azurestoragequeues://",
  capabilities: azureStorageQueuesCapabilities,
  options,
  inspect: azureInspector(options.transportOptions),
  skip,
});
