/**
 * A publish's time limits (Kombu's `publish(timeout=..., confirm_timeout=...)`), in ms.
 *
 * @module
 */

import { TimeoutError } from "../errors.ts";

/**
 * Rejects with {@link TimeoutError} when `promise` has not settled within `ms`; without a limit
 * (undefined, 0 or less, or not finite) it is the promise itself.
 *
 * @param promise what to wait for (it goes on after a timeout: a publish cannot be taken back)
 * @param ms the limit
 * @param message the error's text
 * @returns the promise's value
 */
export function timeLimit<T>(
  promise: Promise<T>,
  ms: number | undefined,
  message: () => string,
): Promise<T> {
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return promise;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(message())), ms);
  });
  promise.catch(() => {}); // a late failure has nobody to tell
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
