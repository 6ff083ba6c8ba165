/**
 * What producers, consumers and simple queues need of a connection: a channel, the shared
 * default channel and `ensure`. {@link Connection} is one; depending on this interface instead
 * of the class keeps `connection.ts`, `producer.ts`, `consumer.ts` and `simple.ts` free of an
 * import circle.
 *
 * @module
 */

import type { RetryPolicy } from "./retry.ts";
import type { Channel } from "./transport.ts";

/** Options of `Connection.ensure`: a retry policy plus a hook after reconnecting. */
export interface EnsureOptions extends RetryPolicy {
  /** Called with the new default channel after a reconnect (Kombu's `obj.revive`). */
  onRevive?: (channel: Channel) => void | Promise<void>;
}

/** Something that must start again after a reconnect (a consuming Consumer). */
export interface Revivable {
  /** Re-attaches to the re-established connection. */
  revive(channel?: Channel): Promise<void>;
  /** The connection closed for good: stop waiting (ends a consumer's `for await`). Optional. */
  stop?(): void;
}

/**
 * The part of a `Connection` that producers, consumers and simple queues use. A `Connection`
 * also keeps, out of sight, the declaration cache of `maybeDeclare` and the consumers to revive
 * after a reconnect; another implementation of this interface gets neither (every declaration is
 * made, nothing is revived).
 */
export interface ChannelSource {
  /** True once the connection was closed for good. */
  readonly closed: boolean;
  /** Opens a new channel (connecting first if needed). */
  channel(): Promise<Channel>;
  /** The channel shared by producers and consumers made from this connection. */
  defaultChannel(): Promise<Channel>;
  /**
   * Wraps an operation so that recoverable failures reconnect and retry it (Kombu's `ensure`).
   *
   * @param fn the operation
   * @param options retry policy and a revive hook
   * @returns the wrapped operation
   */
  ensure<A extends unknown[], R>(
    fn: (...args: A) => Promise<R>,
    options?: EnsureOptions,
  ): (...args: A) => Promise<R>;
  /** The current URL with its password masked (Kombu's `as_uri()`). */
  asUri(options?: { includePassword?: boolean }): string;
  /** Closes the connection. */
  close(): Promise<void>;
}

/**
 * Tells a channel from a connection.
 *
 * @param value a channel or a connection
 * @returns true for a channel (it has `basicPublish`)
 */
export function isChannel(value: unknown): value is Channel {
  return typeof value === "object" && value !== null && "basicPublish" in value;
}
