/**
 * Bindings in Kombu's Redis layout: one set per exchange, `_kombu.binding.<exchange>`, whose
 * members are `routing_key + SEP + pattern + SEP + queue`. Python Kombu and wakame read and write
 * the same sets, so bindings declared by either side route the other's messages.
 *
 * @module
 */

import { ChannelError } from "../../src/errors.ts";
import type { Binding, BindingStore } from "../../src/virtual/backend.ts";
import { type RedisLink, replyText } from "./driver.ts";
import { kombuBindingPattern } from "../../src/virtual/exchange_types.ts";
import type { KeyLayout } from "./keys.ts";
import { RespErrorReply, type RespValue } from "./resp/types.ts";

function topicPattern(routingKey: string): string {
  return kombuBindingPattern("topic", routingKey);
}

/** One parsed member of a binding set. */
export interface BindingRow {
  /** The routing key (binding key) as declared. */
  routingKey: string;
  /** The regex Python stored for a topic binding; empty for direct and fanout. */
  pattern: string;
  /** The bound queue. */
  queue: string;
}

/**
 * The {@link BindingStore} of the Redis transport.
 *
 * The exchange type is not stored in Redis (as in Kombu); the virtual channel passes the pattern
 * Python would store for the type ({@link Binding.pattern}: a regex for topic, empty otherwise).
 * A binding that comes without one gets Python's topic regex, which is safe for every Python
 * lookup (direct and fanout lookups ignore the pattern). Removal deletes both spellings.
 */
export class RedisBindingStore implements BindingStore {
  readonly #layout: KeyLayout;
  readonly #link: () => Promise<RedisLink>;
  readonly #tracked: () => boolean;
  /** Binding sets read under client tracking: valid until the server says they changed. */
  readonly #cache = new Map<string, Promise<BindingRow[]>>();
  /** Keys invalidated while their read was in flight (the read must not be cached). */
  readonly #stale = new Set<string>();
  /** Bindings made through this store, by queue (Kombu knows these in-process too). */
  readonly #made = new Map<string, Map<string, Binding & { exchange: string }>>();

  /**
   * Makes the store over a link.
   *
   * @param layout key names
   * @param link gives a connected link (reconnecting when needed)
   * @param tracked true while the link has client tracking on (reads may then be cached, and
   *   the server reports every change through {@link RedisBindingStore.invalidate})
   */
  constructor(
    layout: KeyLayout,
    link: () => Promise<RedisLink>,
    tracked: () => boolean = () => false,
  ) {
    this.#layout = layout;
    this.#link = link;
    this.#tracked = tracked;
  }

  /**
   * Forgets cached binding sets: the keys the server named in an invalidation, or all of them.
   *
   * @param keys the invalidated keys, or null to forget everything
   */
  invalidate(keys: readonly string[] | null): void {
    if (keys === null) {
      for (const key of this.#cache.keys()) this.#stale.add(key);
      this.#cache.clear();
      return;
    }
    for (const key of keys) {
      if (this.#cache.delete(key)) this.#stale.add(key);
    }
  }

  #check(reply: RespValue, action: string): RespValue {
    if (reply instanceof RespErrorReply) {
      throw new ChannelError(`Cannot ${action}: ${reply.message}`, { cause: reply });
    }
    return reply;
  }

  /**
   * Adds `routing_key SEP pattern SEP queue` to `_kombu.binding.<exchange>`, with the pattern
   * Python Kombu writes for the exchange's type (the channel passes it); without one, the topic
   * regex, which every Python lookup accepts.
   */
  async add(exchange: string, binding: Binding): Promise<void> {
    this.invalidate([this.#layout.bindingKey(exchange)]);
    let made = this.#made.get(binding.queue);
    if (!made) this.#made.set(binding.queue, made = new Map());
    made.set(`${exchange}\u0000${binding.routingKey}`, { ...binding, exchange });
    const link = await this.#link();
    const member = this.#layout.bindingMember(
      binding.routingKey,
      binding.pattern ?? topicPattern(binding.routingKey),
      binding.queue,
    );
    this.#check(
      await link.send(["SADD", this.#layout.bindingKey(exchange), member]),
      `bind queue "${binding.queue}" to exchange "${exchange}"`,
    );
  }

  /** Removes the binding, whichever side wrote it. */
  async remove(exchange: string, binding: Binding): Promise<void> {
    this.invalidate([this.#layout.bindingKey(exchange)]);
    this.#made.get(binding.queue)?.delete(`${exchange}\u0000${binding.routingKey}`);
    const link = await this.#link();
    const withPattern = this.#layout.bindingMember(
      binding.routingKey,
      topicPattern(binding.routingKey),
      binding.queue,
    );
    const plain = this.#layout.bindingMember(binding.routingKey, "", binding.queue);
    this.#check(
      await link.send(["SREM", this.#layout.bindingKey(exchange), withPattern, plain]),
      `unbind queue "${binding.queue}" from exchange "${exchange}"`,
    );
  }

  /**
   * Reads the rows of an exchange as stored. Under client tracking the read is cached until the
   * server reports a change of the set (Kombu reads the set on every publish).
   */
  rows(exchange: string): Promise<BindingRow[]> {
    const key = this.#layout.bindingKey(exchange);
    if (!this.#tracked()) return this.#read(exchange, key, false);
    const cached = this.#cache.get(key);
    if (cached) return cached;
    this.#stale.delete(key);
    const reading = this.#read(exchange, key, true);
    this.#cache.set(key, reading);
    reading.then(
      () => {
        // Changed while the read was in flight: the next call reads again.
        if (this.#stale.delete(key) && this.#cache.get(key) === reading) this.#cache.delete(key);
      },
      () => {
        if (this.#cache.get(key) === reading) this.#cache.delete(key);
      },
    );
    return reading;
  }

  async #read(exchange: string, key: string, track: boolean): Promise<BindingRow[]> {
    const link = await this.#link();
    const action = `list the bindings of exchange "${exchange}"`;
    let reply: RespValue;
    if (track) {
      // CACHING YES applies to the SMEMBERS right behind it: the server will report changes.
      [, reply] = await Promise.all([
        link.send(["CLIENT", "CACHING", "YES"]),
        link.send(["SMEMBERS", key]),
      ]);
    } else {
      reply = await link.send(["SMEMBERS", key]);
    }
    this.#check(reply, action);
    if (!Array.isArray(reply)) return [];
    const rows: BindingRow[] = [];
    for (const member of reply) {
      const text = replyText(member);
      if (text === undefined) continue;
      const [routingKey, pattern, queue] = this.#layout.parseBindingMember(text);
      rows.push({ routingKey, pattern, queue });
    }
    return rows;
  }

  /** Lists the bindings (one per routing key and queue, whichever spelling was stored). */
  async list(exchange: string): Promise<Binding[]> {
    const seen = new Set<string>();
    const out: Binding[] = [];
    for (const row of await this.rows(exchange)) {
      const id = `${row.routingKey}\u0000${row.queue}`;
      if (seen.has(id)) continue;
      seen.add(id);
      // The pattern tells a topic binding from a direct one where the type is not declared.
      out.push(
        row.pattern
          ? { queue: row.queue, routingKey: row.routingKey, pattern: row.pattern }
          : { queue: row.queue, routingKey: row.routingKey },
      );
    }
    return out;
  }

  /**
   * Rewrites a binding of a fanout exchange the way Python Kombu writes it (empty pattern), so a
   * Python `queue_unbind` finds it. Called once the store learns the exchange is a fanout.
   *
   * @param exchange the fanout exchange
   * @param binding the binding added before
   */
  async markFanout(exchange: string, binding: Binding): Promise<void> {
    this.invalidate([this.#layout.bindingKey(exchange)]);
    const link = await this.#link();
    const key = this.#layout.bindingKey(exchange);
    const withPattern = this.#layout.bindingMember(
      binding.routingKey,
      topicPattern(binding.routingKey),
      binding.queue,
    );
    const plain = this.#layout.bindingMember(binding.routingKey, "", binding.queue);
    const [removed, added] = await Promise.all([
      link.send(["SREM", key, withPattern]),
      link.send(["SADD", key, plain]),
    ]);
    this.#check(removed, `bind queue "${binding.queue}" to exchange "${exchange}"`);
    this.#check(added, `bind queue "${binding.queue}" to exchange "${exchange}"`);
  }

  /**
   * Removes the bindings of a deleted queue that were made through this store (Kombu's
   * `queue_delete` removes those its process knows; bindings of other processes stay).
   *
   * @param queue the deleted queue
   */
  async removeQueue(queue: string): Promise<void> {
    const made = this.#made.get(queue);
    if (!made) return;
    this.#made.delete(queue);
    for (const { exchange, ...binding } of made.values()) await this.remove(exchange, binding);
  }

  /** Deletes `_kombu.binding.<exchange>`. */
  async deleteExchange(exchange: string): Promise<void> {
    this.invalidate([this.#layout.bindingKey(exchange)]);
    const link = await this.#link();
    this.#check(
      await link.send(["DEL", this.#layout.bindingKey(exchange)]),
      `delete exchange "${exchange}"`,
    );
  }
}
