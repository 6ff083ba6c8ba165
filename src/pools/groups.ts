/**
 * Pools keyed by broker URL (Kombu's `PoolGroup`), the global limit, and the global
 * `connections` and `producers` groups (Kombu's `kombu.pools`).
 *
 * @module
 */

import { Connection } from "../connection.ts";
import { ConnectionPool } from "./connection_pool.ts";
import { ProducerPool } from "./producer_pool.ts";
import { checkLimit, getLimit, setGlobalLimit } from "./limit.ts";
import type { SetLimitOptions } from "./resource.ts";

/** A pool a {@link PoolGroup} holds: anything whose limit {@link setLimit} can change. */
export interface Resizable {
  /** Changes the pool's limit. */
  setLimit(limit: number, options?: SetLimitOptions): Promise<void>;
  /** Closes the pool. */
  close(): Promise<void>;
}

/**
 * Pools keyed by broker URL (Kombu's `PoolGroup`): the first `get` for a URL makes its pool.
 * Keys include the password (so two users of one host get two pools) and are never shown.
 */
export class PoolGroup<P extends Resizable> {
  readonly #pools = new Map<string, P>();
  readonly #create: (connection: Connection, limit: number) => P;
  readonly #limit: number | undefined;

  /**
   * Makes a PoolGroup.
   *
   * @param create makes the pool of one connection
   * @param limit the limit of new pools (default: the global limit at the time)
   */
  constructor(create: (connection: Connection, limit: number) => P, limit?: number) {
    this.#create = create;
    this.#limit = limit;
  }

  /**
   * The pool of a URL or connection, made on first use.
   *
   * @param target a broker URL or a connection (its current URL and options)
   * @returns the pool
   */
  get(target: string | Connection): P {
    const key = typeof target === "string" ? target : target.asUri({ includePassword: true });
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      const connection = typeof target === "string" ? new Connection(target) : target;
      pool = this.#create(connection, this.#limit ?? getLimit());
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** The number of pools. */
  get size(): number {
    return this.#pools.size;
  }

  /** The pools. */
  values(): IterableIterator<P> {
    return this.#pools.values();
  }

  /** Closes every pool and forgets them. */
  async clear(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }
}

const groups = new Set<PoolGroup<Resizable>>();

/**
 * Registers a group so that {@link setLimit} resizes its pools and {@link reset} closes them
 * (Kombu's `register_group`). The global `connections` and `producers` groups are registered.
 *
 * @param group the group
 * @returns the same group
 */
export function registerGroup<P extends Resizable>(group: PoolGroup<P>): PoolGroup<P> {
  groups.add(group as unknown as PoolGroup<Resizable>);
  return group;
}

/**
 * Changes the global limit and resizes every pool of the groups (Kombu's `set_limit`).
 *
 * @param limit the new limit, 0 for none
 * @param options `force` to shrink pools that have more resources out
 * @returns the limit
 * @throws {KombuError} when a pool cannot shrink without `force`
 */
export async function setLimit(limit: number, options: SetLimitOptions = {}): Promise<number> {
  checkLimit(limit);
  if (limit !== getLimit()) {
    setGlobalLimit(limit);
    for (const group of groups) {
      for (const pool of group.values()) await pool.setLimit(limit, options);
    }
  }
  return limit;
}

/**
 * Closes every pool of every group and forgets them (Kombu's `kombu.pools.reset`).
 */
export async function reset(): Promise<void> {
  await Promise.all([...groups].map((g) => g.clear()));
}

/**
 * The global connection pools, one per broker URL (Kombu's `kombu.pools.connections`).
 *
 * @example
 * ```ts
 * import { connections, reset } from "@wakame/wakame";
 * {
 *   await using lease = await connections.get("memory://").acquire({ timeout: 1000 });
 *   await lease.resource.producer().publish("hi", { routingKey: "connections-doc" });
 * }
 * await reset();
 * ```
 */
export const connections: PoolGroup<ConnectionPool> = registerGroup(
  new PoolGroup((connection, limit) => new ConnectionPool(connection, { limit })),
);

/**
 * The global producer pools, one per broker URL, over {@link connections} (Kombu's
 * `kombu.pools.producers`).
 *
 * @example
 * ```ts
 * import { producers, reset } from "@wakame/wakame";
 * {
 *   await using lease = await producers.get("memory://").acquire({ timeout: 1000 });
 *   await lease.resource.publish({ n: 1 }, { routingKey: "producers-doc" });
 * }
 * await reset();
 * ```
 */
export const producers: PoolGroup<ProducerPool> = registerGroup(
  new PoolGroup((connection, limit) => new ProducerPool(connections.get(connection), { limit })),
);
