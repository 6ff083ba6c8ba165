/**
 * The Amazon SQS transport, wire-compatible with Python Kombu's (`kombu.transport.SQS`): Celery
 * workers and wakame can share queues. HTTP only (`@aws-sdk/client-sqs` over `fetch`), so it runs
 * on Deno, Bun, Node and Cloudflare Workers.
 *
 * URL: `sqs://[accessKeyId:secretAccessKey@][host[:port]]`. With no host the region's endpoint
 * is used; with one (an emulator such as fauxqs or LocalStack) requests go to
 * `http://host:port` for loopback hosts and `https://...` otherwise (`isSecure` decides).
 * Percent-encode `/` and `+` of a secret key. Credentials come from the URL, the options, then
 * `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, then the SDK's default
 * chain (profiles, SSO, container and instance roles) where the runtime has one (not workerd).
 *
 * Options (declared once in `SQS_OPTIONS`; camelCase with durations in ms, or Kombu's
 * snake_case names with Kombu's seconds as in a Celery `broker_transport_options`; see
 * {@link SqsTransportOptions}): `region`, `endpoint`, `isSecure`, `accessKeyId`, `secretAccessKey`, `sessionToken`, `credentials`, `queueNamePrefix`,
 * `predefinedQueues`, `visibilityTimeout` (ms, default 1 800 000 = Kombu's 1800 s),
 * `waitTimeSeconds` (seconds as the name says, default 10), `pollingInterval` (ms),
 * `sqsBase64Encoding` (true), `sqsCreationAttributes`, `queueTags`, `rejectMode`,
 * `maxMessageSize`, `maxAttempts`, `retryBaseDelay`, `maxRetryDelay`, `fetch`.
 *
 * Wire format (as Kombu): queue names are prefix + name with `.` -> `-` and other punctuation ->
 * `_` (`.fifo` kept); `MessageBody` is base64 of the JSON envelope; text that is not Kombu's
 * envelope is delivered as a raw body without content type. FIFO queues (`.fifo`) get
 * `MessageGroupId` from the header `MessageGroupId` (default `default`) and
 * `MessageDeduplicationId` from the header of that name (default the delivery tag).
 *
 * Acknowledgement: `ack` = DeleteMessage, `requeue` = ChangeMessageVisibility(0) (the
 * redelivery is marked by `ApproximateReceiveCount` > 1), unacked messages go back the same way
 * when a channel closes. `reject({ requeue: false })` deletes the message by default (AMQP's
 * "drop"); with `rejectMode: "redrive"` it is left in flight as Kombu does, so the queue's
 * redrive policy moves it to its dead-letter queue after `maxReceiveCount` receives.
 *
 * Long handlers (kombu#337): while a delivery is unacknowledged its visibility is renewed
 * (ChangeMessageVisibility to `visibilityTimeout` from now, at half of it), so a handler that runs
 * past the visibility timeout is not redelivered to another consumer; a consumer that dies stops
 * renewing and the message comes back after at most one timeout. The renewal assumes the queue's
 * `VisibilityTimeout` is `visibilityTimeout` (true when wakame or Kombu created it): for a queue
 * made otherwise, set the option to the queue's value. SQS refuses to extend past 12 hours from
 * the receive; that failure is logged and the message is delivered again. (Kombu does not renew.)
 *
 * Reliability: throttling, 5xx answers and network failures are retried with exponential
 * backoff and full jitter (`maxAttempts`, default 5). A `SendMessage` sent again after a failure
 * whose answer was lost carries the message attribute `wakame.possible-duplicate`, which a
 * wakame consumer sees as the header `x-wakame-possible-duplicate: true`. An expired receipt
 * handle on ack or requeue is reported as a warning: SQS delivers that message again.
 * A message whose encoded body is over `maxMessageSize` (262 144 bytes) fails at publish with a
 * `LimitExceededError`.
 *
 * Consuming: one long poll (`ReceiveMessage`, up to 10 messages, `waitTimeSeconds`) runs per
 * consumed queue at once, and the first answer with messages is delivered. Closing a connection
 * waits for running long polls (at most `waitTimeSeconds`) rather than cutting them short, which
 * could leave what they received hidden until the visibility timeout. `basicGet` is a short poll:
 * on real SQS it may miss a message that exists (not on emulators).
 *
 * Capabilities: direct exchanges (bindings live in the process, as in Kombu); redelivered flag;
 * persistent. No priority, TTL, fanout across processes, confirms or ordering (standard queues).
 *
 * @example
 * ```ts ignore
 * import { Connection } from "@wakame/wakame";
 * const connection = new Connection("sqs://", {
 *   transportOptions: { region: "eu-west-1", queueNamePrefix: "prod-", waitTimeSeconds: 20 },
 * });
 * ```
 *
 * @module
 */

import type { Capabilities, ConnectionParams, Transport } from "../../src/transport.ts";
import type { QueueBackend } from "../../src/virtual/backend.ts";
import { type BackendContext, virtualTransport } from "../../src/virtual/transport.ts";
import { SqsBackend } from "./backend.ts";
import { readSqsSettings, SQS_OPTIONS } from "./options.ts";

export { POSSIBLE_DUPLICATE_ATTRIBUTE, SqsBackend } from "./backend.ts";
export { POSSIBLE_DUPLICATE_HEADER } from "../../src/virtual/backend.ts";
export {
  type Receipt,
  ReceiptLease,
  type ReceiptLeaseOptions,
  type ReceiptRequests,
} from "../_http/receipts.ts";
export type { SqsReceipt } from "./backend.ts";
export {
  type AwsCredentials,
  type AwsCredentialSource,
  SqsClient,
  type SqsClientSettings,
  type SqsCommand,
} from "./client.ts";
export type { AttemptInfo, BackoffPolicy, FailureKind } from "../_http/backoff.ts";
export { decodeSqsBody, encodeSqsBody, optionalBase64Decode } from "./codec.ts";
export {
  type FetchFunction,
  FetchRequestHandler,
  type SdkHttpRequest,
  type SdkHttpResponse,
} from "./fetch_handler.ts";
export { sqsEntityName, sqsQueueName } from "./names.ts";
export {
  readSqsSettings,
  type SqsPredefinedQueue,
  type SqsSettings,
  type SqsTransportOptions,
} from "./options.ts";
import { CLOUD_QUEUE_CAPABILITIES } from "../_http/capabilities.ts";
import { registerTransport } from "../../src/registry.ts";

/** What `sqs://` can do. */
export const sqsCapabilities: Capabilities = CLOUD_QUEUE_CAPABILITIES;

/**
 * Opens the SQS store of one connection.
 *
 * @param params URL and options
 * @param context where the store reports survived failures
 * @returns the store
 * @throws {ConfigurationError} for invalid options
 */
export function openSqsBackend(
  params: ConnectionParams,
  context?: Pick<BackendContext, "warn">,
): Promise<QueueBackend> {
  const settings = readSqsSettings(params);
  return Promise.resolve(new SqsBackend(settings, context, settings.pollingInterval));
}

/** The `sqs://` transport. */
export const SqsTransport: Transport = virtualTransport({
  name: "sqs",
  capabilities: sqsCapabilities,
  openBackend: openSqsBackend,
  options: SQS_OPTIONS,
  scopeKey: (params) => `sqs|${params.hostname}:${params.port ?? ""}|${params.virtualHost}`,
});

// Importing this module makes its URL schemes resolve to it (also in bundles, where the
// registry cannot load it by itself).
registerTransport(["sqs"], SqsTransport);
