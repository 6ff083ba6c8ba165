/**
 * An abortable wait, shared by the virtual base and the HTTP transports.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds, or at once when the signal aborts (never rejects).
 *
 * @param ms milliseconds to wait
 * @param signal cuts the wait short
 * @returns a promise of the end of the wait
 * @example
 * ```ts
 * import { sleep } from "./sleep.ts";
 * const controller = new AbortController();
 * const waiting = sleep(60_000, controller.signal);
 * controller.abort();
 * await waiting; // resolves at once
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
