/**
 * The SQS calls the transport makes, on `@aws-sdk/client-sqs` with `fetch` underneath, behind
 * one retry policy (exponential backoff with full jitter) and one error mapping onto
 * `src/errors.ts`.
 *
 * The SDK's own retries are off (`maxAttempts: 1`): this module retries, so that it knows when
 * a `SendMessage` was sent again after an answer was lost and can flag it as a possible
 * duplicate.
 *
 * @module
 */

import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import { ConfigurationError, ConnectionError, HttpError, NotFoundError } from "../../src/errors.ts";
import {
  type AttemptInfo,
  type BackoffPolicy,
  type FailureKind,
  isNetworkFailure,
  isRetryableStatus,
  withBackoff,
} from "../_http/backoff.ts";
import { isExpiredTokenCode, RefreshingCredentials } from "./credentials.ts";
import { type FetchFunction, FetchRequestHandler } from "./fetch_handler.ts";

/** AWS credentials. */
export interface AwsCredentials {
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key: never logged. */
  secretAccessKey: string;
  /** Session token of temporary credentials. */
  sessionToken?: string;
  /** When temporary credentials stop working: a function is asked again 5 minutes before. */
  expiration?: Date;
}

/**
 * Credentials, or a provider of them (such as one of `@aws-sdk/credential-providers`). A
 * provider is called once and again 5 minutes before the `expiration` of its answer, and when
 * SQS answers `ExpiredToken` (see `transports/sqs/credentials.ts`).
 */
export type AwsCredentialSource = AwsCredentials | (() => Promise<AwsCredentials>);

/** How to reach SQS. */
export interface SqsClientSettings {
  /** AWS region. */
  region: string;
  /** Endpoint URL (emulators, VPC endpoints); the region's endpoint when absent. */
  endpoint?: string;
  /** Credentials; absent leaves them to the SDK's default chain (Node, Deno, Bun). */
  credentials?: AwsCredentialSource;
  /** The `fetch` requests go through. */
  fetch: FetchFunction;
  /** Retry policy of every call. */
  backoff: BackoffPolicy;
}

/** SQS error codes that mean "slow down": retried without suspicion of a duplicate. */
const THROTTLING_CODES: ReadonlySet<string> = new Set([
  "ThrottlingException",
  "Throttling",
  "RequestThrottled",
  "RequestThrottledException",
  "AWS.SimpleQueueService.RequestThrottled",
  "TooManyRequestsException",
  "KmsThrottled",
  "SlowDown",
]);

/** Error codes of a queue that does not exist (JSON and legacy query protocol names). */
const NOT_FOUND_CODES: ReadonlySet<string> = new Set([
  "QueueDoesNotExist",
  "AWS.SimpleQueueService.NonExistentQueue",
]);

/** Error codes of a receipt handle that is no longer valid (expired, already deleted). */
const STALE_HANDLE_CODES: ReadonlySet<string> = new Set([
  "ReceiptHandleIsInvalid",
  "MessageNotInflight",
  "AWS.SimpleQueueService.MessageNotInflight",
  "InvalidReceiptHandle",
]);

/** What an SDK service error carries. */
interface ServiceFailure {
  status: number;
  code: string;
  message: string;
  requestId?: string;
}

/**
 * Reads the status, code and request id of an SDK service error.
 *
 * @param error what the SDK threw
 * @returns the fields, or `undefined` when it is not an answer of the service
 */
export function serviceFailure(error: unknown): ServiceFailure | undefined {
  if (!(error instanceof Error)) return undefined;
  const e = error as Error & {
    $metadata?: { httpStatusCode?: number; requestId?: string };
    Code?: string;
    code?: string;
  };
  const status = e.$metadata?.httpStatusCode;
  if (typeof status !== "number") return undefined;
  return {
    status,
    code: e.Code ?? e.name ?? e.code ?? "Unknown",
    message: e.message,
    requestId: e.$metadata?.requestId,
  };
}

/**
 * Judges a failed SQS call for the retry loop.
 *
 * @param error what the call threw
 * @returns `refused` for throttling, `ambiguous` for server errors and network failures,
 *   `fatal` otherwise
 */
export function classifySqsFailure(error: unknown): FailureKind {
  const failure = serviceFailure(error);
  if (failure) {
    if (THROTTLING_CODES.has(failure.code) || failure.status === 429) return "refused";
    if ((error as { $retryable?: { throttling?: boolean } }).$retryable?.throttling) {
      return "refused";
    }
    return isRetryableStatus(failure.status) ? "ambiguous" : "fatal";
  }
  return isNetworkFailure(error) ? "ambiguous" : "fatal";
}

/**
 * Whether an error says a receipt handle has expired or was already used (the message went
 * back to the queue or was deleted meanwhile).
 *
 * @param error what a DeleteMessage / ChangeMessageVisibility call threw
 * @returns true for a stale receipt handle
 */
export function isStaleReceiptHandle(error: unknown): boolean {
  const failure = serviceFailure(error);
  if (!failure) return false;
  return STALE_HANDLE_CODES.has(failure.code) ||
    (failure.code === "InvalidParameterValue" && /receipt handle/i.test(failure.message));
}

/**
 * Maps an SDK failure onto wakame's errors.
 *
 * @param action what failed, the action first (`send to queue "video"`)
 * @param error what the SDK threw
 * @param endpoint where the request went (for network failures)
 * @returns a {@link NotFoundError}, {@link HttpError}, {@link ConnectionError} or
 *   {@link ConfigurationError}
 */
export function sqsError(action: string, error: unknown, endpoint: string): Error {
  if (error instanceof DOMException && error.name === "AbortError") return error;
  const failure = serviceFailure(error);
  if (failure) {
    if (NOT_FOUND_CODES.has(failure.code)) {
      return new NotFoundError(`Cannot ${action}: the queue does not exist`, {
        replyCode: 404,
        cause: error,
      });
    }
    return new HttpError(`Cannot ${action}: ${failure.code}: ${failure.message}`, {
      status: failure.status,
      code: failure.code,
      requestId: failure.requestId,
      cause: error,
    });
  }
  if (isNetworkFailure(error)) {
    return new ConnectionError(`Cannot ${action}: SQS at ${endpoint} is unreachable`, {
      cause: error,
    });
  }
  const name = (error as Error)?.name ?? "";
  if (/Credential/i.test(name) || /credential/i.test(String((error as Error)?.message))) {
    return new ConfigurationError(
      `Cannot ${action}: no AWS credentials (give them in the URL, the options or the environment)`,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** A command object of `@aws-sdk/client-sqs` (any of its `*Command` classes). */
// deno-lint-ignore no-explicit-any
export type SqsCommand = any;

/**
 * One SQS endpoint with retries. Commands come from `@aws-sdk/client-sqs` so that bundlers keep
 * only those the transport uses.
 */
export class SqsClient {
  readonly #sdk: SQSClient;
  readonly #backoff: BackoffPolicy;
  readonly #endpoint: string;
  readonly #classify: (error: unknown) => FailureKind = classifySqsFailure;

  /**
   * Makes a client (the SDK client is built at once, no request is made).
   *
   * @param settings region, endpoint, credentials, fetch and retry policy
   */
  constructor(settings: SqsClientSettings) {
    const config: SQSClientConfig = {
      region: settings.region,
      maxAttempts: 1,
      requestHandler: new FetchRequestHandler(settings.fetch) as unknown as SQSClientConfig[
        "requestHandler"
      ],
    };
    if (settings.endpoint) config.endpoint = settings.endpoint;
    if (typeof settings.credentials === "function") {
      const refreshing = new RefreshingCredentials(settings.credentials);
      config.credentials = refreshing.provider();
      // ExpiredToken: drop the kept credentials and try again (the request had no effect).
      this.#classify = (error) => {
        const failure = serviceFailure(error);
        if (failure && isExpiredTokenCode(failure.code)) {
          refreshing.expire();
          return "refused";
        }
        return classifySqsFailure(error);
      };
    } else if (settings.credentials) {
      config.credentials = settings.credentials;
    }
    this.#sdk = new SQSClient(config);
    this.#backoff = settings.backoff;
    this.#endpoint = settings.endpoint ?? `the ${settings.region} endpoint`;
  }

  /**
   * Sends a command, retrying throttling, server errors and network failures.
   *
   * @param action what it does, for error messages (`receive from queue "video"`)
   * @param make builds the command; told whether an earlier attempt may have taken effect
   * @param signal aborts the call and the waits between attempts
   * @returns the SDK's output
   * @throws {NotFoundError} for a missing queue
   * @throws {HttpError} for other refusals of the service
   * @throws {ConnectionError} when SQS cannot be reached
   */
  async send<T>(
    action: string,
    make: (info: AttemptInfo) => SqsCommand,
    signal?: AbortSignal,
  ): Promise<T> {
    try {
      return await withBackoff(
        (info) => this.#sdk.send(make(info), signal ? { abortSignal: signal } : {}) as Promise<T>,
        this.#classify,
        { ...this.#backoff, signal },
      );
    } catch (error) {
      throw sqsError(action, error, this.#endpoint);
    }
  }

  /** Releases the SDK client. */
  destroy(): void {
    this.#sdk.destroy();
  }
}
