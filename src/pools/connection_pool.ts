/**
 * Pools of connections and of channels (Kombu's `ConnectionPool` and `ChannelPool`).
 *
 * @module
 */

import type { Connection } from "../connection.ts";
import type { Channel } from "../transport.ts";
import { type AcquireOptions, type PoolLease, ResourcePool } from "./resource.ts";
import { getLimit } from "./limit.ts";

/** Options of the pools made from a connection. */
export interface PoolOptions {
  /** Most resources at once; 0 for none (default: the global limit, {@link getLimit}). */
  limit?: number;
}

/** A connection lease that also carries the connection's default channel. */
export interface ChannelLease extends PoolLease<Connection> {
  /** The connection's default channel. */
  readonly channel: Channel;
}

/**
 * A pool of connections cloned from one (Kombu's `ConnectionPool`, `conn.Pool()`). Connections
 * connect lazily on first use; a broken one should be given back with `discard()`.
 *
 * @example
 * ```ts
 * import { Connection } from "@wakame/wakame";
 * import { ConnectionPool } from "@wakame/wakame";
 * const pool = new ConnectionPool(new Connection("memory://"), { limit: 2 });
 * {
 *   await using lease = await pool.acquire();
 *   await lease.resource.producer().publish("hi", { routingKey: "pool-doc" });
 * }
 * await pool.close();
 * ```
 */
export class ConnectionPool extends ResourcePool<Connection> {
  /** The connection the pooled ones are cloned from. */
  readonly connection: Connection;

  /**
   * Makes a ConnectionPool.
   *
   * @param connection the template (never handed out itself)
   * @param options the limit (default: the global limit)
   */
  constructor(connection: Connection, options: PoolOptions = {}) {
    super({
      create: () => connection.clone(),
      dispose: (conn) => conn.close(),
      limit: options.limit ?? getLimit(),
      name: connection.asUri(),
    });
    this.connection = connection;
  }

  /**
   * Acquires a connection together with its default channel (Kombu's `acquire_channel`).
   *
   * @param options timeout and signal, as {@link ResourcePool.acquire}
   * @returns the lease, with `channel`
   * @throws {LimitExceededError} when the limit is reached and the timeout passes
   */
  async acquireChannel(options: AcquireOptions = {}): Promise<ChannelLease> {
    const lease = await this.acquire(options);
    try {
      const channel = await lease.resource.defaultChannel();
      return Object.assign(lease, { channel });
    } catch (error) {
      await lease.discard();
      throw error;
    }
  }
}

/**
 * A pool of channels of one connection (Kombu's `ChannelPool`, `conn.ChannelPool()`). A
 * channel found closed is replaced.
 */
export class ChannelPool extends ResourcePool<Channel> {
  /** The connection the channels belong to. */
  readonly connection: Connection;

  /**
   * Makes a ChannelPool.
   *
   * @param connection the connection
   * @param options the limit (default: the global limit)
   */
  constructor(connection: Connection, options: PoolOptions = {}) {
    super({
      create: () => connection.channel(),
      dispose: async (channel) => {
        if (channel.isOpen) await channel.close();
      },
      isUsable: (channel) => channel.isOpen,
      limit: options.limit ?? getLimit(),
      name: `channels of ${connection.asUri()}`,
    });
    this.connection = connection;
  }
}
