/**
 * A wakame {@link TransportConnection} on top of amqplib's `ChannelModel`.
 *
 * @module
 */

import type * as amqplib from "amqplib";
import { ConnectionError } from "../../src/errors.ts";
import type { Channel, TransportConnection, TransportEvent } from "../../src/transport.ts";
import { AmqplibChannel, type ChannelOwner } from "./_channel.ts";
import { replyText } from "./_convert.ts";

/** An open amqplib connection. */
export class AmqplibConnection implements TransportConnection, ChannelOwner {
  /** Receives `blocked` / `unblocked` (RabbitMQ `connection.blocked`). */
  onEvent: ((event: TransportEvent) => void) | undefined = undefined;
  /** Resolves when the connection is gone: `undefined` after {@link close}, else the error. */
  readonly closed: Promise<Error | undefined>;
  #model: amqplib.ChannelModel;
  #where: string;
  #confirmPublish: boolean;
  #gone = false;
  #closing = false;
  #failure: Error | undefined;
  #channels = new Set<AmqplibChannel>();

  /**
   * Wraps a connected amqplib model.
   *
   * @param model what `amqplib.connect` resolved to
   * @param where `host:port/vhost` for messages (never credentials)
   * @param confirmPublish open every channel in confirm mode
   */
  constructor(model: amqplib.ChannelModel, where: string, confirmPublish: boolean) {
    this.#model = model;
    this.#where = where;
    this.#confirmPublish = confirmPublish;
    let settle!: (error: Error | undefined) => void;
    this.closed = new Promise((resolve) => (settle = resolve));
    model.on("error", (error: Error) => {
      const code = (error as { code?: unknown }).code;
      this.#failure ??= new ConnectionError(
        `Connection to ${this.#where} failed: ${replyText(error)}`,
        { cause: error, ...(typeof code === "number" ? { replyCode: code } : {}) },
      );
    });
    model.on("close", () => {
      this.#gone = true;
      if (!this.#closing) {
        this.#failure ??= new ConnectionError(`Connection to ${this.#where} was lost`);
      }
      settle(this.#closing && this.#failure === undefined ? undefined : this.#failure);
    });
    model.on("blocked", (reason: string) => this.onEvent?.({ type: "blocked", reason }));
    model.on("unblocked", () => this.onEvent?.({ type: "unblocked" }));
  }

  /** True once the connection is closed or lost. */
  get isGone(): boolean {
    return this.#gone;
  }

  /** Why the connection went away, if it failed. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /**
   * Opens a raw amqplib channel.
   *
   * @param confirm in confirm mode (`createConfirmChannel`)
   * @returns the amqplib channel
   */
  openRaw(confirm: boolean): Promise<amqplib.Channel> {
    return confirm ? this.#model.createConfirmChannel() : this.#model.createChannel();
  }

  /**
   * Forgets a channel that closed.
   *
   * @param channel the closed channel
   */
  release(channel: AmqplibChannel): void {
    this.#channels.delete(channel);
  }

  /**
   * Opens a channel.
   *
   * @returns the channel
   * @throws {ConnectionError} when the connection is gone or refuses the channel
   */
  async createChannel(): Promise<Channel> {
    if (this.#gone) {
      throw new ConnectionError(
        `Cannot open a channel on ${this.#where}: the connection is closed`,
        {
          cause: this.#failure,
        },
      );
    }
    try {
      const raw = await this.openRaw(this.#confirmPublish);
      const channel = new AmqplibChannel(this, raw, this.#confirmPublish);
      this.#channels.add(channel);
      return channel;
    } catch (error) {
      throw new ConnectionError(`Cannot open a channel on ${this.#where}: ${replyText(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Closes the connection and its channels (unacknowledged deliveries are requeued).
   *
   * Channels are closed first: amqplib queues publishes per channel and sends the connection's
   * close on its own queue, which could overtake them; a channel's close follows its publishes,
   * so every publish that resolved reaches the broker.
   */
  async close(): Promise<void> {
    if (this.#gone) return;
    this.#closing = true;
    await Promise.allSettled([...this.#channels].map((channel) => channel.close()));
    this.#channels.clear();
    try {
      await this.#model.close();
    } catch {
      // Already closing or lost; `closed` tells which.
    }
    await this.closed;
  }
}
