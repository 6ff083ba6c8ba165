/**
 * The buffer between a consumer's deliveries and its `for await` loop.
 *
 * @module
 */

import { getLogger } from "../logger.ts";
import type { Message } from "../message.ts";

const log = getLogger("consumer");

/** Deliveries waiting for a `for await` loop, and how the loop ends. */
export class IteratorSink<T = unknown> {
  readonly #buffer: Message<T>[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #failure: Error | undefined;

  /** Hands a delivery to the loop. */
  push(message: Message<T>): void {
    this.#buffer.push(message);
    this.#wakeUp();
  }

  /** Ends the iteration (cancel, connection closed); buffered messages are requeued. */
  end(): void {
    this.#ended = true;
    this.#wakeUp();
  }

  /** Ends the iteration with an error (the broker cancelled the consumer). */
  fail(error: Error): void {
    this.#failure ??= error;
    this.end();
  }

  /**
   * The next delivery, waiting for one; `undefined` once the iteration ended.
   *
   * @throws {Error} the error the iteration failed with
   */
  async next(): Promise<Message<T> | undefined> {
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#ended) return undefined;
      const message = this.#buffer.shift();
      if (message !== undefined) return message;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Requeues the deliveries the loop never got (those still on an open channel). */
  async requeueRest(): Promise<void> {
    for (const message of this.#buffer.splice(0)) {
      try {
        if (!message.acknowledged && message.channel.isOpen) await message.requeue();
      } catch (error) {
        log.warn("Cannot requeue a buffered message:", error);
      }
    }
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
