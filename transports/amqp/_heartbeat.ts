/**
 * Heartbeats of one AMQP connection: a timer ticking twice per negotiated interval sends a
 * heartbeat frame when nothing else left since the last tick, and declares the peer dead after
 * {@link MISSED_TICKS} ticks without a byte in.
 *
 * Internal to the native AMQP transport.
 *
 * @module
 */

import { HEARTBEAT_FRAME } from "./codec/frame.ts";
import { type FrameWriter, unref } from "./_writer.ts";

/** Heartbeat ticks (half an interval each) without any byte in before the peer is dead. */
export const MISSED_TICKS = 4;

/** The heartbeat timer of one connection. */
export class Heartbeat {
  /** Set by the reader whenever bytes arrive. */
  received = false;

  #writer: FrameWriter;
  #live: () => boolean;
  #dead: () => void;
  #timer: unknown;
  #missed = 0;

  /**
   * @param writer the connection's writer
   * @param live true while heartbeats matter (the connection is open or closing)
   * @param dead called when the peer stayed silent too long
   */
  constructor(writer: FrameWriter, live: () => boolean, dead: () => void) {
    this.#writer = writer;
    this.#live = live;
    this.#dead = dead;
  }

  /**
   * Starts ticking.
   *
   * @param seconds the negotiated interval (0: no heartbeats)
   */
  start(seconds: number): void {
    if (seconds === 0) return;
    const timer = setInterval(this.#onTick, (seconds * 1000) / 2);
    unref(timer);
    this.#timer = timer;
  }

  /** Stops ticking. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer as number);
    this.#timer = undefined;
  }

  /**
   * Counts ticks, not elapsed time: a callback that blocks the event loop delays the tick and
   * the reads alike, so it cannot make a live peer look dead, and a dead peer is found after
   * {@link MISSED_TICKS} half-intervals (two intervals) without a byte.
   */
  #onTick = (): void => {
    if (!this.#live()) return;
    if (this.received) {
      this.received = false;
      this.#missed = 0;
    } else if (++this.#missed >= MISSED_TICKS) {
      this.#dead();
      return;
    }
    const writer = this.#writer;
    if (!writer.sentSinceTick && !writer.writing) {
      writer.send(HEARTBEAT_FRAME);
      writer.flush();
    }
    writer.sentSinceTick = false;
  };
}
