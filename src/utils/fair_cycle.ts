/**
 * Scheduling helpers (Kombu's `kombu.utils.scheduling`): {@link FairCycle} gives each of a set
 * of resources (queues, usually) an equal chance, and the cycles decide the order in which a
 * virtual channel polls its queues: round robin, priority (always in order) or sorted.
 *
 * @module
 */

/**
 * Reads from one resource; resolves to `undefined` when that resource has nothing (Kombu raises
 * `Empty` there).
 */
export type CycleReader<R, T> = (resource: R) => T | undefined | Promise<T | undefined>;

/**
 * Cycles between resources so each gets an equal chance to be read from (Kombu's `FairCycle`).
 *
 * Each {@link FairCycle.get} starts at the resource after the one that answered last time and
 * tries every resource at most once. Kombu signals "nothing here" with an exception; here the
 * reader resolves to `undefined`, like `basicGet`. Errors thrown by the reader propagate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FairCycle } from "./fair_cycle.ts";
 * const queues: Record<string, string[]> = { a: ["a1", "a2"], b: ["b1"] };
 * const cycle = new FairCycle((name: string) => queues[name]!.shift(), ["a", "b"]);
 * const got = [await cycle.get(), await cycle.get(), await cycle.get(), await cycle.get()];
 * assert.equal(got.join(), "a1,b1,a2,");
 * ```
 */
export class FairCycle<R, T> {
  /** The resources, in order; change the array freely between calls. */
  resources: R[];
  readonly #read: CycleReader<R, T>;
  #pos = 0;

  /**
   * Makes a FairCycle.
   *
   * @param read reads from one resource
   * @param resources the resources to cycle over
   */
  constructor(read: CycleReader<R, T>, resources: R[]) {
    this.#read = read;
    this.resources = resources;
  }

  /** The index of the resource the next {@link FairCycle.get} starts with. */
  get position(): number {
    return this.#pos;
  }

  /**
   * Reads from the next resource that has something.
   *
   * @returns the value read with the resource it came from, or `undefined` when every resource
   *   was empty (or there are none)
   */
  async getWithResource(): Promise<{ value: T; resource: R } | undefined> {
    const count = this.resources.length;
    for (let tried = 0; tried < count; tried++) {
      if (this.#pos >= this.resources.length) this.#pos = 0;
      const resource = this.resources[this.#pos]!;
      this.#pos += 1;
      const value = await this.#read(resource);
      if (value !== undefined) return { value, resource };
    }
    return undefined;
  }

  /**
   * Reads from the next resource that has something.
   *
   * @returns the value, or `undefined` when every resource was empty
   */
  async get(): Promise<T | undefined> {
    return (await this.getWithResource())?.value;
  }
}

/**
 * The order in which a consumer of several queues visits them (Kombu's `round_robin_cycle`):
 * the queue used last moves to the end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RoundRobinCycle } from "./fair_cycle.ts";
 * const cycle = new RoundRobinCycle(["a", "b", "c"]);
 * cycle.rotate("a");
 * assert.equal(cycle.consume(3).join(), "b,c,a");
 * ```
 */
export class RoundRobinCycle<T> {
  /** The items in their current order. */
  protected items: T[];

  /**
   * Makes a RoundRobinCycle.
   *
   * @param items the starting items (copied)
   */
  constructor(items: Iterable<T> = []) {
    this.items = [...items];
  }

  /**
   * Replaces the items.
   *
   * @param items the new items (copied)
   */
  update(items: Iterable<T>): void {
    this.items = [...items];
  }

  /**
   * Lists the first `n` items in visiting order.
   *
   * @param n how many (all when omitted)
   * @returns a new array
   */
  consume(n: number = this.items.length): T[] {
    return this.items.slice(0, n);
  }

  /**
   * Moves the item used last to the end of the order.
   *
   * @param lastUsed the item used
   * @returns the same item
   */
  rotate(lastUsed: T): T {
    const i = this.items.indexOf(lastUsed);
    if (i !== -1) this.items.push(...this.items.splice(i, 1));
    return lastUsed;
  }
}

/**
 * A cycle that always visits the items in the order given (Kombu's `priority_cycle`): the first
 * queue is drained before the second is looked at.
 */
export class PriorityCycle<T> extends RoundRobinCycle<T> {
  /**
   * Keeps the order (a priority cycle never rotates).
   *
   * @param lastUsed the item used
   * @returns the same item
   */
  override rotate(lastUsed: T): T {
    return lastUsed;
  }
}

/**
 * A priority cycle whose visiting order is the sorted order of the items (Kombu's
 * `sorted_cycle`).
 */
export class SortedCycle<T> extends PriorityCycle<T> {
  /**
   * Lists the first `n` items, sorted (strings by code unit, numbers by value).
   *
   * @param n how many (all when omitted)
   * @returns a new, sorted array
   */
  override consume(n: number = this.items.length): T[] {
    return this.items.slice(0, n).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/** The names of the built-in cycles (Kombu's `CYCLE_ALIASES`). */
export type CycleName = "round_robin" | "priority" | "sorted";

/**
 * Makes a cycle from its Kombu name (Kombu's `cycle_by_name`; the `queue_order_strategy`
 * transport option takes these names).
 *
 * @param name `round_robin`, `priority` or `sorted`
 * @param items the starting items
 * @returns a new cycle
 * @throws {RangeError} for any other name
 */
export function cycleByName<T>(name: string, items: Iterable<T> = []): RoundRobinCycle<T> {
  switch (name) {
    case "round_robin":
      return new RoundRobinCycle(items);
    case "priority":
      return new PriorityCycle(items);
    case "sorted":
      return new SortedCycle(items);
    default:
      throw new RangeError(
        `Cannot make cycle "${name}": expected "round_robin", "priority" or "sorted"`,
      );
  }
}
