/**
 * Kombu's retry policy (`kombu.utils.functional.retry_over_time`) in milliseconds, with optional
 * jitter and an AbortSignal.
 *
 * @module
 */

import { isRecoverable, TimeoutError } from "./errors.ts";

/**
 * When and how often to retry (Kombu's `retry_policy`, converted from seconds to milliseconds).
 */
export interface RetryPolicy {
  /** Retries after the first attempt; `Infinity` retries forever (Kombu's `None`). */
  maxRetries?: number;
  /** Wait before the first retry, in ms (Kombu `interval_start`, seconds). */
  intervalStart?: number;
  /** Added to the wait after each retry, in ms (Kombu `interval_step`). */
  intervalStep?: number;
  /** Longest wait, in ms (Kombu `interval_max`). */
  intervalMax?: number;
  /** Spread each wait randomly over [wait/2, wait] so clients do not retry in lockstep. */
  jitter?: boolean;
  /** Stops retrying (the last error is thrown, or an AbortError if none). */
  signal?: AbortSignal;
  /** Gives up after this many ms in total. */
  timeout?: number;
  /** Decides which errors are retried (default: recoverable ones, see `isRecoverable`). */
  retryOn?: (error: unknown) => boolean;
  /** Called before each wait with the error, the retry number (1-based) and the wait in ms. */
  onRetry?: (error: unknown, attempt: number, delay: number) => void | Promise<void>;
}

/** The waits of a policy, in ms: `intervalStart`, then growing by `intervalStep` up to the max. */
export function* retryDelays(policy: RetryPolicy): Generator<number, void, undefined> {
  const max = policy.maxRetries ?? Infinity;
  const start = policy.intervalStart ?? 2000;
  const step = policy.intervalStep ?? 2000;
  const ceiling = policy.intervalMax ?? 30000;
  for (let attempt = 0; attempt < max; attempt++) {
    const delay = Math.min(start + step * attempt, ceiling);
    yield policy.jitter ? delay / 2 + Math.random() * (delay / 2) : delay;
  }
}

/**
 * The waits of a policy over `roundLength` alternate URLs (Kombu's `ensure_connection`): the next
 * URL is tried at once, and the policy's wait comes after each full round.
 *
 * @param policy the retry policy (`maxRetries` counts every attempt, as in Kombu)
 * @param roundLength how many URLs one round visits
 * @returns the waits, in ms, one per retry
 */
export function* roundDelays(
  policy: RetryPolicy,
  roundLength: number,
): Generator<number, void, undefined> {
  const max = policy.maxRetries ?? Infinity;
  const waits = retryDelays({ ...policy, maxRetries: Infinity });
  for (let retry = 1; retry <= max; retry++) {
    yield retry % roundLength === 0 ? waits.next().value ?? 0 : 0;
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(abortError(signal!));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Calls `fn` until it succeeds, waiting between attempts as the policy says.
 *
 * @param fn the operation; receives the attempt number (0 first)
 * @param policy the retry policy
 * @param delays the waits between attempts (default: the policy's, {@link retryDelays})
 * @returns what `fn` resolved to
 * @throws the last error when retries run out or an error is not retryable; the signal's reason
 *   when aborted; {@link TimeoutError} when `timeout` passes first
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retryOverTime } from "@wakame/wakame";
 * let calls = 0;
 * const value = await retryOverTime(() => {
 *   if (++calls < 2) throw new Error("flaky");
 *   return Promise.resolve("ok");
 * }, { intervalStart: 1, retryOn: () => true });
 * assert.equal(value, "ok");
 * ```
 */
export async function retryOverTime<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy = {},
  delays: Iterator<number, void, undefined> = retryDelays(policy),
): Promise<T> {
  const retryOn = policy.retryOn ?? isRecoverable;
  const deadline = policy.timeout === undefined ? Infinity : Date.now() + policy.timeout;
  for (let attempt = 0;; attempt++) {
    if (policy.signal?.aborted) throw abortError(policy.signal);
    try {
      return await fn(attempt);
    } catch (error) {
      if (policy.signal?.aborted || !retryOn(error)) throw error;
      const next = delays.next();
      if (next.done) throw error;
      const delay = next.value;
      if (Date.now() + delay > deadline) {
        throw new TimeoutError(`Cannot finish the operation: gave up after ${policy.timeout} ms`, {
          cause: error,
        });
      }
      await policy.onRetry?.(error, attempt + 1, delay);
      await wait(delay, policy.signal);
    }
  }
}
