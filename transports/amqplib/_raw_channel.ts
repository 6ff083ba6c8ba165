/**
 * The amqplib channel under an {@link AmqplibChannel}: its events, whether it is open, why it
 * closed, running operations on it with errors translated to wakame's classes, waiting for its
 * write buffer to drain, and swapping it for a confirm channel.
 *
 * @module
 */

import type * as amqplib from "amqplib";
import { ChannelError, ConnectionError } from "../../src/errors.ts";
import type { ReturnedMessage } from "../../src/transport.ts";
import { type AmqplibMessage, toReturned, translateError } from "./_convert.ts";

/** What the raw channel needs from its connection. */
export interface RawOwner {
  /** True once the connection is closed or lost. */
  readonly isGone: boolean;
  /** Why the connection went away, if it failed. */
  readonly failure: Error | undefined;
  /** Opens a raw amqplib channel, in confirm mode or not. */
  openRaw(confirm: boolean): Promise<amqplib.Channel>;
}

/** What the wakame channel hears from its amqplib channel. */
export interface RawChannelEvents {
  /**
   * The current amqplib channel closed.
   *
   * @param failure why, when the broker closed it
   */
  closed(failure: Error | undefined): void;
  /**
   * The broker returned a message (mandatory publish without a route).
   *
   * @param message the returned message
   */
  returned(message: ReturnedMessage): void;
}

/** The current amqplib channel of a wakame channel, and its state. */
export class RawChannel {
  #owner: RawOwner;
  #events: RawChannelEvents;
  #raw!: amqplib.Channel;
  #open = true;
  #failure: Error | undefined;
  #drainWaiters: ((error?: Error) => void)[] = [];

  /**
   * @param owner the connection
   * @param raw the amqplib channel
   * @param events where its close and returns go
   */
  constructor(owner: RawOwner, raw: amqplib.Channel, events: RawChannelEvents) {
    this.#owner = owner;
    this.#events = events;
    this.#attach(raw);
  }

  /** The current amqplib channel. */
  get raw(): amqplib.Channel {
    return this.#raw;
  }

  /** The connection. */
  get owner(): RawOwner {
    return this.#owner;
  }

  /** False once the channel or its connection is closed. */
  get isOpen(): boolean {
    return this.#open && !this.#owner.isGone;
  }

  #attach(raw: amqplib.Channel): void {
    this.#raw = raw;
    const current = (): boolean => this.#raw === raw;
    raw.on("error", (error: Error) => {
      if (!current()) return;
      this.#failure ??= translateError("Channel closed by the broker", error, this.#owner.isGone);
    });
    raw.on("close", () => {
      if (!current()) return;
      this.#open = false;
      this.wakeDrainWaiters(this.closedError("Cannot publish"));
      this.#events.closed(this.#failure);
    });
    raw.on("drain", () => {
      if (current()) this.wakeDrainWaiters();
    });
    raw.on("return", (message: amqplib.Message) => {
      if (!current()) return;
      try {
        this.#events.returned(toReturned(message as unknown as AmqplibMessage));
      } catch (error) {
        // Rethrown outside amqplib's frame handling, which it would break.
        queueMicrotask(() => {
          throw error;
        });
      }
    });
  }

  /**
   * Moves to another amqplib channel (a confirm channel) and closes the old one.
   *
   * @param next the new amqplib channel, open
   */
  async swap(next: amqplib.Channel): Promise<void> {
    const previous = this.#raw;
    this.#attach(next);
    this.wakeDrainWaiters();
    try {
      await previous.close();
    } catch {
      // The old channel may be closing already; its replacement is open.
    }
  }

  /**
   * Waits until amqplib's write buffer drained (or the channel closed).
   *
   * @returns a promise that resolves on drain, rejects when the channel closes first
   */
  drained(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#drainWaiters.push((error) => (error === undefined ? resolve() : reject(error)));
    });
  }

  /**
   * Wakes every publisher waiting for the drain.
   *
   * @param error fails them instead
   */
  wakeDrainWaiters(error?: Error): void {
    for (const wake of this.#drainWaiters.splice(0)) wake(error);
  }

  /**
   * The error for an operation on a closed channel.
   *
   * @param action what failed, such as `Cannot publish`
   * @returns a `ConnectionError` when the connection is gone, else a `ChannelError`
   */
  closedError(action: string): Error {
    if (this.#owner.isGone) {
      const cause = this.#owner.failure;
      // The broker's reason (503 COMMAND_INVALID - unknown exchange type ...) goes in the text.
      return new ConnectionError(
        `${action}: the connection is closed${cause ? ` (${cause.message})` : ""}`,
        { cause },
      );
    }
    const failure = this.#failure;
    if (failure instanceof ChannelError) {
      return new ChannelError(`${action}: the channel was closed (${failure.message})`, {
        cause: failure,
        replyCode: failure.replyCode,
        classId: failure.classId,
        methodId: failure.methodId,
      });
    }
    return new ChannelError(`${action}: the channel is closed`, { cause: failure });
  }

  /**
   * Translates a failure, waiting a turn when it may stem from a connection going away.
   *
   * @param action what failed
   * @param error amqplib's error
   * @returns wakame's error
   */
  async translate(action: string, error: unknown): Promise<Error> {
    const coded = typeof (error as { code?: unknown })?.code === "number";
    if (!coded && !this.#owner.isGone) {
      // amqplib rejects pending calls before it reports the connection closed.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (!coded && !this.isOpen) return this.closedError(action);
    return translateError(action, error, this.#owner.isGone);
  }

  /**
   * Runs an asynchronous amqplib operation, errors translated.
   *
   * @param action what it does, for errors (`Cannot declare queue "a"`)
   * @param operation the operation on the current amqplib channel
   * @returns its result
   */
  async call<T>(action: string, operation: (raw: amqplib.Channel) => Promise<T>): Promise<T> {
    if (!this.isOpen) throw this.closedError(action);
    try {
      return await operation(this.#raw);
    } catch (error) {
      throw await this.translate(action, error);
    }
  }

  /**
   * Runs a synchronous amqplib operation (ack, reject), errors translated.
   *
   * @param action what it does, for errors
   * @param operation the operation on the current amqplib channel
   * @returns a promise that resolves at once, or rejects with the translated error
   */
  now(action: string, operation: (raw: amqplib.Channel) => void): Promise<void> {
    if (!this.isOpen) return Promise.reject(this.closedError(action));
    try {
      operation(this.#raw);
      return Promise.resolve();
    } catch (error) {
      return this.translate(action, error).then((e) => Promise.reject(e));
    }
  }

  /** Closes the amqplib channel; unacknowledged deliveries go back to their queues. */
  async close(): Promise<void> {
    if (!this.isOpen) {
      this.#open = false;
      return;
    }
    this.#open = false;
    try {
      await this.#raw.close();
    } catch {
      // Closed already by the broker or by the connection.
    }
  }
}
