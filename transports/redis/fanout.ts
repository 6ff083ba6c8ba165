/**
 * Fanout over Redis PUB/SUB, as Kombu does it: PUBLISH on `/<db>.<exchange>` (or with the routing
 * key under `fanoutPatterns`), PSUBSCRIBE for each bound queue, and what arrives waits in a
 * bounded buffer per queue until a consumer takes it. At most once: nothing is recorded in
 * `unacked`, and past `fanoutBufferLimit` the oldest buffered message goes.
 *
 * @module
 */

import { ChannelError } from "../../src/errors.ts";
import type { QueueBatch, StoredMessage } from "../../src/virtual/backend.ts";
import type { RedisBindingStore } from "./bindings.ts";
import type { KeyLayout } from "./keys.ts";
import type { RedisLinks } from "./links.ts";
import { RespErrorReply, type RespValue } from "./resp/types.ts";

function check(reply: RespValue, action: string): void {
  if (reply instanceof RespErrorReply) {
    throw new ChannelError(`Cannot ${action}: ${reply.message}`, { cause: reply });
  }
}

/** PSUBSCRIBE patterns, the queues they feed, and the buffers of those queues. */
export class RedisFanout {
  readonly #layout: KeyLayout;
  readonly #links: () => RedisLinks;
  readonly #bindings: RedisBindingStore;
  readonly #limit: number;
  /** PSUBSCRIBE pattern -> queues that get what it matches. */
  readonly #patterns = new Map<string, Set<string>>();
  readonly #buffers = new Map<string, string[]>();

  /**
   * Makes the fanout of one store.
   *
   * @param layout key and channel names
   * @param links the store's links (read when used)
   * @param bindings where fanout bindings are written in Kombu's layout
   * @param limit most messages buffered per queue (`fanoutBufferLimit`)
   */
  constructor(
    layout: KeyLayout,
    links: () => RedisLinks,
    bindings: RedisBindingStore,
    limit: number,
  ) {
    this.#layout = layout;
    this.#links = links;
    this.#bindings = bindings;
    this.#limit = limit;
  }

  /** The patterns a subscriber link listens to. */
  patterns(): string[] {
    return [...this.#patterns.keys()];
  }

  /** PUBLISH on the exchange's channel (at-most-once, as in Kombu). */
  async publish(exchange: string, text: string, routingKey: string): Promise<void> {
    const link = await this.#links().command();
    check(
      await link.send(["PUBLISH", this.#layout.fanoutChannel(exchange, routingKey), text]),
      `publish to fanout exchange "${exchange}"`,
    );
  }

  /** PSUBSCRIBEs so that the queue receives what the exchange broadcasts. */
  async bind(exchange: string, queue: string, routingKey: string): Promise<void> {
    await this.#bindings.markFanout(exchange, { queue, routingKey });
    const pattern = this.#layout.fanoutPattern(exchange, routingKey);
    let queues = this.#patterns.get(pattern);
    const fresh = !queues;
    if (!queues) this.#patterns.set(pattern, queues = new Set());
    queues.add(queue);
    const links = this.#links();
    const hadSubscriber = links.subscriber !== undefined;
    await links.ensure(true);
    // A subscriber opened just now subscribed to every pattern already.
    const sub = links.subscriber;
    if (fresh && hadSubscriber && sub) {
      check(await sub.send(["PSUBSCRIBE", pattern]), `subscribe to exchange "${exchange}"`);
    }
  }

  /**
   * Buffers a message that arrived on a pattern.
   *
   * @returns true when some queue took it
   */
  receive(pattern: string | undefined, text: string): boolean {
    const queues = pattern === undefined ? undefined : this.#patterns.get(pattern);
    if (!queues) return false;
    for (const queue of queues) {
      let buffer = this.#buffers.get(queue);
      if (!buffer) this.#buffers.set(queue, buffer = []);
      buffer.push(text);
      if (buffer.length > this.#limit) buffer.shift();
    }
    return true;
  }

  /** Takes buffered messages, in the order of the queues, within the shares. */
  take(
    queues: readonly string[],
    max: number,
    perQueue: number,
    decode: (text: string, queue: string) => StoredMessage | undefined,
  ): QueueBatch[] {
    const out: QueueBatch[] = [];
    if (this.#buffers.size === 0) return out;
    for (const queue of queues) {
      const buffer = this.#buffers.get(queue);
      const messages: StoredMessage[] = [];
      while (buffer && buffer.length > 0 && max > 0 && messages.length < perQueue) {
        const message = decode(buffer.shift()!, queue);
        if (!message) continue;
        messages.push(message);
        max--;
      }
      if (messages.length > 0) out.push({ queue, messages });
    }
    return out;
  }

  /** How many messages the queue has buffered. */
  size(queue: string): number {
    return this.#buffers.get(queue)?.length ?? 0;
  }

  /** Drops the queue's buffer; resolves to how many it held. */
  purge(queue: string): number {
    const n = this.size(queue);
    this.#buffers.delete(queue);
    return n;
  }

  /** Forgets a deleted queue: its buffer, and the subscriptions only it needed. */
  async forget(queue: string): Promise<void> {
    this.#buffers.delete(queue);
    for (const [pattern, queues] of this.#patterns) {
      if (!queues.delete(queue) || queues.size > 0) continue;
      this.#patterns.delete(pattern);
      await this.#links().subscriber?.send(["PUNSUBSCRIBE", pattern]).catch(() => undefined);
    }
  }
}
