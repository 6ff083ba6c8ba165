/**
 * A writer that coalesces small writes into few large ones.
 *
 * Protocol code emits many small pieces (an AMQP publish is three frames; a pipelined Redis
 * batch is one command per key). Writing each to the socket costs a syscall and, on some
 * runtimes, a promise round trip per piece. A {@link WriteQueue} collects every piece handed to
 * it while the previous batch is being written (and those issued in the same microtask turn),
 * joins them, and writes them with one `write()`. Order is kept; nothing is reordered or dropped.
 *
 * Backpressure: {@link WriteQueue.write} resolves when the batch holding the chunk has been
 * accepted by the socket; callers that await it go no faster than the network.
 * {@link WriteQueue.enqueue} does not wait; it suits frames that must follow a write already
 * awaited elsewhere. Once a write fails, every pending and later write rejects with that error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WriteQueue } from "./write_queue.ts";
 * const chunks: Uint8Array[] = [];
 * const queue = new WriteQueue(new WritableStream({ write: (c) => void chunks.push(c) }));
 * const a = queue.write(new Uint8Array([1]));
 * const b = queue.write(new Uint8Array([2, 3]));
 * await Promise.all([a, b]);
 * assert.equal(chunks.length, 1); // both writes went out together
 * assert.equal(chunks[0].length, 3);
 * ```
 *
 * @module
 */

/** Options of a {@link WriteQueue}. */
export interface WriteQueueOptions {
  /** Largest batch in bytes before it is cut (default 256 KiB). */
  maxBatchBytes?: number;
  /** Chunks at least this big are written as they are, never copied (default 64 KiB). */
  copyLimit?: number;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** Joins writes issued close together into one `write()` on a writable stream. */
export class WriteQueue {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  /** Parallel to #chunks: who waits for each chunk, if anyone. */
  #waiters: (Waiter | undefined)[] = [];
  #running = false;
  #failure: { error: unknown } | undefined;
  #maxBatchBytes: number;
  #copyLimit: number;
  #idle: (() => void)[] = [];

  /**
   * Takes the stream's writer (the stream stays locked to this queue).
   *
   * @param writable where the bytes go, typically `socket.writable`
   * @param options batch limits
   */
  constructor(writable: WritableStream<Uint8Array>, options: WriteQueueOptions = {}) {
    this.#writer = writable.getWriter();
    this.#maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
    this.#copyLimit = options.copyLimit ?? 64 * 1024;
  }

  /** Bytes queued and not yet handed to the stream. */
  get pendingBytes(): number {
    return this.#bytes;
  }

  /**
   * Queues bytes and waits until the batch holding them has been written.
   *
   * @param chunk bytes to send; do not change them until the promise settles
   * @returns a promise that resolves once the bytes are accepted by the stream
   * @throws {Error} the stream's error once a write failed
   */
  write(chunk: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    return new Promise<void>((resolve, reject) => {
      this.#push(chunk, { resolve, reject });
    });
  }

  /**
   * Queues bytes without waiting; a failure shows up on the next {@link WriteQueue.write} or
   * {@link WriteQueue.flush}.
   *
   * @param chunk bytes to send; do not change them afterwards
   */
  enqueue(chunk: Uint8Array): void {
    if (this.#failure !== undefined) return;
    this.#push(chunk, undefined);
  }

  /**
   * Waits until everything queued so far has been written.
   *
   * @returns a promise that resolves when the queue is empty
   * @throws {Error} the stream's error once a write failed
   */
  flush(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    if (!this.#running && this.#chunks.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#idle.push(() => {
        if (this.#failure !== undefined) reject(this.#failure.error);
        else resolve();
      });
    });
  }

  /**
   * Writes what is queued, then closes the stream.
   *
   * @returns a promise that resolves once the stream is closed
   */
  async close(): Promise<void> {
    await this.flush();
    await this.#writer.close();
  }

  /**
   * Fails every pending write and releases the stream without closing it.
   *
   * @param error the error pending and later writes reject with
   */
  abort(error: unknown): void {
    this.#fail(error);
    this.#writer.releaseLock();
  }

  #push(chunk: Uint8Array, waiter: Waiter | undefined): void {
    if (chunk.byteLength === 0 && waiter === undefined) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.byteLength;
    this.#waiters.push(waiter);
    if (!this.#running) {
      this.#running = true;
      // Let the rest of this turn add its pieces, then write them together.
      queueMicrotask(() => void this.#run());
    }
  }

  async #run(): Promise<void> {
    try {
      while (this.#chunks.length > 0 && this.#failure === undefined) {
        const { batch, waiters } = this.#takeBatch();
        try {
          await this.#writer.ready;
          for (const piece of batch) await this.#writer.write(piece);
        } catch (error) {
          for (const waiter of waiters) waiter?.reject(error);
          this.#fail(error);
          break;
        }
        for (const waiter of waiters) waiter?.resolve();
      }
    } finally {
      this.#running = false;
      for (const notify of this.#idle.splice(0)) notify();
    }
  }

  /** Cuts the next batch: small chunks joined, big ones passed through uncopied. */
  #takeBatch(): { batch: Uint8Array[]; waiters: (Waiter | undefined)[] } {
    const out: Uint8Array[] = [];
    let taken = 0;
    let small: Uint8Array[] = [];
    let smallBytes = 0;
    const join = (): void => {
      if (smallBytes === 0) {
        small = [];
        return;
      }
      if (small.length === 1) out.push(small[0]);
      else {
        const joined = new Uint8Array(smallBytes);
        let at = 0;
        for (const piece of small) {
          joined.set(piece, at);
          at += piece.byteLength;
        }
        out.push(joined);
      }
      small = [];
      smallBytes = 0;
    };
    let count = 0;
    for (const chunk of this.#chunks) {
      if (taken > 0 && taken + chunk.byteLength > this.#maxBatchBytes) break;
      count++;
      taken += chunk.byteLength;
      if (chunk.byteLength >= this.#copyLimit) {
        join();
        out.push(chunk);
      } else {
        small.push(chunk);
        smallBytes += chunk.byteLength;
      }
    }
    join();
    this.#chunks.splice(0, count);
    this.#bytes -= taken;
    return { batch: out, waiters: this.#waiters.splice(0, count) };
  }

  #fail(error: unknown): void {
    this.#failure ??= { error };
    const waiters = this.#waiters;
    this.#waiters = [];
    this.#chunks = [];
    this.#bytes = 0;
    for (const waiter of waiters) waiter?.reject(error);
  }
}
