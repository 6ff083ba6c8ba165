/**
 * Retries for the HTTP transports (SQS, Azure Storage Queues): exponential backoff with full
 * jitter, as the AWS and Azure SDKs advise for throttling and server errors.
 *
 * A call is retried only when its classifier says so; the classifier also says whether the
 * failed attempt may have taken effect on the server (an ambiguous failure), so that a retried
 * send can be flagged as a possible duplicate.
 *
 * @module
 */

import { sleep } from "../../src/utils/sleep.ts";

export { sleep };

/** How one failed attempt is judged. */
export type FailureKind =
  /** Do not retry: the error goes to the caller. */
  | "fatal"
  /** Retry; the server refused the request, so it had no effect (throttling, 429). */
  | "refused"
  /** Retry; the request may have been carried out (a lost response, a 5xx, a timeout). */
  | "ambiguous";

/** How often and how long to retry. */
export interface BackoffPolicy {
  /** Attempts in total, the first one included (default 5). */
  attempts?: number;
  /** Upper bound of the first wait, in ms (default 50). */
  baseDelay?: number;
  /** Upper bound of any wait, in ms (default 5000). */
  maxDelay?: number;
  /** Stops waiting; the last error is thrown. */
  signal?: AbortSignal;
  /** Random source in [0, 1) (tests pin it). */
  random?: () => number;
  /** Waits; tests replace it to run without real time. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What {@link withBackoff} tells the attempt about earlier failures. */
export interface AttemptInfo {
  /** 0 for the first attempt. */
  attempt: number;
  /** True when an earlier attempt failed in a way that may have taken effect. */
  afterAmbiguousFailure: boolean;
}

/**
 * The wait before retry number `retry` (1-based): a uniform draw from
 * `[0, min(maxDelay, baseDelay * 2^(retry - 1))]` ("full jitter").
 *
 * @param retry the retry number, 1 for the first retry
 * @param baseDelay upper bound of the first wait, ms
 * @param maxDelay upper bound of any wait, ms
 * @param random a random number in [0, 1)
 * @returns the wait in ms
 */
export function backoffDelay(
  retry: number,
  baseDelay: number,
  maxDelay: number,
  random: number,
): number {
  const ceiling = Math.min(maxDelay, baseDelay * 2 ** Math.min(retry - 1, 30));
  return Math.floor(random * ceiling);
}

/**
 * Runs `run` until it succeeds, the classifier calls a failure fatal, the attempts are used up
 * or the signal aborts; then the last error is thrown.
 *
 * @param run one attempt
 * @param classify judges a failure
 * @param policy attempts and waits
 * @returns what the successful attempt returned
 * @throws the error of the last attempt
 */
export async function withBackoff<T>(
  run: (info: AttemptInfo) => Promise<T>,
  classify: (error: unknown) => FailureKind,
  policy: BackoffPolicy = {},
): Promise<T> {
  const attempts = Math.max(1, policy.attempts ?? 5);
  const base = policy.baseDelay ?? 50;
  const max = policy.maxDelay ?? 5000;
  const random = policy.random ?? Math.random;
  const wait = policy.sleep ?? sleep;
  let afterAmbiguousFailure = false;
  for (let attempt = 0;; attempt++) {
    try {
      return await run({ attempt, afterAmbiguousFailure });
    } catch (error) {
      const kind = classify(error);
      if (kind === "fatal" || attempt + 1 >= attempts || policy.signal?.aborted) throw error;
      if (kind === "ambiguous") afterAmbiguousFailure = true;
      await wait(backoffDelay(attempt + 1, base, max, random()), policy.signal);
      if (policy.signal?.aborted) throw error;
    }
  }
}

/**
 * Whether an HTTP status is worth retrying: 408, 429 and the 5xx of overload or outage.
 *
 * @param status the HTTP status
 * @returns true for 408, 429, 500, 502, 503, 504
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 500 || status === 502 ||
    status === 503 || status === 504;
}

/**
 * Whether a thrown value is a failure of `fetch` itself (no HTTP answer: refused, reset, DNS),
 * as opposed to an abort by the caller.
 *
 * @param error what `fetch` threw
 * @returns true for network failures
 */
export function isNetworkFailure(error: unknown): boolean {
  if (error instanceof DOMException && error.name === "AbortError") return false;
  return error instanceof TypeError ||
    (error instanceof Error && /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket|network/i
      .test(`${error.message} ${(error as { code?: string }).code ?? ""}`));
}
