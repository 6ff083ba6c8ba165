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
import { type KeyLayout, kombuTopicPattern } from "./keys.ts";
import { RespErrorReply, type RespValue } from "./resp/types.ts";

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
 * The exchange type is not stored in Redis (as in Kombu), and the virtual channel does not pass
 * it with a binding; so every binding written here carries Python's topic regex as its pattern.
 * That is safe for all three exchange types Python routes (direct and fanout lookups ignore the
 * pattern; a topic lookup needs it). Removal deletes both spellings of the member.
 */
export class RedisBindingStore implements BindingStore {
  readonly #layout: KeyLayout;
  readonly #link: () => Promise<RedisLink>;

  /**
   * @param layout key names
   * @param link gives a connected link (reconnecting when needed)
   */
  constructor(layout: KeyLayout, link: () => Promise<RedisLink>) {
    this.#layout = layout;
    this.#link = link;
  }

  #check(reply: RespValue, action: string): RespValue {
    if (reply instanceof RespErrorReply) {
      throw new ChannelError(`Cannot ${action}: ${reply.message}`, { cause: reply });
    }
    return reply;
  }

  /** Adds `routing_key SEP regex SEP queue` to `_kombu.binding.<exchange>`. */
  async add(exchange: string, binding: Binding): Promise<void> {
    const link = await this.#link();
    const member = this.#layout.bindingMember(
      binding.routingKey,
      kombuTopicPattern(binding.routingKey),
      binding.queue,
    );
    this.#check(
      await link.send(["SADD", this.#layout.bindingKey(exchange), member]),
      `bind queue "${binding.queue}" to exchange "${exchange}"`,
    );
  }

  /** Removes the binding, whichever side wrote it. */
  async remove(exchange: string, binding: Binding): Promise<void> {
    const link = await this.#link();
    const withPattern = this.#layout.bindingMember(
      binding.routingKey,
      kombuTopicPattern(binding.routingKey),
      binding.queue,
    );
    const plain = this.#layout.bindingMember(binding.routingKey, "", binding.queue);
    this.#check(
      await link.send(["SREM", this.#layout.bindingKey(exchange), withPattern, plain]),
      `unbind queue "${binding.queue}" from exchange "${exchange}"`,
    );
  }

  /** Reads the rows of an exchange as stored. */
  async rows(exchange: string): Promise<BindingRow[]> {
    const link = await this.#link();
    const reply = this.#check(
      await link.send(["SMEMBERS", this.#layout.bindingKey(exchange)]),
      `list the bindings of exchange "${exchange}"`,
    );
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
      out.push({ queue: row.queue, routingKey: row.routingKey });
    }
    return out;
  }

  /** Deletes `_kombu.binding.<exchange>`. */
  async deleteExchange(exchange: string): Promise<void> {
    const link = await this.#link();
    this.#check(
      await link.send(["DEL", this.#layout.bindingKey(exchange)]),
      `delete exchange "${exchange}"`,
    );
  }
}
