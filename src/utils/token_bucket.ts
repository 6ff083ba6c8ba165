/**
 * The token bucket rate limiter (Kombu's `kombu.utils.limits`).
 *
 * @module
 */

/** Options of a {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Most tokens the bucket holds (default 1). It starts full. */
  capacity?: number;
  /** The monotonic clock in milliseconds (default `performance.now`); tests pass a fake one. */
  now?: () => number;
}

/**
 * A token bucket (Kombu's `TokenBucket`): tokens flow in at `fillRate` per second up to
 * `capacity`; an action may run when it can take its tokens out.
 *
 * Kombu counts time in seconds; here {@link TokenBucket.expectedTime} answers in milliseconds.
 * The fill rate stays "per second", as in Kombu.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenBucket } from "./token_bucket.ts";
 * const bucket = new TokenBucket(2, { capacity: 1 }); // 2 tokens per second
 * assert.ok(bucket.canConsume());
 * assert.ok(!bucket.canConsume());
 * assert.ok(bucket.expectedTime() <= 500);
 * ```
 */
export class TokenBucket<T = unknown> {
  /** Tokens added per second. */
  readonly fillRate: number;
  /** Most tokens the bucket holds. */
  readonly capacity: number;
  #tokens: number;
  #timestamp: number;
  readonly #now: () => number;
  readonly #contents: T[] = [];

  /**
   * Makes a TokenBucket.
   *
   * @param fillRate tokens added per second (must be positive)
   * @param options capacity and clock
   * @throws {RangeError} when the fill rate or the capacity is not a positive number
   */
  constructor(fillRate: number, options: TokenBucketOptions = {}) {
    const capacity = options.capacity ?? 1;
    if (!(fillRate > 0) || !Number.isFinite(fillRate)) {
      throw new RangeError(`Cannot create a token bucket with fill rate "${fillRate}"`);
    }
    if (!(capacity > 0) || !Number.isFinite(capacity)) {
      throw new RangeError(`Cannot create a token bucket with capacity "${capacity}"`);
    }
    this.fillRate = fillRate;
    this.capacity = capacity;
    this.#tokens = capacity;
    this.#now = options.now ?? (() => performance.now());
    this.#timestamp = this.#now();
  }

  /**
   * Takes `tokens` out of the bucket when it holds that many (never a part of them).
   *
   * @param tokens how many (default 1)
   * @returns true when they were taken
   */
  canConsume(tokens = 1): boolean {
    if (tokens <= this.#refill()) {
      this.#tokens -= tokens;
      return true;
    }
    return false;
  }

  /**
   * Tells how long until `tokens` can be taken.
   *
   * @param tokens how many (default 1)
   * @returns milliseconds to wait, 0 when they are there now
   */
  expectedTime(tokens = 1): number {
    const available = this.#refill();
    return (Math.max(tokens, available) - available) / this.fillRate * 1000;
  }

  /** The tokens in the bucket now (refilled up to this moment). */
  get tokens(): number {
    return this.#refill();
  }

  /**
   * Queues an item that waits for tokens (Kombu's `add`; Celery's rate limits use it).
   *
   * @param item the item
   */
  add(item: T): void {
    this.#contents.push(item);
  }

  /**
   * Takes the oldest queued item.
   *
   * @returns the item, or `undefined` when none waits
   */
  pop(): T | undefined {
    return this.#contents.shift();
  }

  /** Drops every queued item. */
  clearPending(): void {
    this.#contents.length = 0;
  }

  /** The number of queued items. */
  get pending(): number {
    return this.#contents.length;
  }

  // Unlike Kombu, the timestamp moves on while the bucket is full too, so a bucket that sat
  // full for a minute does not refill at once after its next take.
  #refill(): number {
    const now = this.#now();
    const delta = this.fillRate * Math.max(0, now - this.#timestamp) / 1000;
    this.#tokens = Math.min(this.capacity, this.#tokens + delta);
    this.#timestamp = now;
    return this.#tokens;
  }
}
