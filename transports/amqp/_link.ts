/**
 * The two narrow interfaces between an AMQP connection and its channels, so neither module
 * imports the other's class and neither class shows the other's hooks as public methods.
 *
 * - {@link ConnectionLink}: what a channel needs from its connection (the shared write buffer,
 *   the negotiated limits, the shared decoder, channel number release).
 * - {@link ChannelPort}: what the connection needs from a channel (its frames, its acks waiting
 *   for the next write, its end).
 *
 * Internal: nothing here is exported from `mod.ts`.
 *
 * @module
 */

import type { Decoder, Writer } from "./codec/buffer.ts";
import type { MethodArgs, MethodDef } from "./codec/methods.ts";

/** Something with acks waiting for the connection's next write. */
export interface AckFlusher {
  /** Writes the acks that wait (called right before the connection writes). */
  flushAcks(): void;
}

/** The connection's coalescing writer, as channels use it. */
export interface FrameSink {
  /** The buffer frames are encoded into; read it again for every frame (it may be replaced). */
  readonly out: Writer;
  /**
   * Encodes and queues one method frame.
   *
   * @param channel channel number
   * @param def the method
   * @param args its arguments
   * @param urgent flush on the next microtask (a synchronous request)
   * @throws {ConfigurationError} when an argument cannot be encoded
   */
  sendMethod(channel: number, def: MethodDef, args?: Partial<MethodArgs>, urgent?: boolean): void;
  /**
   * Tells the writer that frames were added to {@link FrameSink.out}.
   *
   * @param urgent flush on the next microtask rather than at the end of the turn
   * @returns a promise that resolves at once, or when the socket has drained enough
   */
  wrote(urgent: boolean): Promise<void>;
  /**
   * Asks for `flushAcks` right before the next write, so the acks of one turn coalesce.
   *
   * @param acker the channel with acks waiting
   */
  deferAcks(acker: AckFlusher): void;
}

/** What a channel needs from its connection. */
export interface ConnectionLink {
  /** The coalescing writer. */
  readonly writer: FrameSink;
  /** Negotiated frame_max (bytes, header and end included). */
  readonly frameMax: number;
  /** Largest incoming message body accepted. */
  readonly maxMessageSize: number;
  /** The shared reader, reset per frame. */
  readonly decoder: Decoder;
  /** Resolves when the connection is gone. */
  readonly closed: Promise<Error | undefined>;
  /**
   * The error for an operation on a connection that is not open.
   *
   * @param action what was attempted, such as `publish`
   * @returns a `ConnectionError` whose cause is the failure, if any
   */
  closedError(action: string): Error;
  /**
   * Frees a channel number once its close handshake is over.
   *
   * @param id the channel number
   */
  release(id: number): void;
}

/** What the connection needs from a channel. */
export interface ChannelPort extends AckFlusher {
  /** Handles a method frame; `bytes[start .. start + size)` is its payload. */
  method(bytes: Uint8Array, start: number, size: number): void;
  /** Handles a content header frame. */
  header(bytes: Uint8Array, start: number, size: number): void;
  /** Handles a content body frame. */
  body(bytes: Uint8Array, start: number, size: number): void;
  /**
   * Ends the channel: rejects pending calls and confirms with `error`, refuses later use.
   *
   * @param error the reason
   * @param cancelConsumers tell consumers through `onCancel` (a broker-side close)
   */
  terminate(error: Error, cancelConsumers: boolean): void;
}
