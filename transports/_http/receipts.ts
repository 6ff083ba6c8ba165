/**
 * The lease of the cloud queues (SQS receipt handles, Azure pop receipts), written once: a
 * received message stays hidden while it is processed; settling deletes it, releasing makes it
 * visible now, extending keeps it hidden longer. Each service supplies three requests
 * ({@link ReceiptRequests}); the bookkeeping (which message has which receipt, a renewal in
 * flight whose answer carries the next receipt, stale receipts) lives here. Also the queue
 * cache both services need (create or look up a queue once per name).
 *
 * @module
 */

import type { Lease, ReleaseOptions, StoredMessage } from "../../src/virtual/backend.ts";

/** Where a received message lives (kept in {@link StoredMessage.backendData}). */
export interface Receipt {
  /** The service's queue (SQS: the queue URL; Azure: the queue name). */
  readonly queue: string;
  /** The message id, where the service needs it besides the receipt (Azure). */
  readonly messageId?: string;
  /** The receipt of the latest receive or visibility change (SQS receipt handle, Azure pop receipt). */
  handle: string;
  /** True once settled or released. */
  settled?: boolean;
  /** A visibility change in flight: its answer may carry the next handle. */
  pending?: Promise<void>;
}

/**
 * The receipt of a received message.
 *
 * @param message a message a cloud store received
 * @returns its receipt, or `undefined` for a message the store holds no receipt for
 */
export function receiptOf(message: StoredMessage): Receipt | undefined {
  const data = message.backendData as Partial<Receipt> | undefined;
  return data && typeof data.queue === "string" && typeof data.handle === "string"
    ? data as Receipt
    : undefined;
}

/** The requests of one service behind a {@link ReceiptLease}. */
export interface ReceiptRequests {
  /** Deletes the message (`what` names the reason in errors). */
  delete(receipt: Receipt, what: "ack" | "reject"): Promise<void>;
  /**
   * Hides the message for `seconds` from now (0: visible at once); sets `receipt.handle` when
   * the service answers with a new one.
   */
  setVisibility(receipt: Receipt, seconds: number): Promise<void>;
  /** True for an error that says the receipt expired (the service delivers the message again). */
  isStale(error: unknown): boolean;
}

/** How a {@link ReceiptLease} behaves. */
export interface ReceiptLeaseOptions {
  /** Delete on `reject` without requeue (else leave it to the queue's redrive policy). */
  deleteOnReject: boolean;
  /** Lease length in ms; set it to have the base renew the lease (Azure), else leave it out. */
  duration?: number;
  /** Called when a receipt turned out stale. */
  onStale(receipt: Receipt, what: string, error: unknown): void;
  /** Called when a receipt is settled or released (the store stops counting it as held). */
  onDone?(receipt: Receipt): void;
}

/** The {@link Lease} of SQS and Azure Storage Queues, over the service's receipts. */
export class ReceiptLease implements Lease {
  /** Lease length for renewal (ms), when the service's lease is renewed. */
  readonly duration?: number;
  readonly #requests: ReceiptRequests;
  readonly #options: ReceiptLeaseOptions;

  /**
   * Makes the lease.
   *
   * @param requests the service's requests
   * @param options reject handling, renewal and reporting
   */
  constructor(requests: ReceiptRequests, options: ReceiptLeaseOptions) {
    this.#requests = requests;
    this.#options = options;
    this.duration = options.duration;
    if (options.duration === undefined) this.extend = undefined;
  }

  #finish(message: StoredMessage): Receipt | undefined {
    const receipt = receiptOf(message);
    if (!receipt || receipt.settled) return undefined;
    receipt.settled = true;
    this.#options.onDone?.(receipt);
    return receipt;
  }

  /** Deletes the message (a reject only with `deleteOnReject`). */
  async settle(_queue: string, message: StoredMessage, outcome: "ack" | "reject"): Promise<void> {
    const receipt = this.#finish(message);
    if (!receipt || (outcome === "reject" && !this.#options.deleteOnReject)) return;
    await receipt.pending; // its answer holds the receipt to use
    try {
      await this.#requests.delete(receipt, outcome);
    } catch (error) {
      if (!this.#requests.isStale(error)) throw error;
      this.#options.onStale(receipt, outcome, error);
    }
  }

  /** Makes the message visible at once, where it is (the service counts the delivery). */
  async release(_queue: string, message: StoredMessage, _options: ReleaseOptions): Promise<void> {
    const receipt = this.#finish(message);
    if (!receipt) return;
    await receipt.pending;
    try {
      await this.#requests.setVisibility(receipt, 0);
    } catch (error) {
      if (!this.#requests.isStale(error)) throw error;
    }
  }

  /** Keeps the message hidden `ms` more (rounded up to whole seconds). */
  extend?(_queue: string, message: StoredMessage, ms: number): Promise<void> {
    const receipt = receiptOf(message);
    if (!receipt || receipt.settled || receipt.pending) return Promise.resolve();
    const pending = this.#requests.setVisibility(receipt, Math.ceil(ms / 1000))
      .catch((error) => {
        if (this.#requests.isStale(error)) this.#finish(message);
        throw error;
      })
      .finally(() => {
        if (receipt.pending === quiet) receipt.pending = undefined;
      });
    const quiet = pending.catch(() => undefined);
    receipt.pending = quiet;
    return pending;
  }
}

/** Resolves something once per queue name (a URL, a creation), sharing calls in flight. */
export class QueueCache<V> {
  readonly #known = new Map<string, V>();
  readonly #pending = new Map<string, Promise<V>>();

  /** The value resolved for `name`, if any. */
  get(name: string): V | undefined {
    return this.#known.get(name);
  }

  /** Remembers a value found another way. */
  set(name: string, value: V): void {
    this.#known.set(name, value);
  }

  /**
   * The value of `name`: known, in flight (under the same `flight` key), or made now.
   *
   * @param name the queue's service name
   * @param make resolves it
   * @param flight what calls in flight are shared by (default `name`)
   */
  resolve(name: string, make: () => Promise<V>, flight: string = name): Promise<V> {
    if (this.#known.has(name)) return Promise.resolve(this.#known.get(name)!);
    let pending = this.#pending.get(flight);
    if (!pending) {
      pending = make().then((value) => {
        this.#known.set(name, value);
        return value;
      }).finally(() => this.#pending.delete(flight));
      this.#pending.set(flight, pending);
    }
    return pending;
  }

  /** Forgets a name (the queue was deleted). */
  delete(name: string): void {
    this.#known.delete(name);
  }
}
