/**
 * The options of the SQS transport: Kombu's `transport_options` in camelCase, read from the URL,
 * `transportOptions` and the environment.
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import { readEnv } from "../../src/logger.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import { parseUrl } from "../../src/url.ts";
import type { BackoffPolicy } from "../_http/backoff.ts";
import type { AwsCredentialSource } from "./client.ts";
import type { FetchFunction } from "./fetch_handler.ts";

/** A queue that exists already, with its own URL and maybe its own credentials. */
export interface SqsPredefinedQueue {
  /** The queue URL. */
  url: string;
  /** Access key id for this queue (default: the connection's). */
  accessKeyId?: string;
  /** Secret access key for this queue. */
  secretAccessKey?: string;
  /** Session token for this queue. */
  sessionToken?: string;
  /** Region of this queue (default: the connection's). */
  region?: string;
}

/**
 * `transportOptions` of `sqs://` (Kombu's names in camelCase; durations in milliseconds where
 * Kombu has seconds, except `waitTimeSeconds`, whose name says its unit).
 */
export interface SqsTransportOptions {
  /** AWS region (Kombu `region`); default `AWS_REGION`, `AWS_DEFAULT_REGION`, `us-east-1`. */
  region?: string;
  /** Endpoint URL; default from the URL's host, else the region's SQS endpoint. */
  endpoint?: string;
  /** Use https for an endpoint taken from the URL (default: http for loopback, else https). */
  isSecure?: boolean;
  /** Access key id (default: the URL's user, then `AWS_ACCESS_KEY_ID`, then the SDK chain). */
  accessKeyId?: string;
  /** Secret access key (default: the URL's password, then `AWS_SECRET_ACCESS_KEY`). */
  secretAccessKey?: string;
  /** Session token of temporary credentials (Kombu `session_token`; `AWS_SESSION_TOKEN`). */
  sessionToken?: string;
  /**
   * Credentials or a provider, for other sources (STS, SSO, a secrets store); a provider is
   * asked again 5 minutes before the `expiration` of its answer and after `ExpiredToken`.
   */
  credentials?: AwsCredentialSource;
  /** Prefixed to every queue name (Kombu `queue_name_prefix`). */
  queueNamePrefix?: string;
  /** Queues that exist, by SQS name (Kombu `predefined_queues`); no other queue may be used. */
  predefinedQueues?: Record<string, SqsPredefinedQueue>;
  /** Visibility timeout of created queues and received messages, ms (Kombu 1800 s). */
  visibilityTimeout?: number;
  /** Long-poll wait of a receive, in seconds, 0 to 20 (Kombu `wait_time_seconds`, 10). */
  waitTimeSeconds?: number;
  /** Poll interval of the virtual base in ms (Kombu `polling_interval`, 1 s). */
  pollingInterval?: number;
  /** Base64-encode the envelope in `MessageBody` (Kombu `sqs_base64_encoding`, true). */
  sqsBase64Encoding?: boolean;
  /** Extra `CreateQueue` attributes (Kombu `sqs-creation-attributes`), SQS's names and units. */
  sqsCreationAttributes?: Record<string, string | number | boolean>;
  /** Tags of created queues (Kombu `queue_tags`). */
  queueTags?: Record<string, string>;
  /**
   * What `reject({ requeue: false })` does: `delete` (default) removes the message, as AMQP
   * drops it; `redrive` leaves it in flight, as Kombu does, so that the queue's redrive policy
   * moves it to a dead-letter queue after `maxReceiveCount` receives.
   */
  rejectMode?: "delete" | "redrive";
  /** Largest `MessageBody` in bytes (default 262 144, SQS's classic 256 KiB). */
  maxMessageSize?: number;
  /** Attempts per call, first included, for throttling and server errors (default 5). */
  maxAttempts?: number;
  /** Upper bound of the first retry wait, ms (default 50); doubles up to `maxRetryDelay`. */
  retryBaseDelay?: number;
  /** Upper bound of any retry wait, ms (default 5000). */
  maxRetryDelay?: number;
  /** The `fetch` to send requests with (default: the global one). */
  fetch?: FetchFunction;
}

/** The settings one SQS connection runs with. */
export interface SqsSettings {
  /** AWS region. */
  region: string;
  /** Endpoint URL, or undefined for the region's. */
  endpoint: string | undefined;
  /** Credentials, or undefined for the SDK's default chain. */
  credentials: AwsCredentialSource | undefined;
  /** Prefix of every queue name. */
  queueNamePrefix: string;
  /** Queues that exist, by SQS name; no others are used. */
  predefinedQueues: Record<string, SqsPredefinedQueue> | undefined;
  /** Seconds, as SQS takes it. */
  visibilityTimeoutSeconds: number;
  /** Long-poll wait of a receive, seconds. */
  waitTimeSeconds: number;
  /** Add Kombu's outer base64 layer. */
  base64: boolean;
  /** Extra CreateQueue attributes. */
  creationAttributes: Record<string, string>;
  /** Tags of created queues. */
  queueTags: Record<string, string> | undefined;
  /** What reject without requeue does. */
  rejectMode: "delete" | "redrive";
  /** Largest MessageBody, bytes. */
  maxMessageSize: number;
  /** The fetch requests go through. */
  fetch: FetchFunction;
  /** Retry policy of every call. */
  backoff: BackoffPolicy;
}

function bool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "1" || value === 1) return true;
  if (value === "false" || value === "0" || value === 0) return false;
  throw new ConfigurationError(`Cannot read SQS option "${name}": expected true or false`);
}

function num(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || value === "") return fallback;
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n < min || n > max) {
    throw new ConfigurationError(
      `Cannot read SQS option "${name}": expected a number from ${min} to ${max}`,
    );
  }
  return n;
}

function str(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") {
    throw new ConfigurationError(`Cannot read SQS option "${name}": expected a string`);
  }
  return value;
}

const LOOPBACK = /^(localhost|127(\.\d+){3}|::1|\[::1\])$/i;

/**
 * Reads the settings of one connection.
 *
 * @param params the connection parameters (URL, options)
 * @returns the settings
 * @throws {ConfigurationError} for an invalid option
 */
export function readSqsSettings(params: ConnectionParams): SqsSettings {
  const o = params.transportOptions as SqsTransportOptions & Record<string, unknown>;
  // The core fills in "localhost" for an empty host; `sqs://` means "AWS itself", so the host
  // and credentials are read from the URL as written.
  const url = params.url ? parseUrl(params.url) : undefined;
  const host = url ? url.hostname : params.hostname;
  const port = url ? url.port : params.port;
  const userid = params.userid ?? url?.userid;
  const password = params.password ?? url?.password;

  const region = str(o.region, "region") ?? readEnv("AWS_REGION") ??
    readEnv("AWS_DEFAULT_REGION") ?? "us-east-1";
  let endpoint = str(o.endpoint, "endpoint");
  if (!endpoint && host) {
    const secure = bool(o.isSecure, "isSecure", !LOOPBACK.test(host));
    const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    endpoint = `${secure ? "https" : "http"}://${h}${port ? `:${port}` : ""}`;
  }

  let credentials: AwsCredentialSource | undefined = o.credentials;
  if (!credentials) {
    const accessKeyId = str(o.accessKeyId, "accessKeyId") ?? userid ??
      readEnv("AWS_ACCESS_KEY_ID");
    const secretAccessKey = str(o.secretAccessKey, "secretAccessKey") ?? password ??
      readEnv("AWS_SECRET_ACCESS_KEY");
    const sessionToken = str(o.sessionToken, "sessionToken") ?? readEnv("AWS_SESSION_TOKEN");
    if (accessKeyId && secretAccessKey) {
      credentials = sessionToken
        ? { accessKeyId, secretAccessKey, sessionToken }
        : { accessKeyId, secretAccessKey };
    } else if (accessKeyId || secretAccessKey) {
      throw new ConfigurationError(
        "Cannot configure SQS credentials: give both the access key id and the secret key",
      );
    }
  }

  const creationAttributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(o.sqsCreationAttributes ?? {})) {
    creationAttributes[key] = String(value);
  }
  const rejectMode = o.rejectMode ?? "delete";
  if (rejectMode !== "delete" && rejectMode !== "redrive") {
    throw new ConfigurationError(
      `Cannot read SQS option "rejectMode": expected "delete" or "redrive", got "${rejectMode}"`,
    );
  }
  const visibilityMs = num(o.visibilityTimeout, "visibilityTimeout", 1_800_000, 0, 43_200_000);
  const fetchFunction = o.fetch ?? ((request: Request) => fetch(request));
  return {
    region,
    endpoint,
    credentials,
    queueNamePrefix: str(o.queueNamePrefix, "queueNamePrefix") ?? "",
    predefinedQueues: o.predefinedQueues && Object.keys(o.predefinedQueues).length > 0
      ? o.predefinedQueues
      : undefined,
    visibilityTimeoutSeconds: Math.ceil(visibilityMs / 1000),
    waitTimeSeconds: Math.round(num(o.waitTimeSeconds, "waitTimeSeconds", 10, 0, 20)),
    base64: bool(o.sqsBase64Encoding, "sqsBase64Encoding", true),
    creationAttributes,
    queueTags: o.queueTags,
    rejectMode,
    maxMessageSize: num(o.maxMessageSize, "maxMessageSize", 262_144, 1, 1_048_576),
    fetch: fetchFunction,
    backoff: {
      attempts: num(o.maxAttempts, "maxAttempts", 5, 1, 100),
      baseDelay: num(o.retryBaseDelay, "retryBaseDelay", 50, 0, 60_000),
      maxDelay: num(o.maxRetryDelay, "maxRetryDelay", 5000, 0, 600_000),
    },
  };
}
