/**
 * Content assembly for one channel: a content-bearing method (basic.deliver, basic.get-ok,
 * basic.return), then one content header, then body frames until the announced size is
 * reached. The state machine reads the method's fields straight from the frame, keeps them in
 * fields (no object per frame), and makes the one {@link Delivery} or {@link ReturnedMessage}
 * when the last byte arrived. A body that arrives in one frame is one copy of that frame's
 * bytes; a split body is gathered into a buffer of exactly its size.
 *
 * Internal to the native AMQP transport.
 *
 * @module
 */

import { ProtocolError } from "../../src/errors.ts";
import type { Delivery, MessageProperties, ReturnedMessage } from "../../src/transport.ts";
import { type Decoder, ShortStringCache } from "./codec/buffer.ts";
import { CLASS } from "./codec/ids.ts";
import type { MethodArgs } from "./codec/methods.ts";
import { decodeProperties } from "./codec/properties.ts";
import type { Call } from "./_rpc.ts";

const EMPTY = new Uint8Array(0);

const NONE = 0;
const DELIVER = 1;
const GET = 2;
const RETURN = 3;

/** Where complete content goes (basic.get-ok content resolves its call directly). */
export interface ContentSink {
  /**
   * A basic.deliver is complete.
   *
   * @param delivery the message
   */
  delivered(delivery: Delivery): void;
  /**
   * A basic.return is complete.
   *
   * @param message the returned message
   */
  returned(message: ReturnedMessage): void;
}

/** The content state machine of one channel. */
export class ContentAssembler {
  #sink: ContentSink;
  #channel: number;
  #maxMessageSize: number;

  #kind = NONE;
  #headerSeen = false;
  /** The consumer tag of the basic.deliver being assembled. */
  consumerTag = "";
  #deliveryTag = 0;
  #redelivered = false;
  #exchange = "";
  #routingKey = "";
  #returnCode = 0;
  #returnText = "";
  #messageCount = 0;
  #getCall: Call | undefined;
  #properties: MessageProperties = {};
  #bodySize = 0;
  #body: Uint8Array = EMPTY;
  #bodyLength = 0;

  #tagCache = new ShortStringCache();
  #exchangeCache = new ShortStringCache();
  #routingKeyCache = new ShortStringCache();

  /**
   * @param sink receives deliveries and returns
   * @param channel the channel number, for error messages
   * @param maxMessageSize the largest body accepted
   */
  constructor(sink: ContentSink, channel: number, maxMessageSize: number) {
    this.#sink = sink;
    this.#channel = channel;
    this.#maxMessageSize = maxMessageSize;
  }

  /** True between a content method and the last byte of its body. */
  get busy(): boolean {
    return this.#kind !== NONE;
  }

  /**
   * Starts a basic.deliver (its arguments follow the method ids in `d`).
   *
   * @param d the reader, after the class and method ids
   * @returns the delivery tag
   */
  deliver(d: Decoder): number {
    this.consumerTag = this.#tagCache.read(d);
    const tag = this.#deliveryTag = d.u64();
    this.#redelivered = (d.u8() & 1) !== 0;
    this.#exchange = this.#exchangeCache.read(d);
    this.#routingKey = this.#routingKeyCache.read(d);
    this.#kind = DELIVER;
    this.#headerSeen = false;
    return tag;
  }

  /**
   * Starts a basic.get-ok.
   *
   * @param d the reader, after the class and method ids
   * @param call the basic.get it answers, resolved with the delivery
   * @returns the delivery tag
   */
  getOk(d: Decoder, call: Call): number {
    const tag = this.#deliveryTag = d.u64();
    this.#redelivered = (d.u8() & 1) !== 0;
    this.#exchange = this.#exchangeCache.read(d);
    this.#routingKey = this.#routingKeyCache.read(d);
    this.#messageCount = d.u32();
    this.#getCall = call;
    this.#kind = GET;
    this.#headerSeen = false;
    return tag;
  }

  /**
   * Starts a basic.return.
   *
   * @param args its decoded arguments
   */
  returned(args: MethodArgs): void {
    this.#returnCode = args.replyCode as number;
    this.#returnText = args.replyText as string;
    this.#exchange = args.exchange as string;
    this.#routingKey = args.routingKey as string;
    this.#kind = RETURN;
    this.#headerSeen = false;
  }

  /**
   * Reads a content header frame.
   *
   * @param d the reader over the header payload
   * @throws {ProtocolError} out of order, of another class, or over the size limit
   */
  header(d: Decoder): void {
    if (this.#kind === NONE || this.#headerSeen) {
      throw new ProtocolError(
        `Cannot read frame: content header on channel ${this.#channel} without a content method`,
      );
    }
    const classId = d.u16();
    if (classId !== CLASS.BASIC) {
      throw new ProtocolError(`Cannot read frame: content header of class ${classId}`);
    }
    d.u16();
    const bodySize = d.u64();
    if (bodySize > this.#maxMessageSize) {
      throw new ProtocolError(
        `Cannot receive message of ${bodySize} bytes on channel ${this.#channel}: larger than the limit of ${this.#maxMessageSize} bytes (maxMessageSize)`,
      );
    }
    this.#properties = decodeProperties(d);
    this.#headerSeen = true;
    this.#bodySize = bodySize;
    this.#bodyLength = 0;
    if (bodySize === 0) {
      this.#body = EMPTY;
      this.#complete();
    }
  }

  /**
   * Reads a content body frame.
   *
   * @param bytes the frame's bytes
   * @param start where the payload starts
   * @param size the payload's size
   * @throws {ProtocolError} before the header, or past the announced size
   */
  body(bytes: Uint8Array, start: number, size: number): void {
    if (!this.#headerSeen) {
      throw new ProtocolError(
        `Cannot read frame: content body on channel ${this.#channel} before its header`,
      );
    }
    const have = this.#bodyLength;
    if (have + size > this.#bodySize) {
      throw new ProtocolError(
        `Cannot read frame: content body on channel ${this.#channel} longer than announced (${this.#bodySize})`,
      );
    }
    if (have === 0 && size === this.#bodySize) {
      this.#body = bytes.slice(start, start + size);
      this.#bodyLength = size;
      this.#complete();
      return;
    }
    if (have === 0) this.#body = new Uint8Array(this.#bodySize);
    this.#body.set(bytes.subarray(start, start + size), have);
    this.#bodyLength = have + size;
    if (this.#bodyLength === this.#bodySize) this.#complete();
  }

  /**
   * Drops any content in progress and fails a basic.get waiting for its content.
   *
   * @param error the reason
   */
  abort(error: Error): void {
    const get = this.#getCall;
    this.#getCall = undefined;
    get?.reject(error);
    this.#kind = NONE;
    this.#headerSeen = false;
    this.#body = EMPTY;
  }

  #complete(): void {
    const kind = this.#kind;
    this.#kind = NONE;
    this.#headerSeen = false;
    const body = this.#body;
    this.#body = EMPTY;
    if (kind === DELIVER) {
      this.#sink.delivered({
        body,
        properties: this.#properties,
        deliveryTag: this.#deliveryTag,
        exchange: this.#exchange,
        routingKey: this.#routingKey,
        redelivered: this.#redelivered,
        consumerTag: this.consumerTag,
      });
    } else if (kind === GET) {
      const call = this.#getCall;
      this.#getCall = undefined;
      const delivery: Delivery = {
        body,
        properties: this.#properties,
        deliveryTag: this.#deliveryTag,
        exchange: this.#exchange,
        routingKey: this.#routingKey,
        redelivered: this.#redelivered,
        messageCount: this.#messageCount,
      };
      call?.resolve(delivery as unknown as MethodArgs);
    } else if (kind === RETURN) {
      this.#sink.returned({
        replyCode: this.#returnCode,
        replyText: this.#returnText,
        exchange: this.#exchange,
        routingKey: this.#routingKey,
        body,
        properties: this.#properties,
      });
    }
  }
}
