/**
 * Waiting for a connection whose recovery is running, as one's own retry policy says.
 *
 * @module
 */

import { ConnectionError } from "../errors.ts";
import { retryOverTime, type RetryPolicy } from "../retry.ts";

/** The default policy of a connection's recovery: forever, 1 s growing by 1 s up to 30 s. */
export const RECOVERY_POLICY: RetryPolicy = {
  intervalStart: 1000,
  intervalStep: 1000,
  intervalMax: 30000,
  jitter: true,
};

/**
 * Looks whether a running recovery got the connection back, once and then after each wait of
 * `policy`, and gives up when `policy` runs out, with the recovery's last failure as cause. A
 * caller that joined the recovery's own connect would wait as long as the recovery policy says
 * (forever, by default), past its own `maxRetries`.
 *
 * @param live the live connection, or undefined while the recovery runs
 * @param lastFailure the recovery's last failed connect
 * @param uri the connection's URI (masked), for the message
 * @param policy the caller's retry policy
 * @returns the live connection
 * @throws {ConnectionError} when the policy runs out first
 */
export function awaitRecovery<T>(
  live: () => T | undefined,
  lastFailure: () => unknown,
  uri: string,
  policy: RetryPolicy,
): Promise<T> {
  const stillDown = new WeakSet<object>();
  return retryOverTime(() => {
    const connection = live();
    if (connection !== undefined) return Promise.resolve(connection);
    const error = new ConnectionError(
      `Cannot connect to ${uri}: its recovery has not got through`,
      {
        cause: lastFailure(),
      },
    );
    stillDown.add(error);
    return Promise.reject(error);
  }, { ...policy, retryOn: (error) => stillDown.has(error as object) });
}
