/**
 * The `memory://` transport (Kombu's `memory` transport): queues in this process, shared by every
 * connection of the process. The default when a URL names no transport.
 *
 * URL: `memory://` (the virtual host names a separate set of queues).
 *
 * Capabilities: direct, topic, fanout and headers exchanges; mandatory returns; redelivered flag.
 * No priority, no TTL, nothing survives the process.
 *
 * @example
 * ```ts
 * import { Connection } from "@wakame/wakame";
 * await using conn = new Connection("memory://");
 * const queue = await conn.simpleQueue("doc-example");
 * await queue.put({ hello: "world" });
 * const message = await queue.get({ timeout: 1000 });
 * await message.ack();
 * ```
 *
 * @module
 */

import type { Capabilities, Transport } from "../../src/transport.ts";
import type {
  GetManyOptions,
  QueueBackend,
  QueueBatch,
  StoredMessage,
} from "../../src/virtual/backend.ts";
import { virtualTransport } from "../../src/virtual/transport.ts";
import { MEMORY_OPTIONS } from "./options.ts";

/** What `memory://` can do. */
export const memoryCapabilities: Capabilities = {
  exchangeTypes: ["direct", "topic", "fanout", "headers"],
  priority: "none",
  messageTtl: false,
  queueArguments: false,
  redeliveredFlag: true,
  confirms: false,
  mandatory: true,
  heartbeats: false,
  persistent: false,
  exclusive: false,
  exchangeBindings: false,
  crossProcess: false,
  fifo: true,
  queueEquivalence: true,
};

/** A FIFO with O(1) shift. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes and returns up to `n` items from the front. */
  take(n: number): T[] {
    const end = Math.min(this.#items.length, this.#head + n);
    const out = this.#items.slice(this.#head, end) as T[];
    this.#items.fill(undefined, this.#head, end);
    this.#head = end;
    if (this.#head >= this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  clear(): number {
    const n = this.length;
    this.#items = [];
    this.#head = 0;
    return n;
  }
}

interface Waiter {
  readonly queues: readonly string[];
  readonly signal: AbortSignal;
  readonly wake: () => void;
}

/** In-process queues; one instance per virtual host, shared by its connections. */
export class MemoryBackend implements QueueBackend {
  readonly #queues = new Map<string, Fifo<StoredMessage>>();
  readonly #waiters = new Set<Waiter>();
  readonly #watched = new WeakSet<AbortSignal>();

  #queue(name: string): Fifo<StoredMessage> {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Fifo();
      this.#queues.set(name, queue);
    }
    return queue;
  }

  /** Appends a message and wakes a consumer waiting on the queue. */
  put(queue: string, message: StoredMessage): Promise<void> {
    this.#queue(queue).push(message);
    if (this.#waiters.size > 0) {
      for (const waiter of this.#waiters) {
        if (waiter.queues.includes(queue)) {
          this.#waiters.delete(waiter);
          waiter.wake();
          break;
        }
      }
    }
    return Promise.resolve();
  }

  /** Creates the queue (a passive declaration then finds it). */
  declare(queue: string): Promise<void> {
    this.#queue(queue);
    return Promise.resolve();
  }

  /** True once the queue was declared or written to, until it is deleted. */
  exists(queue: string): Promise<boolean> {
    return Promise.resolve(this.#queues.has(queue));
  }

  /** Takes the oldest message. */
  get(queue: string): Promise<StoredMessage | undefined> {
    return Promise.resolve(this.#queues.get(queue)?.shift());
  }

  /** Takes up to `max` messages now, at most `perQueue` from each queue, in the order given. */
  #takeNow(queues: readonly string[], max: number, perQueue: number): QueueBatch[] {
    const got: QueueBatch[] = [];
    for (let i = 0; i < queues.length && max > 0; i++) {
      const queue = this.#queues.get(queues[i]);
      if (!queue || queue.length === 0) continue;
      const messages = queue.take(Math.min(max, perQueue));
      got.push({ queue: queues[i], messages });
      max -= messages.length;
    }
    return got;
  }

  /** Takes up to `max` messages, waiting for the first one. */
  async getMany(queues: readonly string[], options: GetManyOptions): Promise<QueueBatch[]> {
    const { signal, max } = options;
    for (;;) {
      const got = this.#takeNow(queues, max, options.perQueue ?? max);
      if (got.length > 0 || signal.aborted) return got;
      this.#watch(signal);
      await new Promise<void>((wake) => this.#waiters.add({ queues, signal, wake }));
    }
  }

  /** One abort listener per signal (channels reuse theirs), not one per wait. */
  #watch(signal: AbortSignal): void {
    if (this.#watched.has(signal)) return;
    this.#watched.add(signal);
    signal.addEventListener("abort", () => {
      for (const waiter of this.#waiters) {
        if (waiter.signal === signal) {
          this.#waiters.delete(waiter);
          waiter.wake();
        }
      }
    }, { once: true });
  }

  /** Empties a queue. */
  purge(queue: string): Promise<number> {
    return Promise.resolve(this.#queues.get(queue)?.clear() ?? 0);
  }

  /** Counts a queue's messages. */
  size(queue: string): Promise<number> {
    return Promise.resolve(this.#queues.get(queue)?.length ?? 0);
  }

  /** Removes a queue. */
  delete(queue: string): Promise<void> {
    this.#queues.delete(queue);
    return Promise.resolve();
  }
}

// The store contract this example implements, for transports written after it.
export type {
  GetManyOptions,
  Lease,
  QueueBackend,
  QueueBatch,
  ReleaseOptions,
  StoredMessage,
} from "../../src/virtual/backend.ts";

const backends = new Map<string, MemoryBackend>();

/** The `memory://` transport. */
export const MemoryTransport: Transport = virtualTransport({
  name: "memory",
  capabilities: memoryCapabilities,
  options: MEMORY_OPTIONS,
  scopeKey: (params) => `memory|${params.virtualHost}`,
  openBackend(params) {
    let backend = backends.get(params.virtualHost);
    if (!backend) {
      backend = new MemoryBackend();
      backends.set(params.virtualHost, backend);
    }
    return Promise.resolve(backend);
  },
});

export default MemoryTransport;
