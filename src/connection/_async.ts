/**
 * Signals and timeouts for connecting.
 *
 * @module
 */

import { ConnectionError } from "../errors.ts";

/** A signal that aborts with either one: close() must stop a retry that has its own signal. */
export function eitherSignal(own: AbortSignal, other: AbortSignal | undefined): AbortSignal {
  return other === undefined || other === own ? own : AbortSignal.any([own, other]);
}

/**
 * Rejects with a ConnectionError after `ms`; a connection that opens later is closed.
 *
 * @param promise the attempt
 * @param ms milliseconds; 0 or less waits forever
 * @param message the error text
 * @returns the attempt, or a rejection on timeout
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  if (!Number.isFinite(ms) || ms <= 0) return promise;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ConnectionError(message())), ms);
  });
  // A connection that opens after the timeout must still be closed.
  promise.then((late) => {
    if (timer === undefined) {
      (late as { close?: () => Promise<void> })?.close?.().catch(() => {});
    }
  }, () => {});
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
    timer = undefined;
  });
}
