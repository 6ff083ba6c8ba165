/**
 * Waiting for one value with a timeout and an abort signal, shared by the backends.
 *
 * @module
 */

import { TimeoutError } from "../../mod.ts";

/**
 * Waits for `promise`, rejecting on timeout (a `TimeoutError`) or abort (the signal's reason).
 *
 * @param promise what to wait for
 * @param what the task id, for the timeout message
 * @param options timeout (ms) and signal
 * @param onGiveUp called when the wait ends without the value
 * @returns the value
 */
export function waitFor<T>(
  promise: Promise<T>,
  what: string,
  options: { timeout?: number; signal?: AbortSignal },
  onGiveUp: () => void,
): Promise<T> {
  const { timeout, signal } = options;
  if (timeout === undefined && signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      onGiveUp();
      reject(signal?.reason);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        done();
        onGiveUp();
        reject(new TimeoutError(`Timed out after ${timeout} ms waiting for the result of ${what}`));
      }, timeout);
    }
    promise.then((value) => {
      done();
      resolve(value);
    }, (error) => {
      done();
      reject(error);
    });
  });
}
