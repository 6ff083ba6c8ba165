/**
 * The synchronous method queue of one channel: requests are pipelined and their replies matched
 * in order (AMQP answers the synchronous methods of a channel in the order they were sent).
 *
 * Internal to the native AMQP transport.
 *
 * @module
 */

import { ProtocolError } from "../../src/errors.ts";
import type { MethodArgs, MethodDef } from "./codec/methods.ts";

/** One request waiting for its reply. */
export interface Call {
  /** The request's method ids (class in the high 16 bits). */
  method: number;
  /** Reply method ids (class in the high 16 bits). */
  reply: number;
  /** A second accepted reply (basic.get-empty), or -1. */
  alt: number;
  /** What it does, for error messages (`declare queue "a"`). */
  action: string;
  /** Settles the caller's promise with the reply (or `undefined` for basic.get-empty). */
  resolve(args: MethodArgs | undefined): void;
  /** Fails the caller's promise. */
  reject(error: Error): void;
  /** Runs synchronously when the reply is read, before any later frame. */
  apply?: (args: MethodArgs) => void;
  /** basic.get without acknowledgement: its delivery is settled on arrival. */
  noAck?: boolean;
}

/**
 * The class and method ids of a method in one number.
 *
 * @param def the method
 * @returns `classId << 16 | methodId`
 */
export function methodKey(def: MethodDef): number {
  return (def.classId << 16) | def.methodId;
}

/** Calls in the order they were sent, taken from the front as replies arrive. */
export class RpcQueue {
  #calls: Call[] = [];
  #head = 0;

  /** The oldest call still waiting, if any. */
  get head(): Call | undefined {
    return this.#calls[this.#head];
  }

  /**
   * Appends a call just sent.
   *
   * @param call the call
   */
  push(call: Call): void {
    this.#calls.push(call);
  }

  /**
   * Takes the oldest call, which must expect this reply.
   *
   * @param def the reply that arrived
   * @param channel the channel number, for the error
   * @returns the call it answers
   * @throws {ProtocolError} when no call waits for this reply
   */
  take(def: MethodDef, channel: number): Call {
    const call = this.#calls[this.#head];
    const k = methodKey(def);
    if (call === undefined || (call.reply !== k && call.alt !== k)) {
      throw new ProtocolError(
        `Cannot read frame: unexpected ${def.name} on channel ${channel}${
          call ? ` while waiting to ${call.action}` : ""
        }`,
      );
    }
    this.#calls[this.#head++] = undefined as unknown as Call;
    if (this.#head === this.#calls.length) {
      this.#calls = [];
      this.#head = 0;
    }
    return call;
  }

  /**
   * Rejects every waiting call and empties the queue.
   *
   * @param error the reason
   */
  rejectAll(error: Error): void {
    const calls = this.#calls;
    const head = this.#head;
    this.#calls = [];
    this.#head = 0;
    for (let i = head; i < calls.length; i++) calls[i].reject(error);
  }
}
