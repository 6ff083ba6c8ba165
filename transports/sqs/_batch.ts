/**
 * Adaptive batching of SQS calls that have a batch form (SendMessageBatch, DeleteMessageBatch,
 * ChangeMessageVisibilityBatch): a call goes out at once while few requests are in flight;
 * calls that arrive while the limit is reached wait and leave together, up to 10 per request.
 * Sequential callers pay no added latency; concurrent callers share requests.
 *
 * @module
 */

/** Sends one batch: resolves to one result per item, an Error for an item that failed. */
export type BatchFlush<T, R> = (key: string, items: T[]) => Promise<Array<R | Error>>;

interface Waiting<T, R> {
  item: T;
  resolve(value: R): void;
  reject(error: unknown): void;
}

interface Lane<T, R> {
  inFlight: number;
  waiting: Waiting<T, R>[];
}

/** Coalesces calls per key (a queue URL). */
export class Coalescer<T, R> {
  readonly #flush: BatchFlush<T, R>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  readonly #lanes = new Map<string, Lane<T, R>>();

  /**
   * Makes a coalescer.
   *
   * @param flush sends one batch
   * @param maxBatch most items per request (SQS: 10)
   * @param maxInFlight requests in flight per key before calls start to wait
   */
  constructor(flush: BatchFlush<T, R>, maxBatch = 10, maxInFlight = 4) {
    this.#flush = flush;
    this.#maxBatch = maxBatch;
    this.#maxInFlight = maxInFlight;
  }

  /**
   * Adds one call.
   *
   * @param key what the batch is for (calls of one key share requests)
   * @param item the call's input
   * @returns the call's result
   */
  add(key: string, item: T): Promise<R> {
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { inFlight: 0, waiting: [] };
      this.#lanes.set(key, lane);
    }
    const promise = new Promise<R>((resolve, reject) =>
      lane.waiting.push({ item, resolve, reject })
    );
    this.#pump(key, lane);
    return promise;
  }

  #pump(key: string, lane: Lane<T, R>): void {
    while (lane.inFlight < this.#maxInFlight && lane.waiting.length > 0) {
      const batch = lane.waiting.splice(0, this.#maxBatch);
      lane.inFlight++;
      this.#flush(key, batch.map((w) => w.item)).then(
        (results) => {
          batch.forEach((w, i) => {
            const result = results[i];
            if (result instanceof Error) w.reject(result);
            else w.resolve(result as R);
          });
        },
        (error) => {
          for (const w of batch) w.reject(error);
        },
      ).finally(() => {
        lane.inFlight--;
        if (lane.inFlight === 0 && lane.waiting.length === 0) this.#lanes.delete(key);
        else this.#pump(key, lane);
      });
    }
  }
}
