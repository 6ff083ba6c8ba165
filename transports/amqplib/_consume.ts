/**
 * Consume dispatch for the amqplib transport: the consumers of one channel, the deliveries it
 * has not settled yet (amqplib confirms need a new channel, which only works while there are
 * none), and the hand-off of amqplib's messages to wakame's handlers.
 *
 * @module
 */

import type * as amqplib from "amqplib";
import { ChannelError } from "../../src/errors.ts";
import type { ConsumeHandlers, DeliveryTag } from "../../src/transport.ts";
import { type AmqplibMessage, toDelivery } from "./_convert.ts";

/**
 * A delivery tag as a number.
 *
 * @param tag the tag
 * @returns the number
 * @throws {ChannelError} for anything that is not an AMQP delivery tag
 */
export function tagNumber(tag: DeliveryTag): number {
  const value = typeof tag === "number" ? tag : Number(tag);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ChannelError(`Cannot acknowledge delivery tag "${tag}": not an AMQP delivery tag`);
  }
  return value;
}

/**
 * A message handle amqplib's `ack`/`reject` accept: they read only the delivery tag.
 *
 * @param tag the delivery tag
 * @returns a message-shaped object with that tag
 */
export function handle(tag: number): amqplib.Message {
  return { fields: { deliveryTag: tag } } as unknown as amqplib.Message;
}

/**
 * Rethrows a callback's error outside amqplib's frame handling, which it would break.
 *
 * @param error what the callback threw
 */
export function report(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

function notifyCancel(handlers: ConsumeHandlers, tag: string): void {
  try {
    handlers.onCancel?.(tag);
  } catch (error) {
    report(error);
  }
}

/** The consumers and unsettled deliveries of one channel. */
export class Deliveries {
  #consumers = new Map<string, ConsumeHandlers>();
  #unacked = new Set<number>();

  /** True while consumers or unacknowledged deliveries use the channel. */
  get busy(): boolean {
    return this.#consumers.size > 0 || this.#unacked.size > 0;
  }

  /**
   * Makes the callback amqplib calls per message of one consumer.
   *
   * @param handlers the consumer's handlers
   * @param noAck deliveries need no acknowledgement
   * @param tagOf the consumer tag (known once basic.consume-ok arrived)
   * @returns amqplib's consume callback
   */
  listener(
    handlers: ConsumeHandlers,
    noAck: boolean,
    tagOf: () => string,
  ): (message: amqplib.ConsumeMessage | null) => void {
    return (message) => {
      if (message === null) {
        // The broker cancelled the consumer (its queue was deleted).
        const tag = tagOf();
        this.#consumers.delete(tag);
        notifyCancel(handlers, tag);
        return;
      }
      if (!noAck) this.#unacked.add(message.fields.deliveryTag);
      try {
        handlers.onDelivery(toDelivery(message as unknown as AmqplibMessage));
      } catch (error) {
        report(error);
      }
    };
  }

  /**
   * Records a consumer that started.
   *
   * @param tag its tag
   * @param handlers its handlers
   */
  started(tag: string, handlers: ConsumeHandlers): void {
    this.#consumers.set(tag, handlers);
  }

  /**
   * Tells whether a consumer is known.
   *
   * @param tag its tag
   * @returns true while it consumes
   */
  has(tag: string): boolean {
    return this.#consumers.has(tag);
  }

  /**
   * Forgets a consumer that was cancelled.
   *
   * @param tag its tag
   */
  cancelled(tag: string): void {
    this.#consumers.delete(tag);
  }

  /**
   * Records a delivery that needs an acknowledgement (from basic.get).
   *
   * @param tag its delivery tag
   */
  got(tag: number): void {
    this.#unacked.add(tag);
  }

  /**
   * Forgets settled deliveries.
   *
   * @param tag the delivery tag
   * @param multiple every earlier one too
   */
  settled(tag: number, multiple: boolean): void {
    if (!multiple) {
      this.#unacked.delete(tag);
      return;
    }
    for (const pending of this.#unacked) if (pending <= tag) this.#unacked.delete(pending);
  }

  /** Forgets every unsettled delivery (basic.recover redelivers them under new tags). */
  recovered(): void {
    this.#unacked.clear();
  }

  /**
   * The channel closed: forget everything.
   *
   * @param notify tell the consumers through `onCancel` (a broker-side close)
   */
  closed(notify: boolean): void {
    this.#unacked.clear();
    const consumers = [...this.#consumers];
    this.#consumers.clear();
    if (notify) { for (const [tag, handlers] of consumers) notifyCancel(handlers, tag); }
  }
}
