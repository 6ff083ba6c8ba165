/**
 * Declaring an entity once per connection (Kombu's `maybe_declare` and `declared_entities`).
 *
 * @module
 */

import { connectionInternals } from "../_connection_internals.ts";
import type { ChannelSource } from "../channel_source.ts";
import { ConfigurationError } from "../errors.ts";
import type { RetryPolicy } from "../retry.ts";
import type { Channel } from "../transport.ts";

/** An exchange or queue declaration cache, one per connection (Kombu's `declared_entities`). */
export interface DeclarationCache {
  /** Keys of what was declared on the current connection. */
  readonly declaredEntities: Set<string>;
}

/** Anything `maybeDeclare` can declare. */
export interface Declarable {
  /** A key that identifies the declaration (name and arguments). */
  readonly declarationKey: string;
  /**
   * False when the entity may vanish by itself (auto-delete, x-expires), so `maybeDeclare` must
   * declare it every time (Kombu's `can_cache_declaration`). Absent means cacheable.
   */
  readonly canCacheDeclaration?: boolean;
  /** Declares on a channel. */
  declareOn(channel: Channel): Promise<unknown>;
}

/** Options of {@link maybeDeclare}. */
export interface MaybeDeclareOptions {
  /**
   * On a recoverable failure, reconnect and declare again on the new default channel (Kombu's
   * `maybe_declare(..., retry=True)`); needs the connection as the cache.
   */
  retry?: boolean;
  /** How to retry (Kombu's `**retry_policy`, in ms; default: forever, every second). */
  retryPolicy?: RetryPolicy;
}

/**
 * Declares an entity once per connection (Kombu's `maybe_declare`); the cache is cleared when the
 * connection is re-established.
 *
 * @param entity an exchange or queue
 * @param channel where to declare it
 * @param cache the connection (its cache, cleared on reconnect) or a cache of your own; omit to
 *   always declare
 * @param options `retry` and `retryPolicy`
 * @returns true when it declared, false when the cache said it was done
 * @throws {ConfigurationError} for `retry` without a connection as the cache
 */
export async function maybeDeclare(
  entity: Declarable,
  channel: Channel,
  cache?: DeclarationCache | ChannelSource,
  options?: MaybeDeclareOptions,
): Promise<boolean> {
  if (!options?.retry) return await declareOnce(entity, channel, cache);
  if (cache === undefined || "declaredEntities" in cache) {
    throw new ConfigurationError(
      `Cannot declare ${entity.declarationKey.split(":", 2).join(' "')}" with retry: ` +
        "pass the connection as the cache",
    );
  }
  let target = channel;
  return await cache.ensure(() => declareOnce(entity, target, cache), {
    ...options.retryPolicy,
    onRevive: (fresh) => void (target = fresh),
  })();
}

async function declareOnce(
  entity: Declarable,
  channel: Channel,
  cache: DeclarationCache | ChannelSource | undefined,
): Promise<boolean> {
  const key = entity.declarationKey;
  const declared = cache === undefined
    ? undefined
    : "declaredEntities" in cache
    ? cache.declaredEntities
    : connectionInternals(cache)?.declared;
  const cacheable = declared !== undefined && entity.canCacheDeclaration !== false;
  if (cacheable && declared.has(key)) return false;
  await entity.declareOn(channel);
  if (cacheable) declared.add(key);
  return true;
}
