/**
 * Group commit: writes that arrive while one is running wait for it and then go together, in
 * one statement. A lone write goes at once (no timer, no added delay); under load each commit
 * (a WAL flush on PostgreSQL, the cost of a small write) carries many writes. One batch runs at
 * a time, so batches land in the order their writes were made.
 *
 * @module
 */

interface Batch<T> {
  readonly items: T[];
  done: Promise<void>;
}

/** Collects writes into batches, flushed one after another. */
export class GroupCommit<T> {
  readonly #flush: (items: T[]) => Promise<void>;
  readonly #max: number;
  #open: Batch<T> | undefined;
  #tail: Promise<void> = Promise.resolve();

  /**
   * @param flush writes one batch (rejects: every write of the batch fails with it)
   * @param max most writes in one batch
   */
  constructor(flush: (items: T[]) => Promise<void>, max: number) {
    this.#flush = flush;
    this.#max = max;
  }

  /**
   * Adds a write to the batch that runs next.
   *
   * @param item the write
   * @returns settles when its batch is written
   */
  add(item: T): Promise<void> {
    const open = this.#open;
    if (open && open.items.length < this.#max) {
      open.items.push(item);
      return open.done;
    }
    const batch: Batch<T> = { items: [item], done: Promise.resolve() };
    batch.done = this.#tail.then(() => {
      if (this.#open === batch) this.#open = undefined;
      return this.#flush(batch.items);
    });
    this.#open = batch;
    this.#tail = batch.done.catch(() => {});
    return batch.done;
  }
}
