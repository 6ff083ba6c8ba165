/**
 * The consumers of one virtual channel: by tag, the queues they read in the order of this round
 * (a Kombu cycle from `src/utils/fair_cycle.ts`), and which consumer takes a message when several
 * read one queue.
 *
 * @module
 */

import type { ConsumeHandlers } from "../transport.ts";
import { cycleByName, type CycleName, type RoundRobinCycle } from "../utils/fair_cycle.ts";

/** One consumer of the channel. */
export interface ConsumerEntry {
  /** Its consumer tag. */
  readonly tag: string;
  /** The queue it reads. */
  readonly queue: string;
  /** Deliveries are settled when handed out. */
  readonly noAck: boolean;
  /** Where deliveries go. */
  readonly handlers: ConsumeHandlers;
}

/** The consumers of a channel. */
export class Consumers {
  readonly #byTag = new Map<string, ConsumerEntry>();
  readonly #cycle: RoundRobinCycle<string>;
  /** The consumed queues, each once; recomputed after the consumers change. */
  #queues: string[] | undefined;
  #turn = 0;

  /** @param order how a consumer of several queues visits them */
  constructor(order: CycleName) {
    this.#cycle = cycleByName(order);
  }

  /** How many consumers there are. */
  get size(): number {
    return this.#byTag.size;
  }

  /** True when the tag is taken. */
  has(tag: string): boolean {
    return this.#byTag.has(tag);
  }

  /** Adds a consumer. */
  add(entry: ConsumerEntry): void {
    this.#byTag.set(entry.tag, entry);
    this.#queues = undefined;
  }

  /** Removes a consumer; true when it existed. */
  delete(tag: string): boolean {
    const existed = this.#byTag.delete(tag);
    if (existed) this.#queues = undefined;
    return existed;
  }

  /** Removes every consumer. */
  clear(): void {
    this.#byTag.clear();
    this.#queues = undefined;
  }

  /** How many consumers read the queue. */
  count(queue: string): number {
    let n = 0;
    for (const consumer of this.#byTag.values()) if (consumer.queue === queue) n++;
    return n;
  }

  /** Removes the consumers of a queue and returns them. */
  removeQueue(queue: string): ConsumerEntry[] {
    const gone = [...this.#byTag.values()].filter((consumer) => consumer.queue === queue);
    for (const consumer of gone) this.delete(consumer.tag);
    return gone;
  }

  /** The consumed queues in the order of this round. */
  queuesInTurn(): string[] {
    let queues = this.#queues;
    if (!queues) {
      queues = [];
      for (const consumer of this.#byTag.values()) {
        if (!queues.includes(consumer.queue)) queues.push(consumer.queue);
      }
      this.#queues = queues;
      this.#cycle.update(queues);
    }
    return queues.length > 1 ? this.#cycle.consume() : queues;
  }

  /** The round is over: the queue that went first goes last (a priority cycle keeps order). */
  endRound(queues: readonly string[]): void {
    if (queues.length > 1) this.#cycle.rotate(queues[0]);
  }

  /** The consumer that takes a message of the queue; several of one queue take turns. */
  pick(queue: string): ConsumerEntry | undefined {
    if (this.#byTag.size === 1) {
      const only = this.#byTag.values().next().value!;
      return only.queue === queue ? only : undefined;
    }
    let first: ConsumerEntry | undefined;
    let count = 0;
    for (const consumer of this.#byTag.values()) {
      if (consumer.queue !== queue) continue;
      first ??= consumer;
      count++;
    }
    if (count <= 1 || !first) return first;
    const pick = this.#turn++ % count;
    let i = 0;
    for (const consumer of this.#byTag.values()) {
      if (consumer.queue === queue && i++ === pick) return consumer;
    }
    return first;
  }
}
