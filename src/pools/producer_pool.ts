/**
 * Pools of producers over a connection pool (Kombu's `ProducerPool`).
 *
 * @module
 */

import { Producer, type ProducerOptions } from "../producer.ts";
import type { ConnectionPool, PoolOptions } from "./connection_pool.ts";
import type { Connection } from "../connection.ts";
import {
  type AcquireOptions,
  type PoolLease,
  ResourcePool,
  type SetLimitOptions,
} from "./resource.ts";
import { getLimit } from "./limit.ts";

/** Options of a {@link ProducerPool}. */
export interface ProducerPoolOptions extends PoolOptions {
  /** Options of every producer (default exchange, routing key, serializer...). */
  producer?: ProducerOptions;
}

/**
 * A pool of producers over a pool of connections (Kombu's `ProducerPool`). As in Kombu, a
 * producer holds a connection only while acquired: the connection goes back to its pool on
 * release. The limit bounds how many producers are out at once.
 *
 * @example
 * ```ts
 * import { Connection } from "@wakame/wakame";
 * import { ConnectionPool, ProducerPool } from "@wakame/wakame";
 * const connections = new ConnectionPool(new Connection("memory://"), { limit: 2 });
 * const producers = new ProducerPool(connections, { limit: 2 });
 * {
 *   await using lease = await producers.acquire({ timeout: 1000 });
 *   await lease.resource.publish({ n: 1 }, { routingKey: "producer-pool-doc" });
 * }
 * await producers.close();
 * await connections.close();
 * ```
 */
export class ProducerPool implements AsyncDisposable {
  /** The connections producers publish on. */
  readonly connections: ConnectionPool;
  readonly #slots: ResourcePool<object>;
  readonly #producerOptions: ProducerOptions | undefined;

  /**
   * Makes a ProducerPool.
   *
   * @param connections the connection pool
   * @param options the limit (default: the global limit) and producer options
   */
  constructor(connections: ConnectionPool, options: ProducerPoolOptions = {}) {
    this.connections = connections;
    this.#producerOptions = options.producer;
    this.#slots = new ResourcePool<object>({
      create: () => ({}),
      limit: options.limit ?? getLimit(),
      name: `producers of ${connections.connection.asUri()}`,
    });
  }

  /** The limit; 0 means none. */
  get limit(): number {
    return this.#slots.limit;
  }

  /** Producers out now. */
  get inUse(): number {
    return this.#slots.inUse;
  }

  /** The limit (Kombu's `limit`). */
  getLimit(): number {
    return this.#slots.limit;
  }

  /**
   * Changes the limit.
   *
   * @param limit the new limit, 0 for none
   * @param options `force` to shrink while in use
   * @throws {KombuError} when shrinking below the producers out, without `force`
   */
  setLimit(limit: number, options: SetLimitOptions = {}): Promise<void> {
    return this.#slots.setLimit(limit, options);
  }

  /**
   * Takes a producer bound to a pooled connection.
   *
   * @param options timeout and signal (for the producer slot and the connection alike)
   * @returns a lease on the producer; `discard()` also discards its connection
   * @throws {LimitExceededError} when a limit is reached and the timeout passes
   */
  async acquire(options: AcquireOptions = {}): Promise<PoolLease<Producer>> {
    const slot = await this.#slots.acquire(options);
    let connection: PoolLease<Connection>;
    try {
      connection = await this.connections.acquire(options);
    } catch (error) {
      await slot.release();
      throw error;
    }
    const producer = new Producer(connection.resource, this.#producerOptions);
    let released = false;
    const finish = async (broken: boolean) => {
      if (released) return;
      released = true;
      try {
        await (broken ? connection.discard() : connection.release());
      } finally {
        await slot.release();
      }
    };
    return {
      resource: producer,
      get released() {
        return released;
      },
      release: () => finish(false),
      discard: () => finish(true),
      [Symbol.asyncDispose]: () => finish(false),
    };
  }

  /** Closes the pool (not the connection pool, which may be shared). */
  close(): Promise<void> {
    return this.#slots.close();
  }

  /** Same as {@link ProducerPool.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
