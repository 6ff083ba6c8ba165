/**
 * The coalescing writer of one AMQP connection.
 *
 * Every frame is encoded straight into one growable buffer. A batch is handed to the socket
 * once per macrotask (or at once when it passes 64 KiB, or on the next microtask for a
 * synchronous method), so the publishes and acks of a busy turn leave in one write. While a
 * write is in flight, frames gather for the next one. Channels with acks waiting are asked to
 * write them right before each write, so the acks of one turn coalesce.
 *
 * Internal to the native AMQP transport.
 *
 * @module
 */

import { Writer } from "./codec/buffer.ts";
import { encodeMethodFrame, type MethodArgs, type MethodDef } from "./codec/methods.ts";
import type { AckFlusher, FrameSink } from "./_link.ts";

/** A batch this big is written at once instead of at the end of the turn. */
const FLUSH_BYTES = 64 * 1024;
/** Publishers wait when this much is queued for the socket. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** A write buffer grown past this is replaced by a small one once flushed. */
const SHRINK_BYTES = 4 * 1024 * 1024;

const RESOLVED: Promise<void> = Promise.resolve();
const later: (fn: () => void) => void = typeof setImmediate === "function"
  ? (fn) => void setImmediate(fn)
  : (fn) => void setTimeout(fn, 0);

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Clears a timer's hold on the process (Node and Bun timers, Deno timer ids).
 *
 * @param timer what `setTimeout` / `setInterval` returned
 */
export function unref(timer: unknown): void {
  if (typeof timer === "object" && timer !== null && "unref" in timer) {
    (timer as { unref(): void }).unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno;
  if (typeof timer === "number" && deno?.unrefTimer) deno.unrefTimer(timer);
}

/** The writer: frames in, batched socket writes out. */
export class FrameWriter implements FrameSink {
  /** True once a frame was handed to the socket since the heartbeat last looked. */
  sentSinceTick = false;

  #socket: WritableStreamDefaultWriter<Uint8Array>;
  #onError: (error: unknown) => void;
  #stopped = false;
  #out = new Writer(64 * 1024);
  #writing = false;
  #broken = false;
  #inFlight = 0;
  #scheduled = false;
  #urgent = false;
  #microtask = false;
  #drainWaiters: Waiter[] = [];
  #ackers: AckFlusher[] = [];

  /**
   * @param socket the socket's writer
   * @param onError called once when a write fails
   */
  constructor(socket: WritableStreamDefaultWriter<Uint8Array>, onError: (error: unknown) => void) {
    this.#socket = socket;
    this.#onError = onError;
  }

  /** The buffer frames are encoded into; read it again after every flush. */
  get out(): Writer {
    return this.#out;
  }

  /** True while a write is in flight. */
  get writing(): boolean {
    return this.#writing;
  }

  /**
   * Queues raw bytes (the protocol header, a heartbeat).
   *
   * @param bytes the bytes
   */
  send(bytes: Uint8Array): void {
    this.#out.bytes(bytes);
  }

  /**
   * Encodes and queues one method frame.
   *
   * @param channel channel number
   * @param def the method
   * @param args its arguments
   * @param urgent flush on the next microtask (a synchronous request)
   * @throws {ConfigurationError} when an argument cannot be encoded
   */
  sendMethod(channel: number, def: MethodDef, args: Partial<MethodArgs> = {}, urgent = true): void {
    encodeMethodFrame(this.#out, channel, def, args);
    this.flushSoon(urgent);
  }

  /**
   * Tells the writer that frames were added to {@link FrameWriter.out}.
   *
   * @param urgent flush on the next microtask rather than at the end of the turn
   * @returns a promise that resolves at once, or when the socket has drained enough
   */
  wrote(urgent: boolean): Promise<void> {
    this.flushSoon(urgent);
    if (this.#out.pos + this.#inFlight < HIGH_WATER_BYTES) return RESOLVED;
    return new Promise<void>((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /**
   * Asks for `flushAcks` right before the next write.
   *
   * @param acker a channel with acks waiting
   */
  deferAcks(acker: AckFlusher): void {
    this.#ackers.push(acker);
  }

  /** Writes the waiting acks of every channel that asked. */
  drainAcks(): void {
    const ackers = this.#ackers;
    this.#ackers = [];
    for (const acker of ackers) acker.flushAcks();
  }

  /**
   * Schedules a write: at once past 64 KiB, on the next microtask when urgent, else at the
   * end of the turn.
   *
   * @param urgent a synchronous method waits for it
   */
  flushSoon(urgent: boolean): void {
    if (this.#out.pos >= FLUSH_BYTES) {
      this.flush();
      return;
    }
    if (urgent && !this.#urgent) {
      this.#urgent = true;
      if (!this.#microtask) {
        this.#microtask = true;
        queueMicrotask(this.#flushUrgent);
      }
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      later(this.#flushLater);
    }
  }

  #flushUrgent = (): void => {
    this.#microtask = false;
    this.flush();
  };

  #flushLater = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /** Hands the gathered frames to the socket, unless a write is in flight (then it waits). */
  flush = (): void => {
    if (this.#writing || this.#stopped) return;
    if (this.#ackers.length > 0) this.drainAcks();
    if (this.#out.pos === 0) return;
    this.#urgent = false;
    const chunk = this.#out.buf.slice(0, this.#out.pos);
    // After a big message, give the memory back instead of keeping the peak forever.
    if (this.#out.buf.length > SHRINK_BYTES) this.#out = new Writer(64 * 1024);
    else this.#out.reset();
    this.#writing = true;
    this.#inFlight = chunk.length;
    this.sentSinceTick = true;
    this.#socket.write(chunk).then(this.#written, this.#writeFailed);
  };

  /**
   * A write finished. Frames gathered meanwhile go now only when a synchronous method waits
   * or a full batch is ready; otherwise at the end of the turn, so a busy publisher fills big
   * batches instead of ping-ponging small writes.
   */
  #written = (): void => {
    this.#writing = false;
    this.#inFlight = 0;
    if (this.#out.pos > 0 || this.#ackers.length > 0) {
      if (this.#urgent || this.#out.pos >= FLUSH_BYTES) this.flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        later(this.#flushLater);
      }
    }
    if (this.#drainWaiters.length > 0 && this.#out.pos + this.#inFlight < HIGH_WATER_BYTES) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w.resolve();
    }
  };

  #writeFailed = (error: unknown): void => {
    this.#writing = false;
    this.#broken = true;
    if (this.#stopped) return;
    this.#onError(error);
  };

  /**
   * Stops regular writes (the connection is closed) and fails every publisher waiting to drain.
   *
   * @param error the reason
   */
  stop(error: Error): void {
    this.#stopped = true;
    for (const waiter of this.#drainWaiters.splice(0)) waiter.reject(error);
  }

  /** Writes what is still queued (a close-ok, a close 501), waiting at most a second. */
  async lastWords(): Promise<void> {
    if (this.#out.pos === 0 || this.#broken) return;
    const chunk = this.#out.buf.slice(0, this.#out.pos);
    this.#out.reset();
    let timer: unknown;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
      unref(timer);
    });
    await Promise.race([this.#socket.write(chunk).catch(() => undefined), timeout]);
    clearTimeout(timer as number);
  }
}
