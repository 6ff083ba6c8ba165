/**
 * The unacknowledged deliveries of one channel, by delivery tag.
 *
 * A channel hands out tags in order (1, 2, 3, ...) and consumers mostly settle them in order, so
 * entries live in a window array indexed by `tag - base`: adding, finding and removing are array
 * reads and writes, where a hash map of 100k entries spent more time rehashing than the rest of
 * an ack. Entries that stay unsettled while many later ones are settled would leave the window
 * mostly holes: they move out to a small map instead, so memory follows what is unsettled.
 *
 * @module
 */

/** Holes the window may hold beyond this many per live entry (plus a floor) before it moves. */
const HOLES_PER_ENTRY = 4;
const HOLES_FLOOR = 4096;

/** Entries by increasing numeric tag. */
export class DeliveryTable<T> {
  /** Tag of `#slots[0]`. */
  #base = 0;
  /** The window: `#slots[i]` is the entry of tag `#base + i`, or `undefined`. */
  #slots: (T | undefined)[] = [];
  /** Slots before this index are empty. */
  #head = 0;
  /** Entries older than the window, in increasing tag order. */
  #old = new Map<number, T>();
  /** Entries in the window. */
  #live = 0;

  /** How many entries there are. */
  get size(): number {
    return this.#live + this.#old.size;
  }

  /**
   * Adds the entry of a new tag.
   *
   * @param tag larger than every tag added before
   * @param value the entry
   * @throws {RangeError} when `tag` is not larger than the last one
   */
  add(tag: number, value: T): void {
    if (this.#slots.length === 0 && this.#old.size === 0) this.#base = tag;
    const index = tag - this.#base;
    if (index < this.#slots.length) {
      throw new RangeError(`Delivery tag ${tag} is not larger than the last one`);
    }
    while (this.#slots.length < index) this.#slots.push(undefined);
    this.#slots.push(value);
    this.#live++;
    if (this.#slots.length - this.#head > HOLES_PER_ENTRY * this.#live + HOLES_FLOOR) {
      this.#advance();
    }
  }

  /**
   * Finds an entry.
   *
   * @param tag the delivery tag
   * @returns the entry, or `undefined`
   */
  get(tag: number): T | undefined {
    const index = tag - this.#base;
    if (index >= this.#head) return this.#slots[index];
    return this.#old.get(tag);
  }

  /**
   * Removes an entry and returns it.
   *
   * @param tag the delivery tag
   * @returns the entry, or `undefined` when there was none
   */
  take(tag: number): T | undefined {
    const index = tag - this.#base;
    let value: T | undefined;
    if (index >= this.#head) {
      value = this.#slots[index];
      if (value === undefined) return undefined;
      this.#slots[index] = undefined;
      this.#live--;
      if (index === this.#head) this.#advance();
    } else {
      value = this.#old.get(tag);
      if (value === undefined) return undefined;
      this.#old.delete(tag);
    }
    return value;
  }

  /**
   * Removes every entry with a tag up to `limit` (AMQP's `multiple`), oldest first.
   *
   * @param limit the largest tag to remove
   * @returns the removed entries
   */
  takeUpTo(limit: number): T[] {
    const out: T[] = [];
    for (const [tag, value] of this.#old) {
      if (tag > limit) break;
      out.push(value);
      this.#old.delete(tag);
    }
    const end = Math.min(limit - this.#base + 1, this.#slots.length);
    for (let i = this.#head; i < end; i++) {
      const value = this.#slots[i];
      if (value === undefined) continue;
      out.push(value);
      this.#slots[i] = undefined;
      this.#live--;
    }
    this.#advance();
    return out;
  }

  /**
   * Removes every entry, oldest first.
   *
   * @returns the entries
   */
  takeAll(): T[] {
    const out = [...this.#old.values()];
    for (let i = this.#head; i < this.#slots.length; i++) {
      const value = this.#slots[i];
      if (value !== undefined) out.push(value);
    }
    this.#old.clear();
    this.#slots = [];
    this.#head = 0;
    this.#live = 0;
    return out;
  }

  /**
   * Lists every entry, oldest first, without removing any.
   *
   * @returns the entries
   */
  values(): T[] {
    const out = [...this.#old.values()];
    for (let i = this.#head; i < this.#slots.length; i++) {
      const value = this.#slots[i];
      if (value !== undefined) out.push(value);
    }
    return out;
  }

  /** Skips empty slots at the head; trims or moves the window when it is mostly empty. */
  #advance(): void {
    const slots = this.#slots;
    let head = this.#head;
    while (head < slots.length && slots[head] === undefined) head++;
    // Entries left behind by many settled later ones move out of the way.
    while (slots.length - head > HOLES_PER_ENTRY * this.#live + HOLES_FLOOR) {
      const value = slots[head];
      if (value !== undefined) {
        this.#old.set(this.#base + head, value);
        slots[head] = undefined;
        this.#live--;
      }
      head++;
      while (head < slots.length && slots[head] === undefined) head++;
    }
    if (head === slots.length) {
      this.#base += head;
      this.#slots = [];
      this.#head = 0;
    } else if (head > 1024 && head * 2 > slots.length) {
      this.#slots = slots.slice(head);
      this.#base += head;
      this.#head = 0;
    } else {
      this.#head = head;
    }
  }
}
