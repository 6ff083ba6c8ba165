/**
 * The options of the SQS transport, declared once ({@link SQS_OPTIONS}): camelCase with
 * durations in ms, or Kombu's `transport_options` names with Kombu's seconds, from
 * `transportOptions`, the URL query (Kombu's names and units) and the environment.
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import { readEnv } from "../../src/logger.ts";
import { declareOptions, type OptionSpec, readOptions } from "../../src/options/declare.ts";
import { VIRTUAL_OPTIONS } from "../../src/virtual/options.ts";
import { HTTP_CALL_OPTIONS } from "../_http/options.ts";
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
  /** Wait between polls of empty queues, ms (default 1000). */
  pollingInterval?: number;
}

const IGNORED = "accepted from Celery configurations and ignored: ";

const PREDEFINED_KEYS: Record<string, keyof SqsPredefinedQueue | undefined> = {
  url: "url",
  accessKeyId: "accessKeyId",
  access_key_id: "accessKeyId",
  secretAccessKey: "secretAccessKey",
  secret_access_key: "secretAccessKey",
  sessionToken: "sessionToken",
  session_token: "sessionToken",
  region: "region",
  // Kombu's per-queue retry of failed tasks (Celery's), not a transport matter.
  backoff_policy: undefined,
  backoff_tasks: undefined,
  backoffPolicy: undefined,
  backoffTasks: undefined,
};

function readPredefinedQueues(
  value: unknown,
  fail: (expected: string) => never,
): Record<string, SqsPredefinedQueue> {
  const expected = "{ name: { url, accessKeyId / access_key_id, ... } }";
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail(expected);
  const out: Record<string, SqsPredefinedQueue> = {};
  for (const [name, entry] of Object.entries(value)) {
    if (typeof entry !== "object" || entry === null) return fail(expected);
    const queue: Record<string, string> = {};
    for (const [key, field] of Object.entries(entry)) {
      if (!(key in PREDEFINED_KEYS)) {
        return fail(`${expected}; "${key}" of queue "${name}" is not one of them`);
      }
      const to = PREDEFINED_KEYS[key];
      if (to === undefined || field === undefined || field === null) continue;
      if (typeof field !== "string") return fail(`${expected}; "${key}" of "${name}" as text`);
      queue[to] = field;
    }
    if (!queue.url) return fail(`${expected}; queue "${name}" has no url`);
    out[name] = queue as unknown as SqsPredefinedQueue;
  }
  return out;
}

function readAttributes(value: unknown, fail: (expected: string) => never): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("an object of CreateQueue attributes");
  }
  const out: Record<string, string> = {};
  for (const [key, field] of Object.entries(value)) out[key] = String(field);
  return out;
}

/** Every option of the SQS transport (with the virtual base's), declared once. */
export const SQS_OPTIONS = declareOptions("SQS", {
  ...VIRTUAL_OPTIONS,
  region: {
    kind: "string",
    doc: "AWS region (default `AWS_REGION`, `AWS_DEFAULT_REGION`, `us-east-1`)",
  },
  endpoint: { kind: "string", own: true, doc: "Endpoint URL (default: the URL's host)" },
  isSecure: {
    kind: "boolean",
    doc: "https for an endpoint from the URL (default: not on loopback)",
  },
  accessKeyId: { kind: "string", own: true, doc: "Access key id (default: the URL's user)" },
  secretAccessKey: {
    kind: "string",
    secret: true,
    own: true,
    doc: "Secret access key (default: the URL's password)",
  },
  sessionToken: { kind: "string", secret: true, doc: "Session token of temporary credentials" },
  credentials: { kind: "any", own: true, doc: "Credentials or a provider (STS, SSO, ...)" },
  queueNamePrefix: { kind: "string", default: "", doc: "Prefixed to every queue name" },
  predefinedQueues: {
    kind: "object",
    doc: "Queues that exist, by SQS name; no other queue may be used",
    parse: (value, _spelling, fail) => readPredefinedQueues(value, fail),
  },
  visibilityTimeout: {
    kind: "duration",
    default: 1_800_000,
    min: 0,
    max: 43_200_000,
    doc: "Visibility timeout of created queues and received messages",
  },
  waitTimeSeconds: {
    kind: "number",
    default: 10,
    min: 0,
    max: 20,
    doc: "Long-poll wait of a receive, in seconds (as the name says)",
  },
  sqsBase64Encoding: { kind: "boolean", default: true, doc: "Base64-encode the envelope" },
  sqsCreationAttributes: {
    kind: "object",
    kombu: "sqs-creation-attributes",
    aliases: ["sqs_creation_attributes"],
    default: {},
    doc: "Extra `CreateQueue` attributes, SQS's names and units",
    parse: (value, _spelling, fail) => readAttributes(value, fail),
  },
  queueTags: { kind: "object", doc: "Tags of created queues" },
  rejectMode: {
    kind: "enum",
    values: ["delete", "redrive"],
    default: "delete",
    own: true,
    doc: "What reject without requeue does: delete, or leave it to the redrive policy",
  },
  maxMessageSize: {
    kind: "integer",
    default: 262_144,
    min: 1,
    max: 1_048_576,
    own: true,
    doc: "Largest `MessageBody` in bytes",
  },
  ...HTTP_CALL_OPTIONS,
  clientConfig: {
    kind: "object",
    kombu: "client-config",
    ignored: true,
    doc: IGNORED + "botocore's client settings; see maxAttempts and the retry delays",
  },
  regioninfo: { kind: "any", ignored: true, doc: IGNORED + "boto2's region object; see `region`" },
  port: { kind: "integer", ignored: true, doc: IGNORED + "give the port in the URL" },
});

// The compiler checks that every option of the public interface is declared.
const _declared: Record<keyof SqsTransportOptions, OptionSpec> = SQS_OPTIONS.options;

const LOOPBACK = /^(localhost|127(\.\d+){3}|::1|\[::1\])$/i;

/**
 * Reads the settings of one connection.
 *
 * @param params the connection parameters (URL, options)
 * @returns the settings
 * @throws {ConfigurationError} for an invalid option
 */
export function readSqsSettings(params: ConnectionParams): SqsSettings {
  const o = readOptions(SQS_OPTIONS, params);
  // The core fills in "localhost" for an empty host; `sqs://` means "AWS itself", so the host
  // and credentials are read from the URL as written.
  const url = params.url ? parseUrl(params.url) : undefined;
  const host = url ? url.hostname : params.hostname;
  const port = url ? url.port : params.port;
  const userid = params.userid ?? url?.userid;
  const password = params.password ?? url?.password;

  const region = o.region || readEnv("AWS_REGION") || readEnv("AWS_DEFAULT_REGION") ||
    "us-east-1";
  let endpoint = o.endpoint || undefined;
  if (!endpoint && host) {
    const secure = o.isSecure ?? !LOOPBACK.test(host);
    const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    endpoint = `${secure ? "https" : "http"}://${h}${port ? `:${port}` : ""}`;
  }

  let credentials = o.credentials as AwsCredentialSource | undefined;
  if (!credentials) {
    const accessKeyId = o.accessKeyId || userid || readEnv("AWS_ACCESS_KEY_ID");
    const secretAccessKey = o.secretAccessKey || password || readEnv("AWS_SECRET_ACCESS_KEY");
    const sessionToken = o.sessionToken || readEnv("AWS_SESSION_TOKEN");
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
  const predefined = o.predefinedQueues as Record<string, SqsPredefinedQueue> | undefined;
  return {
    region,
    endpoint,
    credentials,
    queueNamePrefix: o.queueNamePrefix,
    predefinedQueues: predefined && Object.keys(predefined).length > 0 ? predefined : undefined,
    visibilityTimeoutSeconds: Math.ceil(o.visibilityTimeout / 1000),
    waitTimeSeconds: Math.round(o.waitTimeSeconds),
    base64: o.sqsBase64Encoding,
    creationAttributes: o.sqsCreationAttributes as Record<string, string>,
    queueTags: o.queueTags as Record<string, string> | undefined,
    rejectMode: o.rejectMode,
    maxMessageSize: o.maxMessageSize,
    fetch: (o.fetch as FetchFunction | undefined) ?? ((request: Request) => fetch(request)),
    backoff: {
      attempts: o.maxAttempts,
      baseDelay: o.retryBaseDelay,
      maxDelay: o.maxRetryDelay,
    },
    pollingInterval: o.pollingInterval,
  };
}
