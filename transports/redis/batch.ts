/**
 * Joins the calls made in one turn of the event loop into one command per key: N publishes to
 * one list become one variadic `LPUSH key v1 ... vN` (the same order as N single LPUSHes), N acks
 * one `ZREM` and one `HDEL` with N tags. Redis then parses and runs one command instead of N.
 *
 * @module
 */

interface Batch<T> {
  items: T[];
  waiters: { resolve(): void; reject(error: unknown): void }[];
}

/** Collects items per key until the current microtask queue drains, then runs each batch. */
export class TickBatcher<T> {
  readonly #run: (key: string, items: T[]) => Promise<void>;
  #pending = new Map<string, Batch<T>>();
  #scheduled = false;

  /** @param run sends one batch; its failure rejects every call of the batch */
  constructor(run: (key: string, items: T[]) => Promise<void>) {
    this.#run = run;
  }

  /**
   * Queues one item.
   *
   * @param key the batch it joins (a list key, `ack`...)
   * @param item the item
   * @returns resolves when its batch has been sent and answered
   */
  add(key: string, item: T): Promise<void> {
    let batch = this.#pending.get(key);
    if (!batch) this.#pending.set(key, batch = { items: [], waiters: [] });
    batch.items.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
  }

  #flush(): void {
    const batches = this.#pending;
    this.#pending = new Map();
    this.#scheduled = false;
    for (const [key, batch] of batches) {
      let sent: Promise<void>;
      try {
        sent = this.#run(key, batch.items);
      } catch (error) {
        sent = Promise.reject(error);
      }
      sent.then(
        () => batch.waiters.forEach((w) => w.resolve()),
        (error) => batch.waiters.forEach((w) => w.reject(error)),
      );
    }
  }
}
