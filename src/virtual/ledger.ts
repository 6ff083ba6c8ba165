/**
 * The unacknowledged deliveries of one virtual channel and what settles them: the store's
 * {@link Lease} where it has one, else the channel itself (a message goes back with `put`).
 * Redelivery marking, the possible-duplicate header and lease renewal are decided here, once
 * for every store.
 *
 * @module
 */

import { PreconditionFailedError } from "../errors.ts";
import type { Delivery, DeliveryTag } from "../transport.ts";
import {
  type Lease,
  POSSIBLE_DUPLICATE_HEADER,
  type QueueBackend,
  type StoredMessage,
} from "./backend.ts";
import { DeliveryTable } from "./delivery_table.ts";

interface Held {
  readonly queue: string;
  readonly message: StoredMessage;
  /** When the lease was taken or last extended (ms), for stores whose lease can be extended. */
  since: number;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** The shape of a warning callback. */
export type Warn = (message: string, error?: unknown) => void;

/** Unacknowledged deliveries by tag, settled through the store's lease or by the channel. */
export class Ledger {
  readonly #backend: QueueBackend;
  readonly #lease: Lease | undefined;
  readonly #warn: Warn;
  readonly #onFree: () => void;
  readonly #table = new DeliveryTable<Held>();
  /** Milliseconds between renewals, when the lease can be extended. */
  readonly #renewEvery: number;
  #renewal: ReturnType<typeof setInterval> | undefined;
  #nextTag = 1;

  /**
   * Makes the ledger of one channel.
   *
   * @param backend the store
   * @param warn where survived failures go
   * @param onFree called when deliveries were settled (room for more)
   */
  constructor(backend: QueueBackend, warn: Warn, onFree: () => void) {
    this.#backend = backend;
    this.#lease = backend.lease;
    this.#warn = warn;
    this.#onFree = onFree;
    const duration = this.#lease?.extend ? this.#lease.duration ?? 0 : 0;
    this.#renewEvery = duration > 0 ? Math.max(250, duration / 4) : 0;
  }

  /** How many deliveries wait for a settlement. */
  get size(): number {
    return this.#table.size;
  }

  /**
   * Hands a message out: gives it a delivery tag, holds it until it is settled (or settles it at
   * once with `noAck`), and marks it redelivered or possibly duplicated as the store reports.
   */
  deliver(
    queue: string,
    message: StoredMessage,
    noAck: boolean,
    consumerTag: string | undefined,
  ): Delivery {
    const deliveryTag = this.#nextTag++;
    if (noAck) {
      if (this.#lease) {
        this.#lease.settle(queue, message, "ack").catch((error) =>
          this.#warn(`Cannot ack a no-ack delivery of queue "${queue}"`, error)
        );
      }
    } else {
      const since = this.#renewEvery ? message.leasedAt ?? Date.now() : 0;
      this.#table.add(deliveryTag, { queue, message, since });
      if (this.#renewEvery && this.#renewal === undefined) this.#startRenewal();
    }
    let { properties, redelivered } = message;
    if (message.deliveryCount !== undefined && message.deliveryCount > 1) redelivered = true;
    if (message.possibleDuplicate) {
      properties = {
        ...properties,
        headers: { ...properties.headers, [POSSIBLE_DUPLICATE_HEADER]: true },
      };
    }
    return {
      body: message.body,
      properties,
      deliveryTag,
      exchange: message.exchange,
      routingKey: message.routingKey,
      redelivered,
      consumerTag,
    };
  }

  #take(tag: DeliveryTag, action: string): Held {
    const entry = this.#table.take(typeof tag === "number" ? tag : Number(tag));
    if (!entry) {
      throw new PreconditionFailedError(
        `Cannot ${action} delivery ${tag}: unknown delivery tag on this channel`,
        { replyCode: 406, classId: 60, methodId: 80 },
      );
    }
    return entry;
  }

  /** Acknowledges a delivery (and earlier ones with `multiple`). */
  ack(deliveryTag: DeliveryTag, multiple: boolean): Promise<void> {
    let entries: Held[];
    try {
      if (!multiple) {
        const entry = this.#take(deliveryTag, "ack");
        this.#onFree();
        return this.#lease ? this.#lease.settle(entry.queue, entry.message, "ack") : RESOLVED;
      }
      entries = this.#table.takeUpTo(Number(deliveryTag));
    } catch (error) {
      return Promise.reject(error);
    }
    this.#onFree();
    const lease = this.#lease;
    if (!lease) return RESOLVED;
    return (async () => {
      for (const { queue, message } of entries) await lease.settle(queue, message, "ack");
    })();
  }

  /** Rejects a delivery: back to its queue (marked redelivered) with `requeue`, else done. */
  async reject(deliveryTag: DeliveryTag, requeue: boolean): Promise<void> {
    const { queue, message } = this.#take(deliveryTag, "reject");
    this.#onFree();
    if (requeue) await this.#release(queue, redelivered(message), "back");
    else await this.#lease?.settle(queue, message, "reject");
  }

  /** Puts every unacknowledged delivery back, marked redelivered, first delivered first. */
  async restoreAll(): Promise<void> {
    if (this.#table.size === 0) return;
    const entries = this.#table.takeAll();
    this.#onFree();
    if (this.#lease) {
      // Each goes to the front: the last first, so the first delivered ends up first in line.
      await Promise.all(
        entries.reverse().map(({ queue, message }) =>
          this.#lease!.release(queue, redelivered(message), { position: "front" })
        ),
      );
      return;
    }
    for (const { queue, message } of entries) {
      await this.#backend.put(queue, redelivered(message));
    }
  }

  /** Gives back, untouched, a message fetched for a consumer that went away meanwhile. */
  async giveBack(queue: string, message: StoredMessage): Promise<void> {
    try {
      await this.#release(queue, message, "front");
    } catch (error) {
      this.#warn(`Cannot give a message back to queue "${queue}"`, error);
    }
  }

  #release(queue: string, message: StoredMessage, position: "back" | "front"): Promise<void> {
    return this.#lease
      ? this.#lease.release(queue, message, { position })
      : this.#backend.put(queue, message);
  }

  /** Stops renewing leases (the channel closed). */
  close(): void {
    if (this.#renewal !== undefined) clearInterval(this.#renewal);
    this.#renewal = undefined;
  }

  /**
   * Extends the lease of every delivery held for half its duration, so that a slow consumer
   * keeps its message hidden; stops when nothing is held.
   */
  #startRenewal(): void {
    const lease = this.#lease!;
    const duration = lease.duration!;
    this.#renewal = setInterval(() => {
      if (this.#table.size === 0) return this.close();
      const now = Date.now();
      for (const held of this.#table.values()) {
        if (now - held.since < duration / 2) continue;
        held.since = now;
        lease.extend!(held.queue, held.message, duration).catch((error) =>
          this.#warn(`Cannot extend the lease of a message of queue "${held.queue}"`, error)
        );
      }
    }, this.#renewEvery);
    // A held delivery alone must not keep the process alive (Node, Bun: unref; Deno: unrefTimer).
    const timer = this.#renewal as unknown;
    if (typeof timer === "number") {
      (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(timer);
    } else (timer as { unref?: () => void }).unref?.();
  }
}

function redelivered(message: StoredMessage): StoredMessage {
  return message.redelivered ? message : { ...message, redelivered: true };
}
