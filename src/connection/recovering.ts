/**
 * Waiting for a connection whose recovery is running, as one's own retry policy says.
 *
 * @module
 */

import { ConnectionError } from "../errors.ts";
import { retryDelays, type RetryPolicy } from "../retry.ts";
import { eitherSignal } from "./_async.ts";

/** The default policy of a connection's recovery: forever, 1 s growing by 1 s up to 30 s. */
export const RECOVERY_POLICY: RetryPolicy = {
  intervalStart: 1000,
  intervalStep: 1000,
  intervalMax: 30000,
  jitter: true,
};

/** What a running recovery shows the callers that wait for it. */
export interface Recovery<T> {
  /** The live connection, undefined while down. */
  live(): T | undefined;
  /** The last failed connect. */
  lastFailure: unknown;
  /** Settles when the recovery makes progress (its connect, or its end); undefined: none. */
  progress(): Promise<unknown> | undefined;
  /** Aborted when the connection closes. */
  stop: AbortSignal;
}

/**
 * Looks whether a running recovery got the connection back, once and then after each wait of
 * `policy` (cut short when the recovery makes progress), and gives up when `policy` runs out,
 * with the recovery's last failure as cause. A caller that joined the recovery's own connect
 * would wait as long as the recovery policy says (forever, by default), past its own
 * `maxRetries`.
 *
 * @param recovery what the recovery shows
 * @param uri the connection's URI (masked), for the message
 * @param policy the caller's retry policy
 * @returns the live connection
 * @throws {ConnectionError} when the policy runs out first; the signal's reason when aborted
 */
export async function awaitRecovery<T>(
  recovery: Recovery<T>,
  uri: string,
  policy: RetryPolicy,
): Promise<T> {
  const delays = retryDelays(policy);
  const signal = eitherSignal(recovery.stop, policy.signal);
  const deadline = policy.timeout === undefined ? Infinity : Date.now() + policy.timeout;
  for (let retry = 1;; retry++) {
    const connection = recovery.live();
    if (connection !== undefined) return connection;
    if (signal?.aborted) throw signal.reason;
    const error = new ConnectionError(
      `Cannot connect to ${uri}: its recovery has not got through`,
      {
        cause: recovery.lastFailure,
      },
    );
    const next = delays.next();
    if (next.done || Date.now() + next.value > deadline) throw error;
    await policy.onRetry?.(error, retry, next.value);
    await waitOrProgress(next.value, recovery.progress(), signal);
  }
}

/** Waits `ms`, or less when `progress` settles or `signal` aborts. */
async function waitOrProgress(
  ms: number,
  progress: Promise<unknown> | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  await Promise.race([
    progress?.catch(() => undefined) ?? new Promise<never>(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      onAbort = resolve;
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
  ]);
  clearTimeout(timer);
  if (onAbort) signal?.removeEventListener("abort", onAbort);
}
