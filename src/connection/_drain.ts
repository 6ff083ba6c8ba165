/**
 * What `Connection.drainEvents` waits on: consumers report each handled message; a drain
 * resolves at the next report, or at once when messages were handled since the last drain.
 *
 * @module
 */

import { TimeoutError } from "../errors.ts";

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** The drain waiters of one connection, and the activity that wakes them. */
export class DrainGate {
  #waiters: Waiter[] = [];
  #undrained = 0;

  /**
   * Waits for activity (Kombu's `drain_events`).
   *
   * @param options `timeout` in ms, or a `signal`
   * @returns resolves at the next handled message (at once when one was handled since the last)
   * @throws {TimeoutError} when nothing arrived in time
   */
  wait(options: { timeout?: number; signal?: AbortSignal }): Promise<void> {
    if (this.#undrained > 0) {
      // Messages handled since the last drain count, as in Kombu where every event is seen by
      // some drain_events call.
      this.#undrained = 0;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const signal = options.signal;
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      };
      const waiter: Waiter = {
        resolve: () => {
          cleanup();
          resolve();
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const onAbort = () => waiter.reject(signal!.reason);
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (options.timeout !== undefined) {
        timer = setTimeout(
          () => waiter.reject(new TimeoutError(`No events within ${options.timeout} ms`)),
          options.timeout,
        );
      }
      this.#waiters.push(waiter);
    });
  }

  /** A message was handled: wakes the waiting drains, or counts it for the next one. */
  notify(): void {
    if (this.#waiters.length === 0) {
      this.#undrained++;
      return;
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /**
   * Rejects every waiting drain (the connection was lost or closed).
   *
   * @param error the reason
   */
  fail(error: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }
}
