/**
 * Read-ahead for the Redis store: after a full batch of at least {@link READ_AHEAD_MIN}
 * messages, the next batch is fetched at once (already recorded in `unacked`, like any fetched
 * message), overlapping the round trip with the consumer's work, and handed over by the next
 * call for the same queues. A batch nobody claims within {@link READ_AHEAD_TTL} ms, or that no
 * longer fits the caller's room, goes back to the front of its queues untouched. Consumers with a
 * small prefetch (room below the minimum) never read ahead.
 *
 * @module
 */

import type { QueueBatch } from "../../src/virtual/backend.ts";

/** Smallest full batch after which the next one is fetched ahead. */
export const READ_AHEAD_MIN = 32;
/** Milliseconds a read-ahead batch waits to be claimed before it goes back. */
export const READ_AHEAD_TTL = 1000;

interface Ahead {
  id: string;
  max: number;
  perQueue: number;
  result: Promise<QueueBatch[]>;
  timer: ReturnType<typeof setTimeout>;
}

/** Fetches a round: up to `max` messages, at most `perQueue` from one queue. */
export type Fetch = (queues: readonly string[], max: number, perQueue: number) => Promise<
  QueueBatch[]
>;

/** One batch fetched ahead, at most. */
export class ReadAhead {
  readonly #fetch: Fetch;
  readonly #giveBack: (batches: QueueBatch[]) => Promise<void>;
  readonly #warn: (message: string, error?: unknown) => void;
  #ahead: Ahead | undefined;
  #closed = false;

  /**
   * @param fetch takes a round from the server
   * @param giveBack puts an unclaimed batch back at the front of its queues
   * @param warn where a failed give-back is reported
   */
  constructor(
    fetch: Fetch,
    giveBack: (batches: QueueBatch[]) => Promise<void>,
    warn: (message: string, error?: unknown) => void,
  ) {
    this.#fetch = fetch;
    this.#giveBack = giveBack;
    this.#warn = warn;
  }

  /** Fetches a round, from the batch read ahead when it fits, and reads the next one ahead. */
  async fetch(queues: readonly string[], max: number, perQueue: number): Promise<QueueBatch[]> {
    const id = queues.join("\u0000");
    const ahead = this.#ahead;
    this.#ahead = undefined;
    let got: QueueBatch[];
    if (ahead) {
      clearTimeout(ahead.timer);
      if (ahead.id === id && ahead.max <= max && ahead.perQueue <= perQueue) {
        got = await ahead.result;
      } else {
        await this.#return(ahead);
        got = await this.#fetch(queues, max, perQueue);
      }
    } else {
      got = await this.#fetch(queues, max, perQueue);
    }
    let count = 0;
    for (const batch of got) count += batch.messages.length;
    if (count === max && max >= READ_AHEAD_MIN && !this.#closed) {
      const result = this.#fetch(queues, max, perQueue);
      result.catch(() => undefined);
      const next: Ahead = {
        id,
        max,
        perQueue,
        result,
        timer: setTimeout(() => {
          if (this.#ahead !== next) return;
          this.#ahead = undefined;
          this.#return(next).catch((error) =>
            this.#warn("Cannot give back messages read ahead", error)
          );
        }, READ_AHEAD_TTL),
      };
      this.#ahead = next;
    }
    return got;
  }

  async #return(ahead: Ahead): Promise<void> {
    let got: QueueBatch[];
    try {
      got = await ahead.result;
    } catch {
      return; // lost with its connection: the visibility timeout brings it back
    }
    if (got.length > 0) await this.#giveBack(got);
  }

  /** Gives back a batch read ahead; reads no more. */
  async close(): Promise<void> {
    this.#closed = true;
    const ahead = this.#ahead;
    this.#ahead = undefined;
    if (!ahead) return;
    clearTimeout(ahead.timer);
    await this.#return(ahead).catch((error) =>
      this.#warn("Cannot give back messages read ahead", error)
    );
  }
}
