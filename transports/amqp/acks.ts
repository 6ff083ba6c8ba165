/**
 * Ack coalescing for one channel: the acks asked for in one turn leave as few frames as
 * possible without ever acknowledging a delivery nobody acked.
 *
 * Delivery tags of a channel are 1, 2, 3, ... in delivery order. The coalescer knows the oldest
 * tag not yet settled (acked, rejected, or delivered without ack) and which later tags are
 * settled. When the waiting acks are written, those that, together with every earlier tag
 * already settled, form an unbroken run from that oldest tag go out as one
 * `basic.ack(multiple)`; acks above a gap go out one by one. Rejects and other frames are never
 * held: the channel writes the waiting acks first, so acks only ever move among acks.
 *
 * @module
 */

/** Tracking stops (acks go out one by one) past this many settled tags above a gap. */
export const MAX_TRACKED_TAGS = 65536;

/** Writes one basic.ack frame. */
export type AckWriter = (tag: number, multiple: boolean) => void;

/**
 * The ack state of one channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AckCoalescer } from "./acks.ts";
 * const acks = new AckCoalescer();
 * for (let tag = 1; tag <= 3; tag++) acks.delivered(tag, false);
 * acks.defer(2);
 * acks.defer(1);
 * const frames: [number, boolean][] = [];
 * acks.flush((tag, multiple) => frames.push([tag, multiple]));
 * assert.deepEqual(frames, [[2, true]]); // one multiple ack up to tag 2
 * ```
 */
export class AckCoalescer {
  #pending: number[] = [];
  #base = 1;
  #settled = new Set<number>();
  #maxTag = 0;
  #enabled = true;

  /** Acks waiting for {@link AckCoalescer.flush}. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Records a delivery (basic.deliver or basic.get-ok).
   *
   * @param tag its delivery tag
   * @param settled true when it needs no ack (no-ack consumer or get)
   */
  delivered(tag: number, settled: boolean): void {
    if (tag > this.#maxTag) this.#maxTag = tag;
    if (settled) this.settle(tag);
  }

  /**
   * Tells whether an ack of this tag may wait for the flush: only tags delivered and not yet
   * settled, while tracking is on. Others (a double ack, an unknown tag) go out as they are.
   *
   * @param tag the delivery tag
   * @returns true when {@link AckCoalescer.defer} may take it
   */
  canDefer(tag: number): boolean {
    return this.#enabled && tag >= this.#base && tag <= this.#maxTag;
  }

  /**
   * Keeps an ack for the next flush.
   *
   * @param tag a tag for which {@link AckCoalescer.canDefer} is true
   * @returns how many acks wait now
   */
  defer(tag: number): number {
    return this.#pending.push(tag);
  }

  /**
   * Marks a tag settled that went out on its own (a reject, a nack, an ack written at once).
   *
   * @param tag the delivery tag
   */
  settle(tag: number): void {
    if (!this.#enabled || tag < this.#base || tag > this.#maxTag) return;
    if (tag === this.#base) {
      let base = tag + 1;
      const settled = this.#settled;
      if (settled.size > 0) {
        while (settled.delete(base)) base++;
      }
      this.#base = base;
      return;
    }
    this.#settled.add(tag);
    if (this.#settled.size > MAX_TRACKED_TAGS) {
      // A delivery held for very long: stop tracking and ack one by one from now on.
      this.#enabled = false;
      this.#settled.clear();
    }
  }

  /**
   * Marks every tag up to this one settled (an ack or nack with `multiple` went out).
   *
   * @param tag the delivery tag
   */
  settleUpTo(tag: number): void {
    if (!this.#enabled) return;
    const top = Math.min(tag, this.#maxTag);
    if (top < this.#base) return;
    for (const t of this.#settled) if (t <= top) this.#settled.delete(t);
    let base = top + 1;
    while (this.#settled.delete(base)) base++;
    this.#base = base;
  }

  /**
   * After basic.recover every tag delivered so far is void (the broker redelivers under new
   * tags). Flush first: acks asked for before the recover go out before it.
   */
  voidAll(): void {
    this.#base = this.#maxTag + 1;
    this.#settled.clear();
    this.#enabled = true;
  }

  /**
   * Writes the waiting acks: one `multiple` ack for the run from the oldest unsettled tag,
   * single acks above it.
   *
   * @param write writes one basic.ack frame
   */
  flush(write: AckWriter): void {
    const acks = this.#pending;
    if (acks.length === 0) return;
    this.#pending = [];
    if (acks.length > 1) acks.sort((a, b) => a - b);
    for (const tag of acks) this.settle(tag);
    const base = this.#base;
    let i = 0;
    while (i < acks.length && acks[i] < base) i++;
    if (i > 1) write(acks[i - 1], true);
    else if (i === 1) write(acks[0], false);
    for (let j = i; j < acks.length; j++) write(acks[j], false);
  }

  /** Forgets everything (the channel is gone). */
  clear(): void {
    this.#pending = [];
    this.#settled.clear();
  }
}
