/**
 * Lamport's logical clock (Kombu's `kombu.clocks`).
 *
 * Each process keeps a counter. It moves the counter forward before it sends a message and puts
 * the value in the message (pidbox puts it in the `clock` header); on receiving a message it sets
 * the counter past both its own value and the received one. Events can then be ordered by clock
 * value, ties broken by the id of the process that made them.
 *
 * @module
 */

/**
 * An event stamped with a logical clock (Kombu's `timetuple`).
 */
export interface TimeTuple<T = unknown> {
  /** The Lamport clock value of the event; 0 when the sender had none. */
  clock: number;
  /** Wall-clock time of the event in milliseconds since the epoch. */
  timestamp: number;
  /** Id of the process that made the event, such as `hostname:pid`. */
  id: string;
  /** Anything attached to the event. */
  obj?: T;
}

/**
 * Orders two events the way Kombu's `timetuple.__lt__` does: by clock when both have one (ties
 * broken by process id), else by timestamp.
 *
 * @param a the first event
 * @param b the second event
 * @returns a negative number when `a` comes first, a positive one when `b` does, 0 when neither
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareTimeTuples } from "./clock.ts";
 * const events = [
 *   { clock: 3, timestamp: 0, id: "b" },
 *   { clock: 3, timestamp: 0, id: "a" },
 *   { clock: 1, timestamp: 9, id: "z" },
 * ];
 * events.sort(compareTimeTuples);
 * assert.equal(events.map((e) => e.id).join(), "z,a,b");
 * ```
 */
export function compareTimeTuples(a: TimeTuple, b: TimeTuple): number {
  if (a.clock && b.clock) {
    if (a.clock !== b.clock) return a.clock - b.clock;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }
  return a.timestamp - b.timestamp;
}

/** Turns a received clock value (a header from any peer) into a safe number. */
function clockValue(other: unknown): number {
  const n = typeof other === "number" ? other : typeof other === "string" ? Number(other) : 0;
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/**
 * Lamport's logical clock (Kombu's `LamportClock`).
 *
 * Call {@link LamportClock.forward} before sending a message and send its value; call
 * {@link LamportClock.adjust} with the value of every message received.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LamportClock } from "./clock.ts";
 * const clock = new LamportClock();
 * const sent = clock.forward(); // 1
 * const other = new LamportClock(10);
 * assert.equal(other.adjust(sent), 11);
 * assert.equal(clock.adjust(other.value), 12);
 * ```
 */
export class LamportClock {
  #value: number;

  /**
   * Makes a LamportClock.
   *
   * @param initialValue the starting value (default 0)
   */
  constructor(initialValue = 0) {
    this.#value = clockValue(initialValue);
  }

  /** The current value. */
  get value(): number {
    return this.#value;
  }

  /**
   * Synchronizes with the clock value of a received message: the clock becomes one more than the
   * larger of the two. Values that are not positive numbers (a missing header) count as 0.
   *
   * @param other the clock value received (a number, or a numeric string from a foreign peer)
   * @returns the new value
   */
  adjust(other: unknown): number {
    this.#value = Math.max(this.#value, clockValue(other)) + 1;
    return this.#value;
  }

  /**
   * Moves the clock forward by one, before sending a message.
   *
   * @returns the new value, to send with the message
   */
  forward(): number {
    this.#value += 1;
    return this.#value;
  }

  /**
   * Picks the event to act on from a list of events already sorted by clock (Kombu's
   * `sort_heap`): the first one, or, when several share the first clock value, the one with the
   * lowest process id. (Kombu leaves the last event of a tie out of the comparison; this
   * compares all of them.)
   *
   * @param heap events as `[clock, processId, ...]`, sorted by clock
   * @returns the chosen event
   * @throws {RangeError} when the list is empty
   */
  sortHeap<T extends readonly [number, string, ...unknown[]]>(heap: readonly T[]): T {
    const first = heap[0];
    if (first === undefined) throw new RangeError("Cannot pick from an empty event list");
    let best = first;
    for (let i = 1; i < heap.length; i++) {
      const event = heap[i]!;
      if (event[0] !== first[0]) break;
      if (event[1] < best[1]) best = event;
    }
    return best;
  }

  /**
   * The value as text (Kombu's `str(clock)`).
   *
   * @returns the value as text
   */
  toString(): string {
    return String(this.#value);
  }
}
