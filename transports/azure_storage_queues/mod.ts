/**
 * The Azure Storage Queues transport, wire-compatible with Python Kombu's
 * (`kombu.transport.azurestoragequeues`): message text is Kombu's JSON envelope. HTTP only
 * (`fetch`, Web Crypto for Shared Key), so it runs on Deno, Bun, Node and Cloudflare Workers.
 *
 * URLs (Kombu's forms, plus connection strings):
 * - `azurestoragequeues://<account key>@https://<account>.queue.core.windows.net`
 * - `azurestoragequeues://<SAS token>@https://<account>.queue.core.windows.net`
 * - `azurestoragequeues://:<account key>@<account>` (Kombu 5.2)
 * - `azurestoragequeues://<key>@http://127.0.0.1:10001/devstoreaccount1` (Azurite)
 * - `azurestoragequeues://DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...`, or
 *   `UseDevelopmentStorage=true`, or `transportOptions.connectionString`
 * - `azurestoragequeues://DefaultAzureCredential@https://<account>.queue.core.windows.net` and
 *   `azurestoragequeues://ManagedIdentityCredential@...` (Kombu 5.3): with the credential itself
 *   in `transportOptions.credential` (wakame has no Azure SDK; without it a
 *   `ConfigurationError` says so)
 * - a token credential (`@azure/core-auth`'s `TokenCredential` shape, such as
 *   `new DefaultAzureCredential()` from `@azure/identity`) in `transportOptions.credential`:
 *   tokens for `https://storage.azure.com/.default`, kept until 2 minutes before they expire,
 *   asked for again then and after a 401
 *
 * Options (declared once in `AZURE_OPTIONS`; camelCase with durations in ms, or Kombu's
 * snake_case names with Kombu's seconds as in a Celery `broker_transport_options`; see
 * {@link AzureTransportOptions}): `queueNamePrefix`, `connectionString`, `credential`, `ackMode`, `visibilityTimeout` (ms, 30 000),
 * `messageTtl` (ms), `pollingInterval` (ms, 1000), `maxMessageSize` (65 536), `maxAttempts`,
 * `retryBaseDelay`, `maxRetryDelay`, `fetch`.
 *
 * Acknowledgement: `ackMode: "visibility"` is the default: a received message stays hidden
 * (renewed every half `visibilityTimeout` while the consumer holds it), `ack` and
 * `reject({ requeue: false })` delete it, `requeue` and a close make it visible at once
 * (`DequeueCount` > 1 marks the redelivery). A crashed consumer loses nothing: the message shows
 * again after `visibilityTimeout`. It is the default because that is what `ack()` promises on
 * every other wakame transport. `ackMode: "deleteOnReceive"` is Kombu's behaviour (at most
 * once: deleted when received, requeue sends a copy).
 *
 * Names: prefix + name, every ASCII punctuation character becomes `-` (Kombu); the result must
 * be 3 to 63 lowercase letters, digits and single dashes, or a `ConfigurationError` says why.
 * A message text over 64 KiB fails at publish with a `LimitExceededError`. Text that is not
 * Kombu's envelope is delivered as a raw body without content type.
 *
 * Capabilities: direct exchanges (bindings live in the process, as in Kombu); redelivered flag;
 * persistent. No priority, fanout across processes, confirms or guaranteed order.
 *
 * @example
 * ```ts ignore
 * import { Connection } from "@wakame/wakame";
 * const connection = new Connection(
 *   "azurestoragequeues://DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=...",
 *   { transportOptions: { queueNamePrefix: "prod-", visibilityTimeout: 60_000 } },
 * );
 * ```
 *
 * @module
 */

import type { Capabilities, ConnectionParams, Transport } from "../../src/transport.ts";
import type { QueueBackend } from "../../src/virtual/backend.ts";
import { type BackendContext, virtualTransport } from "../../src/virtual/transport.ts";
import { AzureBackend } from "./backend.ts";
import { AZURE_OPTIONS, readAzureSettings } from "./options.ts";

export {
  type AzureAuth,
  type AzureTokenCredential,
  sharedKeyStringToSign,
  type SignableRequest,
} from "./auth.ts";
export {
  AZURE_STORAGE_SCOPE,
  type AzureAccessToken,
  TOKEN_REFRESH_BEFORE_EXPIRY_MS,
} from "./credential.ts";
export type { AttemptInfo, BackoffPolicy, FailureKind } from "../_http/backoff.ts";
export { AzureBackend, type AzureReceipt } from "./backend.ts";
export { POSSIBLE_DUPLICATE_HEADER } from "../../src/virtual/backend.ts";
export {
  type Receipt,
  ReceiptLease,
  type ReceiptLeaseOptions,
  type ReceiptRequests,
} from "../_http/receipts.ts";
export {
  AZURE_API_VERSION,
  type AzureAnswer,
  type AzureCallOptions,
  AzureQueueClient,
  type AzureQueueMessage,
  parseMessagesList,
  xmlEscape,
  xmlUnescape,
} from "./client.ts";
export { azureEntityName, azureQueueName } from "./names.ts";
export {
  type AzureAckMode,
  type AzureEndpoint,
  type AzureSettings,
  type AzureTransportOptions,
  DEV_ACCOUNT_KEY,
  DEV_ACCOUNT_NAME,
  type FetchFunction,
  parseAzureUrl,
  parseConnectionString,
  readAzureSettings,
} from "./options.ts";
import { CLOUD_QUEUE_CAPABILITIES } from "../_http/capabilities.ts";
import { registerTransport } from "../../src/registry.ts";

/** What `azurestoragequeues://` can do. */
export const azureStorageQueuesCapabilities: Capabilities = CLOUD_QUEUE_CAPABILITIES;

/**
 * Opens the Azure store of one connection.
 *
 * @param params URL and options
 * @param context where the store reports survived failures
 * @returns the store
 * @throws {ConfigurationError} for an invalid URL or option
 */
export function openAzureBackend(
  params: ConnectionParams,
  context?: Pick<BackendContext, "warn">,
): Promise<QueueBackend> {
  return Promise.resolve(new AzureBackend(readAzureSettings(params), context));
}

/** The `azurestoragequeues://` transport (register it with `rawUrl: true`). */
export const AzureStorageQueuesTransport: Transport = virtualTransport({
  name: "azurestoragequeues",
  capabilities: azureStorageQueuesCapabilities,
  openBackend: openAzureBackend,
  options: AZURE_OPTIONS,
  scopeKey: (params) => {
    const settings = readAzureSettings(params);
    return `azurestoragequeues|${settings.accountUrl}|${params.virtualHost}`;
  },
});

// Importing this module makes its URL schemes resolve to it (also in bundles, where the
// registry cannot load it by itself).
registerTransport(["azurestoragequeues"], AzureStorageQueuesTransport, { rawUrl: true });
