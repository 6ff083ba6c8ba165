/**
 * The channel table of one AMQP connection: channel numbers, the open channels' ports, and the
 * {@link ConnectionLink} every channel of the connection shares.
 *
 * Internal to the native AMQP transport.
 *
 * @module
 */

import { LimitExceededError } from "../../src/errors.ts";
import type { Decoder } from "./codec/buffer.ts";
import { FRAME_MIN_SIZE } from "./codec/frame.ts";
import type { ChannelPort, ConnectionLink } from "./_link.ts";
import type { FrameWriter } from "./_writer.ts";

/** Open channels by number, and what they see of the connection. */
export class ChannelTable implements ConnectionLink {
  /** The connection's writer. */
  readonly writer: FrameWriter;
  /** The connection's shared reader. */
  readonly decoder: Decoder;
  /** Largest incoming message body accepted. */
  readonly maxMessageSize: number;
  /** Resolves when the connection is gone. */
  readonly closed: Promise<Error | undefined>;
  /** Negotiated frame_max (set at tune). */
  frameMax: number = FRAME_MIN_SIZE;
  /** Negotiated channel_max (set at tune). */
  channelMax = 0;

  #closedError: (action: string) => Error;
  #ports: (ChannelPort | undefined)[] = [];
  #next = 1;

  /**
   * @param writer the connection's writer
   * @param decoder the connection's shared reader
   * @param maxMessageSize largest incoming body
   * @param closed the connection's `closed`
   * @param closedError the connection's error for an operation after its end
   */
  constructor(
    writer: FrameWriter,
    decoder: Decoder,
    maxMessageSize: number,
    closed: Promise<Error | undefined>,
    closedError: (action: string) => Error,
  ) {
    this.writer = writer;
    this.decoder = decoder;
    this.maxMessageSize = maxMessageSize;
    this.closed = closed;
    this.#closedError = closedError;
  }

  /**
   * The error for an operation on a connection that is not open.
   *
   * @param action what was attempted
   * @returns the connection's error
   */
  closedError(action: string): Error {
    return this.#closedError(action);
  }

  /**
   * The port of an open channel.
   *
   * @param id the channel number
   * @returns its port, or undefined
   */
  get(id: number): ChannelPort | undefined {
    return this.#ports[id];
  }

  /**
   * Finds a free channel number.
   *
   * @returns the number
   * @throws {LimitExceededError} when channel_max channels are open
   */
  allocate(): number {
    const max = this.channelMax;
    for (let i = 0; i < max; i++) {
      const id = ((this.#next - 1 + i) % max) + 1;
      if (this.#ports[id] === undefined) {
        this.#next = (id % max) + 1;
        return id;
      }
    }
    throw new LimitExceededError(`Cannot open a channel: all ${max} channels are in use`);
  }

  /**
   * Records an open (or opening) channel.
   *
   * @param id its number, from {@link ChannelTable.allocate}
   * @param port where its frames go
   */
  add(id: number, port: ChannelPort): void {
    this.#ports[id] = port;
  }

  /**
   * Frees a channel number once its close handshake is over.
   *
   * @param id the channel number
   */
  release(id: number): void {
    this.#ports[id] = undefined;
  }

  /**
   * Ends every channel.
   *
   * @param error the reason
   * @param forget empty the table too (the connection is gone)
   */
  terminateAll(error: Error, forget: boolean): void {
    for (const port of this.#ports) port?.terminate(error, false);
    if (forget) this.#ports = [];
  }
}
