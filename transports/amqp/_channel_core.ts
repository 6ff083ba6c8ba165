/**
 * The inside of an AMQP channel: its state, the frames the connection hands it, the calls
 * waiting for replies, acks, confirms and content. {@link AmqpChannel} (the public class in
 * `channel.ts`) holds one and turns the {@link Channel} seam into calls on it; the connection
 * sees it only as a {@link ChannelPort}.
 *
 * A broker channel.close (403, 404, 406, ...) ends this channel only and rejects its pending
 * calls with the matching {@link ChannelError} class; once a channel is closed its delivery
 * tags are refused locally.
 *
 * Internal to the native AMQP transport.
 *
 * @module
 */

import {
  ChannelError,
  channelErrorFor,
  ConfigurationError,
  ConnectionError,
  ProtocolError,
} from "../../src/errors.ts";
import type {
  ConsumeHandlers,
  Delivery,
  DeliveryTag,
  ReturnedMessage,
} from "../../src/transport.ts";
import { getLogger } from "../../src/logger.ts";
import { AckCoalescer } from "./acks.ts";
import type { Decoder } from "./codec/buffer.ts";
import { writeTagFrame } from "./codec/basic_frames.ts";
import { BASIC, CHANNEL, CLASS } from "./codec/ids.ts";
import {
  decodeMethodArgs,
  type MethodArgs,
  methodById,
  type MethodDef,
  METHODS,
} from "./codec/methods.ts";
import type { ChannelPort, ConnectionLink, FrameSink } from "./_link.ts";
import { ContentAssembler, type ContentSink } from "./_content.ts";
import type { Confirms } from "./_confirms.ts";
import { methodKey, RpcQueue } from "./_rpc.ts";

const log = getLogger("transport.amqp");

/** Acks waiting for the flush are written at once past this many. */
const MAX_PENDING_ACKS = 4096;

/**
 * Rethrows a callback's error outside the frame loop, which it would break.
 *
 * @param error what the callback threw
 */
export function report(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/** One channel's state and frame handling. */
export class ChannelCore implements ChannelPort, ContentSink {
  /** The channel number. */
  readonly id: number;
  /** The connection, as channels see it. */
  readonly link: ConnectionLink;
  /** The connection's writer. */
  readonly writer: FrameSink;
  /** Receives messages the broker returned. */
  onReturn: ((message: ReturnedMessage) => void) | undefined;
  /** False once the channel or its connection is closed. */
  open = false;
  /** Publisher confirms, once confirm.select went through. */
  confirms: Confirms | undefined;
  /** Consumers by tag. */
  readonly consumers: Map<string, ConsumeHandlers> = new Map();
  /** Tags of consumers without acknowledgement. */
  readonly noAckConsumers: Set<string> = new Set();

  #decoder: Decoder;
  #closing = false;
  #closeError: Error | undefined;
  #closeOk: (() => void) | undefined;
  #rpc = new RpcQueue();
  /** Acks wait for the connection's next write and leave coalesced (see acks.ts). */
  #acks = new AckCoalescer();
  #content: ContentAssembler;

  /**
   * @param link the connection
   * @param id the channel number
   */
  constructor(link: ConnectionLink, id: number) {
    this.link = link;
    this.writer = link.writer;
    this.#decoder = link.decoder;
    this.id = id;
    this.#content = new ContentAssembler(this, id, link.maxMessageSize);
  }

  // ---- requests ---------------------------------------------------------------------------

  /**
   * Sends a synchronous method and waits for its reply (pipelined: replies come in order).
   *
   * @param def the request
   * @param args its arguments
   * @param reply the expected reply
   * @param action what it does, for errors (`declare queue "a"`)
   * @param alt a second accepted reply (basic.get-empty)
   * @param apply runs synchronously when the reply is read, before any later frame
   * @param noAck basic.get without acknowledgement
   * @returns the reply's arguments
   */
  call(
    def: MethodDef,
    args: Partial<MethodArgs>,
    reply: MethodDef,
    action: string,
    alt?: MethodDef,
    apply?: (args: MethodArgs) => void,
    noAck?: boolean,
  ): Promise<MethodArgs> {
    if (!this.open) return Promise.reject(this.closedError(action));
    this.flushAcks();
    return new Promise<MethodArgs>((resolve, reject) => {
      try {
        this.writer.sendMethod(this.id, def, args);
      } catch (error) {
        reject(error);
        return;
      }
      this.#rpc.push({
        method: methodKey(def),
        reply: methodKey(reply),
        alt: alt ? methodKey(alt) : -1,
        action,
        resolve: resolve as (args: MethodArgs | undefined) => void,
        reject,
        apply,
        noAck,
      });
    });
  }

  /**
   * The error for an operation on a closed channel.
   *
   * @param action what was attempted
   * @returns a `ChannelError`, or the connection's error when the connection ended it
   */
  closedError(action: string): Error {
    const cause = this.#closeError;
    if (cause instanceof ConnectionError) return this.link.closedError(action);
    return new ChannelError(
      `Cannot ${action}: channel ${this.id} is closed`,
      cause ? { cause } : {},
    );
  }

  /**
   * Sends channel.close and waits for close-ok (or the connection's end).
   *
   * @returns a promise that resolves once the channel is closed
   */
  async close(): Promise<void> {
    if (!this.open) return;
    this.flushAcks();
    const done = new Promise<void>((resolve) => (this.#closeOk = resolve));
    this.terminate(new ChannelError(`Cannot use channel ${this.id}: it was closed`), false);
    this.#closing = true;
    try {
      this.writer.sendMethod(this.id, METHODS.channelClose, {
        replyCode: 200,
        replyText: "Goodbye",
        classId: 0,
        methodId: 0,
      });
    } catch {
      this.#closeOk?.();
    }
    await Promise.race([done, this.link.closed]);
  }

  // ---- acks -------------------------------------------------------------------------------

  /**
   * basic.ack: coalesced with the other acks of this turn when it can be.
   *
   * @param deliveryTag the tag
   * @param multiple every earlier tag too
   * @returns a promise that resolves once queued (or when the socket drained enough)
   */
  ack(deliveryTag: DeliveryTag, multiple: boolean): Promise<void> {
    const refused = this.#checkTag(deliveryTag, "acknowledge");
    if (refused) return refused;
    const tag = deliveryTag as number;
    if (multiple || !this.#acks.canDefer(tag)) {
      this.flushAcks();
      writeTagFrame(this.writer.out, this.id, BASIC.ACK, tag, multiple ? 1 : 0);
      if (multiple) this.#acks.settleUpTo(tag);
      else this.#acks.settle(tag);
      return this.writer.wrote(false);
    }
    const waiting = this.#acks.defer(tag);
    if (waiting === 1) this.writer.deferAcks(this);
    else if (waiting >= MAX_PENDING_ACKS) this.flushAcks();
    return this.writer.wrote(false);
  }

  /**
   * basic.reject or basic.nack, written at once after the acks waiting.
   *
   * @param methodId `BASIC.REJECT` or `BASIC.NACK`
   * @param deliveryTag the tag
   * @param bits the method's bits
   * @param multiple nack of every earlier tag too
   * @param verb for errors
   * @returns a promise that resolves once queued
   */
  settle(
    methodId: number,
    deliveryTag: DeliveryTag,
    bits: number,
    multiple: boolean,
    verb: string,
  ): Promise<void> {
    const refused = this.#checkTag(deliveryTag, verb);
    if (refused) return refused;
    this.flushAcks();
    const tag = deliveryTag as number;
    writeTagFrame(this.writer.out, this.id, methodId, tag, bits);
    if (multiple) this.#acks.settleUpTo(tag);
    else this.#acks.settle(tag);
    return this.writer.wrote(false);
  }

  /** basic.recover: every tag delivered so far is void; new deliveries get new tags. */
  voidTags(): void {
    this.flushAcks();
    this.#acks.voidAll();
  }

  /**
   * Writes the acks waiting for the flush (called by the connection just before it writes,
   * and by this channel before any other frame, so acks never pass another frame).
   */
  flushAcks(): void {
    if (this.#acks.pending === 0) return;
    if (!this.open) {
      this.#acks.clear();
      return;
    }
    this.#acks.flush(this.#writeAck);
  }

  #writeAck = (tag: number, multiple: boolean): void =>
    writeTagFrame(this.writer.out, this.id, BASIC.ACK, tag, multiple ? 1 : 0);

  #checkTag(deliveryTag: DeliveryTag, verb: string): Promise<void> | undefined {
    if (!this.open) {
      const cause = this.#closeError;
      return Promise.reject(
        new ChannelError(
          `Cannot ${verb} delivery ${deliveryTag}: channel ${this.id} is closed, and its tags are void on any other channel`,
          cause ? { cause } : {},
        ),
      );
    }
    if (typeof deliveryTag !== "number" || !Number.isSafeInteger(deliveryTag) || deliveryTag < 0) {
      return Promise.reject(
        new ConfigurationError(
          `Cannot ${verb} delivery "${deliveryTag}": not an AMQP delivery tag`,
        ),
      );
    }
    return undefined;
  }

  // ---- the connection's side (ChannelPort) ------------------------------------------------

  /**
   * Ends the channel: rejects pending calls and confirms with `error`, refuses later use.
   *
   * @param error the reason
   * @param cancelConsumers tell consumers through `onCancel` (a broker-side close)
   */
  terminate(error: Error, cancelConsumers: boolean): void {
    const wasOpen = this.open;
    this.open = false;
    this.#closeError ??= error;
    this.#rpc.rejectAll(error);
    this.#content.abort(error);
    this.confirms?.rejectAll(error);
    this.#acks.clear();
    this.noAckConsumers.clear();
    const cancelled = cancelConsumers && wasOpen && this.consumers.size > 0
      ? [...this.consumers]
      : undefined;
    this.consumers.clear();
    if (cancelled !== undefined) {
      for (const [tag, handlers] of cancelled) {
        try {
          handlers.onCancel?.(tag);
        } catch (e) {
          report(e);
        }
      }
    }
    if (!(error instanceof ChannelError)) this.#closeOk?.();
  }

  /** Handles a method frame for this channel. */
  method(bytes: Uint8Array, start: number, size: number): void {
    if (this.#content.busy) {
      throw new ProtocolError(
        `Cannot read frame: method frame on channel ${this.id} while content was expected`,
      );
    }
    const d = this.#decoder.reset(bytes, start, start + size);
    const classId = d.u16();
    const methodId = d.u16();
    if (this.#closing) {
      // After channel.close only close / close-ok matter (spec 2.2.4).
      if (classId === CLASS.CHANNEL && methodId === CHANNEL.CLOSE_OK) this.#finishClose();
      else if (classId === CLASS.CHANNEL && methodId === CHANNEL.CLOSE) {
        this.writer.sendMethod(this.id, METHODS.channelCloseOk);
        this.#finishClose();
      }
      return;
    }
    if (classId === CLASS.BASIC) {
      switch (methodId) {
        case BASIC.DELIVER: {
          const tag = this.#content.deliver(d);
          this.#acks.delivered(tag, this.noAckConsumers.has(this.#content.consumerTag));
          return;
        }
        case BASIC.ACK: // a publisher confirm
          this.confirms?.settle(d.u64(), (d.u8() & 1) !== 0, undefined);
          return;
        case BASIC.NACK: { // a publisher confirm: refused
          const tag = d.u64();
          const multiple = (d.u8() & 1) !== 0;
          this.confirms?.settle(
            tag,
            multiple,
            new ChannelError(
              `Cannot publish message ${tag} on channel ${this.id}: the broker refused it (basic.nack)`,
            ),
          );
          return;
        }
        case BASIC.RETURN:
          this.#content.returned(decodeMethodArgs(d, METHODS.basicReturn));
          return;
        case BASIC.GET_OK: {
          const call = this.#rpc.take(METHODS.basicGetOk, this.id);
          const tag = this.#content.getOk(d, call);
          this.#acks.delivered(tag, call.noAck === true);
          return;
        }
        case BASIC.CANCEL: // from the broker (consumer cancel notify)
          this.#onBrokerCancel(decodeMethodArgs(d, METHODS.basicCancel));
          return;
      }
    } else if (classId === CLASS.CHANNEL) {
      if (methodId === CHANNEL.CLOSE) {
        this.#onBrokerClose(decodeMethodArgs(d, METHODS.channelClose));
        return;
      }
      if (methodId === CHANNEL.FLOW) {
        const args = decodeMethodArgs(d, METHODS.channelFlow);
        this.writer.sendMethod(this.id, METHODS.channelFlowOk, { active: args.active });
        return;
      }
    }
    const def = methodById(classId, methodId);
    if (def === undefined) {
      throw new ProtocolError(
        `Cannot read frame: unknown method ${classId}.${methodId} on channel ${this.id}`,
      );
    }
    const args = decodeMethodArgs(d, def);
    const call = this.#rpc.take(def, this.id);
    if (def === METHODS.basicGetEmpty) {
      call.resolve(undefined);
      return;
    }
    call.apply?.(args);
    call.resolve(args);
  }

  /** Handles a content header frame for this channel. */
  header(bytes: Uint8Array, start: number, size: number): void {
    if (this.#closing) return;
    this.#content.header(this.#decoder.reset(bytes, start, start + size));
  }

  /** Handles a content body frame for this channel. */
  body(bytes: Uint8Array, start: number, size: number): void {
    if (this.#closing) return;
    this.#content.body(bytes, start, size);
  }

  // ---- complete content (ContentSink) -----------------------------------------------------

  /** Hands a delivery to its consumer. */
  delivered(delivery: Delivery): void {
    const handlers = this.consumers.get(delivery.consumerTag as string);
    if (handlers === undefined) return;
    try {
      handlers.onDelivery(delivery);
    } catch (e) {
      report(e);
    }
  }

  /** Hands a returned message to `onReturn`. */
  returned(message: ReturnedMessage): void {
    const handler = this.onReturn;
    if (handler === undefined) return;
    try {
      handler(message);
    } catch (e) {
      report(e);
    }
  }

  // ---- broker-side ends -------------------------------------------------------------------

  #onBrokerCancel(args: MethodArgs): void {
    const tag = args.consumerTag as string;
    const handlers = this.consumers.get(tag);
    this.consumers.delete(tag);
    if (!args.noWait) {
      this.writer.sendMethod(this.id, METHODS.basicCancelOk, { consumerTag: tag });
    }
    if (handlers?.onCancel) {
      try {
        handlers.onCancel(tag);
      } catch (e) {
        report(e);
      }
    }
  }

  #onBrokerClose(args: MethodArgs): void {
    this.writer.sendMethod(this.id, METHODS.channelCloseOk);
    const call = this.#rpc.head;
    const text = args.replyText as string;
    const culprit = ((args.classId as number) << 16) | (args.methodId as number);
    const message = call && call.method === culprit
      ? `Cannot ${call.action}: ${text}`
      : `Channel ${this.id} was closed by the broker: ${text}`;
    const error = channelErrorFor(message, {
      replyCode: args.replyCode as number,
      classId: args.classId as number,
      methodId: args.methodId as number,
    });
    log.info(`${message} (${args.replyCode})`);
    this.terminate(error, true);
    this.link.release(this.id);
  }

  #finishClose(): void {
    this.#closing = false;
    this.link.release(this.id);
    const ok = this.#closeOk;
    this.#closeOk = undefined;
    ok?.();
  }
}
