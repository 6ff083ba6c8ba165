/**
 * Taking messages from a store that has no "pop": list a queue's keys in order once, then claim
 * them one by one (a conditional delete or move, which another consumer may win) until the
 * listing is used up, and only then list again. The etcd and ZooKeeper backends take this way.
 *
 * @module
 */

import type { StoredMessage } from "./backend.ts";

/** One listing of a queue: its items in the order they are taken, and the store's index. */
export interface QueueListing<T> {
  /** The items (keys, nodes), in the order they are to be taken. */
  readonly items: readonly T[];
  /** The store's index at the time of the listing, when it has one (etcd's, for a watch). */
  readonly index?: number;
}

/** What one {@link ListingCursor.take} got. */
export interface Taken {
  /** The messages claimed, in listing order. */
  readonly messages: StoredMessage[];
  /** The index of a fresh listing that was empty (the queue had nothing when listed). */
  readonly index?: number;
}

/**
 * Each queue's last listing and how far it has been taken.
 *
 * @typeParam T an item of a listing (an etcd node, a ZooKeeper child name)
 */
export class ListingCursor<T> {
  readonly #list: (queue: string) => Promise<QueueListing<T>>;
  readonly #claim: (queue: string, item: T) => Promise<StoredMessage | undefined>;
  readonly #listings = new Map<string, { items: readonly T[]; next: number }>();

  /**
   * @param list lists a queue's items in order
   * @param claim takes one item: its message, or undefined when another consumer took it
   */
  constructor(
    list: (queue: string) => Promise<QueueListing<T>>,
    claim: (queue: string, item: T) => Promise<StoredMessage | undefined>,
  ) {
    this.#list = list;
    this.#claim = claim;
  }

  /**
   * Takes up to `n` messages of a queue from its last listing, which is listed again (once)
   * when used up; items another consumer took are skipped. Claims of one round run at once.
   *
   * @param queue the queue
   * @param n the most messages
   * @returns the messages, and the index of a fresh listing that found nothing
   */
  async take(queue: string, n: number): Promise<Taken> {
    const messages: StoredMessage[] = [];
    let listed = false;
    while (messages.length < n) {
      let listing = this.#listings.get(queue);
      if (!listing || listing.next >= listing.items.length) {
        if (listed) break;
        const { items, index } = await this.#list(queue);
        listed = true;
        listing = { items, next: 0 };
        this.#listings.set(queue, listing);
        if (items.length === 0) return { messages, index };
      }
      const batch = listing.items.slice(listing.next, listing.next + (n - messages.length));
      listing.next += batch.length;
      const taken = await Promise.all(batch.map((item) => this.#claim(queue, item)));
      for (const message of taken) if (message) messages.push(message);
    }
    return { messages };
  }

  /**
   * Replaces a queue's listing with one made elsewhere (while arming a watch).
   *
   * @param queue the queue
   * @param items its items in order
   */
  set(queue: string, items: readonly T[]): void {
    this.#listings.set(queue, { items, next: 0 });
  }

  /**
   * Forgets a queue's listing (it was purged or deleted).
   *
   * @param queue the queue
   */
  forget(queue: string): void {
    this.#listings.delete(queue);
  }
}
