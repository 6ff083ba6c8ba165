/**
 * AMQP 0-9-1 framing: constants and the one streaming frame reader.
 *
 * A frame is `type(1) channel(2) size(4) payload(size) 0xCE`. The reader takes chunks of any
 * size, reassembles frames split across chunks, checks the type and the size from the 7-byte
 * header before it buffers anything, and hands each payload to a callback in place: a frame
 * that arrived whole is never copied; a split frame is gathered once into a buffer of exactly
 * its size.
 *
 * @module
 */

import { ProtocolError } from "../../../src/errors.ts";

/** Frame type of a method frame. */
export const FRAME_METHOD = 1;
/** Frame type of a content header frame. */
export const FRAME_HEADER = 2;
/** Frame type of a content body frame. */
export const FRAME_BODY = 3;
/** Frame type of a heartbeat frame. */
export const FRAME_HEARTBEAT = 8;
/** The octet that ends every frame. */
export const FRAME_END = 0xce;
/** Bytes of frame header plus frame end. */
export const FRAME_OVERHEAD = 8;
/** The smallest frame_max a peer must accept (spec: frame-min-size). */
export const FRAME_MIN_SIZE = 4096;

/** The protocol header a client sends first: `AMQP` 0 0 9 1. */
export const PROTOCOL_HEADER: Uint8Array = new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

/** A heartbeat frame, ready to send. */
export const HEARTBEAT_FRAME: Uint8Array = new Uint8Array([
  FRAME_HEARTBEAT,
  0,
  0,
  0,
  0,
  0,
  0,
  FRAME_END,
]);

/**
 * Receives one frame. `bytes[start .. start + size)` is the payload; the view is never
 * overwritten by the reader, so slices of it may be kept.
 */
export type FrameHandler = (
  type: number,
  channel: number,
  bytes: Uint8Array,
  start: number,
  size: number,
) => void;

/**
 * The streaming frame reader: feed it chunks, it calls the handler per frame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameReader, HEARTBEAT_FRAME } from "./frame.ts";
 * let frames = 0;
 * const reader = new FrameReader(() => frames++, 131072);
 * reader.push(HEARTBEAT_FRAME.subarray(0, 3));
 * reader.push(HEARTBEAT_FRAME.subarray(3));
 * assert.equal(frames, 1);
 * ```
 */
export class FrameReader {
  #onFrame: FrameHandler;
  #maxPayload: number;
  #head = new Uint8Array(7);
  #headLength = 0;
  #partial: Uint8Array | undefined;
  #partialLength = 0;

  /**
   * @param onFrame called once per complete frame
   * @param frameMax largest frame accepted, header and end octet included
   */
  constructor(onFrame: FrameHandler, frameMax: number) {
    this.#onFrame = onFrame;
    this.#maxPayload = frameMax - FRAME_OVERHEAD;
  }

  /** Changes the largest frame accepted (after connection.tune). */
  set frameMax(value: number) {
    this.#maxPayload = value - FRAME_OVERHEAD;
  }

  /**
   * Feeds a chunk of bytes.
   *
   * @param chunk bytes from the socket, in order; the reader never writes into it
   * @throws {ProtocolError} for an unknown frame type, a size over frame_max, a heartbeat on a
   *   channel other than 0 or a missing frame end; the reader is unusable afterwards
   */
  push(chunk: Uint8Array): void {
    const len = chunk.length;
    let off = 0;
    if (this.#headLength > 0) {
      const n = Math.min(7 - this.#headLength, len);
      this.#head.set(chunk.subarray(0, n), this.#headLength);
      this.#headLength += n;
      off = n;
      if (this.#headLength < 7) return;
      this.#headLength = 0;
      const size = this.#check(this.#head, 0);
      this.#partial = new Uint8Array(size + FRAME_OVERHEAD);
      this.#partial.set(this.#head);
      this.#partialLength = 7;
    }
    if (this.#partial !== undefined) {
      const partial = this.#partial;
      const n = Math.min(partial.length - this.#partialLength, len - off);
      partial.set(chunk.subarray(off, off + n), this.#partialLength);
      this.#partialLength += n;
      off += n;
      if (this.#partialLength < partial.length) return;
      this.#partial = undefined;
      this.#emit(partial, 0, partial.length - FRAME_OVERHEAD);
    }
    while (off < len) {
      if (len - off < 7) {
        this.#head.set(chunk.subarray(off), 0);
        this.#headLength = len - off;
        return;
      }
      const size = this.#check(chunk, off);
      const total = size + FRAME_OVERHEAD;
      if (len - off < total) {
        const partial = new Uint8Array(total);
        partial.set(chunk.subarray(off));
        this.#partial = partial;
        this.#partialLength = len - off;
        return;
      }
      this.#emit(chunk, off, size);
      off += total;
    }
  }

  /** True when no partial frame is buffered. */
  get idle(): boolean {
    return this.#headLength === 0 && this.#partial === undefined;
  }

  #check(b: Uint8Array, off: number): number {
    const type = b[off];
    const size = b[off + 3] * 0x100_0000 + ((b[off + 4] << 16) | (b[off + 5] << 8) | b[off + 6]);
    if (type !== FRAME_METHOD && type !== FRAME_HEADER && type !== FRAME_BODY) {
      if (type !== FRAME_HEARTBEAT) {
        throw new ProtocolError(`Cannot read frame: unknown frame type ${type}`);
      }
      const channel = (b[off + 1] << 8) | b[off + 2];
      if (channel !== 0) {
        throw new ProtocolError(`Cannot read frame: heartbeat on channel ${channel}, not 0`);
      }
    }
    if (size > this.#maxPayload) {
      throw new ProtocolError(
        `Cannot read frame: size ${size} exceeds frame_max ${this.#maxPayload + FRAME_OVERHEAD}`,
      );
    }
    return size;
  }

  #emit(b: Uint8Array, off: number, size: number): void {
    if (b[off + 7 + size] !== FRAME_END) {
      throw new ProtocolError(
        `Cannot read frame: bad frame end ${b[off + 7 + size]}, expected ${FRAME_END}`,
      );
    }
    this.#onFrame(b[off], (b[off + 1] << 8) | b[off + 2], b, off + 7, size);
  }
}
