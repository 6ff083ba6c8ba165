/**
 * The plumbing between a `Connection` and what is made from it, kept off the public classes:
 * the per-connection declaration cache of `maybeDeclare`, the consumers revived after a
 * reconnect and the activity that ends `drainEvents`. A connection registers its internals once
 * (a WeakMap entry); producers and consumers look them up once, in their constructors, never per
 * message.
 *
 * @module
 */

import type { Revivable } from "./channel_source.ts";

/** A connection's internals. */
export interface ConnectionInternals {
  /** Keys of entities declared on the current transport connection (cleared on reconnect). */
  readonly declared: Set<string>;
  /** Told of every handled message (it wakes `drainEvents`); one method call, no lookup. */
  readonly activity: { notify(): void };
  /** Registers a consumer to revive after a reconnect. */
  attach(revivable: Revivable): void;
  /** Stops reviving a consumer. */
  detach(revivable: Revivable): void;
  /** True while the connection is down and a recovery is reconnecting it. */
  recovering(): boolean;
  /**
   * Starts reconnecting in the background, as after a loss, when the connection is down and not
   * closed; what is attached is revived once it is back. Does nothing while it is up.
   */
  recover(): void;
}

const INTERNALS = new WeakMap<object, ConnectionInternals>();

/**
 * Registers a connection's internals (called once by its constructor).
 *
 * @param connection the connection
 * @param internals its internals
 */
export function setConnectionInternals(connection: object, internals: ConnectionInternals): void {
  INTERNALS.set(connection, internals);
}

/**
 * The internals of a connection.
 *
 * @param connection a connection (or anything else)
 * @returns its internals, or `undefined` when it is not a `Connection`
 */
export function connectionInternals(connection: unknown): ConnectionInternals | undefined {
  return typeof connection === "object" && connection !== null
    ? INTERNALS.get(connection)
    : undefined;
}

/**
 * Forgets a declaration, so that the next `maybeDeclare` on that connection declares again
 * (after deleting the entity).
 *
 * @param connection the connection
 * @param key the entity's `declarationKey`
 */
export function forgetDeclaration(connection: unknown, key: string): void {
  connectionInternals(connection)?.declared.delete(key);
}
