/**
 * An AMQP 0-9-1 channel: the native transport's {@link Channel}.
 *
 * Synchronous methods are pipelined and matched to their replies in order. Content (deliveries,
 * basic.get, basic.return) is assembled from method, header and body frames. Publisher confirms
 * settle one promise per publish on basic.ack / basic.nack and reject every open one when the
 * channel or the connection closes, so a publish never hangs. A broker channel.close (403, 404,
 * 406, ...) ends this channel only and rejects its pending calls with the matching
 * {@link ChannelError} class; once a channel is closed its delivery tags are refused locally.
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
  BasicPublishOptions,
  Channel,
  ConsumeHandlers,
  ConsumeOptions,
  Delivery,
  DeliveryTag,
  ExchangeDeclaration,
  FieldTable,
  MessageProperties,
  OutgoingMessage,
  QosOptions,
  QueueDeclaration,
  QueueDeclareOk,
  ReturnedMessage,
} from "../../src/transport.ts";
import { bodyBytes } from "../../src/body.ts";
import { AckCoalescer } from "./acks.ts";
import { type Decoder, ShortStringCache, type Writer } from "./codec/buffer.ts";
import { FRAME_BODY, FRAME_END, FRAME_METHOD, FRAME_OVERHEAD } from "./codec/frame.ts";
import {
  decodeMethodArgs,
  type MethodArgs,
  methodById,
  type MethodDef,
  METHODS,
} from "./codec/methods.ts";
import { CLASS_BASIC, decodeProperties, encodeHeaderFrame } from "./codec/properties.ts";
import type { AmqpConnection } from "./connection.ts";

const RESOLVED: Promise<void> = Promise.resolve();
const EMPTY = new Uint8Array(0);

const CONTENT_NONE = 0;
const CONTENT_DELIVER = 1;
const CONTENT_GET = 2;
const CONTENT_RETURN = 3;

interface Call {
  /** The request's method ids (class in the high 16 bits). */
  method: number;
  /** Reply method ids (class in the high 16 bits). */
  reply: number;
  /** A second accepted reply (basic.get-empty), or -1. */
  alt: number;
  action: string;
  resolve(args: MethodArgs | undefined): void;
  reject(error: Error): void;
  /** Runs synchronously when the reply is read, before any later frame. */
  apply?: (args: MethodArgs) => void;
  /** basic.get without acknowledgement: its delivery is settled on arrival. */
  noAck?: boolean;
}

/** Acks waiting for the flush are written at once past this many. */
const MAX_PENDING_ACKS = 4096;

class PendingConfirm {
  resolve: () => void;
  reject: (error: Error) => void;
  constructor(resolve: () => void, reject: (error: Error) => void) {
    this.resolve = resolve;
    this.reject = reject;
  }
}

function key(def: MethodDef): number {
  return (def.classId << 16) | def.methodId;
}

function report(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * A channel of an {@link AmqpConnection}. Get one with `connection.createChannel()`.
 *
 * Beyond the {@link Channel} seam it has {@link AmqpChannel.basicNack} and
 * {@link AmqpChannel.basicRecoverAsync}.
 */
export class AmqpChannel implements Channel {
  /** Receives messages the broker returned (mandatory publish without a route). */
  onReturn: ((message: ReturnedMessage) => void) | undefined;
  /** The channel number. */
  readonly id: number;

  #conn: AmqpConnection;
  #open = false;
  #closing = false;
  #closeError: Error | undefined;
  #closeOk: (() => void) | undefined;
  #calls: Call[] = [];
  #callHead = 0;
  #consumers = new Map<string, ConsumeHandlers>();
  #noAckConsumers = new Set<string>();

  /** Acks wait for the connection's next write and leave coalesced (see acks.ts). */
  #acks = new AckCoalescer();

  #confirming = false;
  #publishSeq = 0;
  #lowestUnconfirmed = 1;
  #confirms = new Map<number, PendingConfirm>();

  #content = CONTENT_NONE;
  #headerSeen = false;
  #consumerTag = "";
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
   * Makes the channel object; the connection opens it (use `connection.createChannel()`).
   *
   * @param conn the connection
   * @param id the channel number (allocated by the connection)
   */
  constructor(conn: AmqpConnection, id: number) {
    this.#conn = conn;
    this.id = id;
  }

  /** False once the channel or its connection is closed. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** True after {@link AmqpChannel.confirmSelect}. */
  get confirming(): boolean {
    return this.#confirming;
  }

  /**
   * Sends channel.open and waits for open-ok (called by the connection).
   *
   * @returns a promise that resolves when the channel is open
   */
  async open(): Promise<void> {
    this.#open = true;
    try {
      await this.#call(METHODS.channelOpen, {}, METHODS.channelOpenOk, "open a channel");
    } catch (error) {
      this.#open = false;
      throw error;
    }
  }

  // ---- the seam ---------------------------------------------------------------------------

  /** Declares an exchange (exchange.declare). */
  async exchangeDeclare(e: ExchangeDeclaration): Promise<void> {
    await this.#call(
      METHODS.exchangeDeclare,
      {
        exchange: e.name,
        type: e.type,
        passive: e.passive ?? false,
        durable: e.durable ?? false,
        autoDelete: e.autoDelete ?? false,
        internal: e.internal ?? false,
        arguments: e.arguments ?? {},
      },
      METHODS.exchangeDeclareOk,
      `declare exchange "${e.name}"`,
    );
  }

  /** Deletes an exchange (exchange.delete). */
  async exchangeDelete(name: string, options?: { ifUnused?: boolean }): Promise<void> {
    await this.#call(
      METHODS.exchangeDelete,
      { exchange: name, ifUnused: options?.ifUnused ?? false },
      METHODS.exchangeDeleteOk,
      `delete exchange "${name}"`,
    );
  }

  /** Binds exchange `destination` to exchange `source` (exchange.bind, a RabbitMQ extension). */
  async exchangeBind(
    destination: string,
    source: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void> {
    await this.#call(
      METHODS.exchangeBind,
      { destination, source, routingKey, arguments: args ?? {} },
      METHODS.exchangeBindOk,
      `bind exchange "${destination}" to "${source}"`,
    );
  }

  /** Removes an exchange-to-exchange binding (exchange.unbind). */
  async exchangeUnbind(
    destination: string,
    source: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void> {
    await this.#call(
      METHODS.exchangeUnbind,
      { destination, source, routingKey, arguments: args ?? {} },
      METHODS.exchangeUnbindOk,
      `unbind exchange "${destination}" from "${source}"`,
    );
  }

  /** Declares a queue (queue.declare); x-queue-type, x-max-priority etc. go in `arguments`. */
  async queueDeclare(q: QueueDeclaration): Promise<QueueDeclareOk> {
    const args = await this.#call(
      METHODS.queueDeclare,
      {
        queue: q.name,
        passive: q.passive ?? false,
        durable: q.durable ?? false,
        exclusive: q.exclusive ?? false,
        autoDelete: q.autoDelete ?? false,
        arguments: q.arguments ?? {},
      },
      METHODS.queueDeclareOk,
      `declare queue "${q.name}"`,
    );
    return {
      queue: args.queue as string,
      messageCount: args.messageCount as number,
      consumerCount: args.consumerCount as number,
    };
  }

  /** Binds a queue to an exchange (queue.bind). */
  async queueBind(
    queue: string,
    exchange: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void> {
    await this.#call(
      METHODS.queueBind,
      { queue, exchange, routingKey, arguments: args ?? {} },
      METHODS.queueBindOk,
      `bind queue "${queue}" to exchange "${exchange}"`,
    );
  }

  /** Removes a binding (queue.unbind). */
  async queueUnbind(
    queue: string,
    exchange: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void> {
    await this.#call(
      METHODS.queueUnbind,
      { queue, exchange, routingKey, arguments: args ?? {} },
      METHODS.queueUnbindOk,
      `unbind queue "${queue}" from exchange "${exchange}"`,
    );
  }

  /** Purges a queue; resolves to the number of messages removed (queue.purge). */
  async queuePurge(queue: string): Promise<number> {
    const args = await this.#call(
      METHODS.queuePurge,
      { queue },
      METHODS.queuePurgeOk,
      `purge queue "${queue}"`,
    );
    return args.messageCount as number;
  }

  /** Deletes a queue; resolves to the number of messages it held (queue.delete). */
  async queueDelete(
    queue: string,
    options?: { ifUnused?: boolean; ifEmpty?: boolean },
  ): Promise<number> {
    const args = await this.#call(
      METHODS.queueDelete,
      { queue, ifUnused: options?.ifUnused ?? false, ifEmpty: options?.ifEmpty ?? false },
      METHODS.queueDeleteOk,
      `delete queue "${queue}"`,
    );
    return args.messageCount as number;
  }

  /**
   * Publishes one message: method, header and body frames are encoded straight into the
   * connection's write buffer. Without confirms it resolves at once (or once the socket has
   * drained, when much is queued); with confirms it resolves on basic.ack and rejects on
   * basic.nack or when the channel closes.
   *
   * @throws {ConfigurationError} when the exchange, routing key or a property is too long
   * @throws {ChannelError} when the channel is closed or the broker nacks the message
   * @throws {ConnectionError} when the connection is gone
   */
  basicPublish(
    exchange: string,
    routingKey: string,
    message: OutgoingMessage,
    options?: BasicPublishOptions,
  ): Promise<void> {
    if (!this.#open) return Promise.reject(this.#closedError(`publish to "${exchange}"`));
    const conn = this.#conn;
    const w = conn.out;
    const start = w.pos;
    const id = this.id;
    const max = conn.frameMax - FRAME_OVERHEAD;
    const text = typeof message.body === "string" && message.body.length > 0 &&
        message.body.length * 3 <= max
      ? message.body
      : undefined;
    const body = text === undefined ? bodyBytes(message.body) : EMPTY;
    let header = 0;
    try {
      w.ensure(13);
      w.u8(FRAME_METHOD);
      w.u16(id);
      w.pos += 4;
      w.u16(CLASS_BASIC);
      w.u16(40);
      w.u16(0);
      w.shortStr(exchange, "exchange name");
      w.shortStr(routingKey, "routing key");
      w.ensure(2);
      w.u8((options?.mandatory ? 1 : 0) | (options?.immediate ? 2 : 0));
      const end = w.pos;
      w.pos = start + 3;
      w.u32(end - start - 7);
      w.pos = end;
      w.u8(FRAME_END);
      header = w.pos;
      encodeHeaderFrame(w, id, text === undefined ? body.length : 0, message.properties);
    } catch (error) {
      w.pos = start;
      return Promise.reject(error);
    }
    if (text !== undefined) writeTextBody(w, id, text, header);
    const len = body.length;
    for (let off = 0; off < len; off += max) {
      const n = len - off < max ? len - off : max;
      w.ensure(n + FRAME_OVERHEAD);
      w.u8(FRAME_BODY);
      w.u16(id);
      w.u32(n);
      w.buf.set(n === len ? body : body.subarray(off, off + n), w.pos);
      w.pos += n;
      w.u8(FRAME_END);
    }
    if (!this.#confirming) return conn.wrote(false);
    conn.wrote(false).catch(() => undefined);
    const seq = ++this.#publishSeq;
    return new Promise<void>((resolve, reject) => {
      this.#confirms.set(seq, new PendingConfirm(resolve, reject));
    });
  }

  /**
   * Takes one message (basic.get).
   *
   * @returns the delivery, or `undefined` when the queue is empty
   */
  async basicGet(queue: string, options?: { noAck?: boolean }): Promise<Delivery | undefined> {
    const result = await this.#call(
      METHODS.basicGet,
      { queue, noAck: options?.noAck ?? false },
      METHODS.basicGetOk,
      `get from queue "${queue}"`,
      METHODS.basicGetEmpty,
      undefined,
      options?.noAck ?? false,
    );
    return result as unknown as Delivery | undefined;
  }

  /**
   * Starts a consumer (basic.consume). Deliveries reach `handlers.onDelivery` in order; a
   * broker-side cancel (queue deleted) or a broker-side close of this channel reaches
   * `handlers.onCancel`.
   *
   * @returns the consumer tag
   */
  async basicConsume(
    queue: string,
    options: ConsumeOptions,
    handlers: ConsumeHandlers,
  ): Promise<string> {
    const args = await this.#call(
      METHODS.basicConsume,
      {
        queue,
        consumerTag: options.consumerTag ?? "",
        noAck: options.noAck ?? false,
        exclusive: options.exclusive ?? false,
        arguments: options.arguments ?? {},
      },
      METHODS.basicConsumeOk,
      `consume from queue "${queue}"`,
      undefined,
      (reply) => {
        const tag = reply.consumerTag as string;
        this.#consumers.set(tag, handlers);
        if (options.noAck) this.#noAckConsumers.add(tag);
      },
    );
    return args.consumerTag as string;
  }

  /** Stops a consumer (basic.cancel). */
  async basicCancel(consumerTag: string): Promise<void> {
    await this.#call(
      METHODS.basicCancel,
      { consumerTag },
      METHODS.basicCancelOk,
      `cancel consumer "${consumerTag}"`,
      undefined,
      (reply) => {
        this.#consumers.delete(reply.consumerTag as string);
        this.#noAckConsumers.delete(reply.consumerTag as string);
      },
    );
  }

  /**
   * Acknowledges a delivery (basic.ack). Acks of one turn leave in one socket write.
   *
   * @throws {ChannelError} when this channel is closed: a tag is only valid on the channel that
   *   delivered it, so it is never sent anywhere else
   */
  basicAck(deliveryTag: DeliveryTag, multiple = false): Promise<void> {
    const refused = this.#checkTag(deliveryTag, "acknowledge");
    if (refused) return refused;
    const tag = deliveryTag as number;
    if (multiple || !this.#acks.canDefer(tag)) {
      this.flushAcks();
      this.#writeTag(80, tag, multiple ? 1 : 0);
      if (multiple) this.#acks.settleUpTo(tag);
      else this.#acks.settle(tag);
      return this.#conn.wrote(false);
    }
    const waiting = this.#acks.defer(tag);
    if (waiting === 1) this.#conn.deferAcks(this);
    else if (waiting >= MAX_PENDING_ACKS) this.flushAcks();
    return this.#conn.wrote(false);
  }

  /** Rejects a delivery (basic.reject), putting it back with `requeue`. */
  basicReject(deliveryTag: DeliveryTag, requeue: boolean): Promise<void> {
    return this.#tagMethod(90, deliveryTag, requeue ? 1 : 0, false, "reject");
  }

  /**
   * Rejects one or many deliveries (basic.nack, a RabbitMQ extension).
   *
   * @param deliveryTag the tag
   * @param multiple every unacknowledged tag up to this one too
   * @param requeue put them back
   * @returns a promise that resolves once queued
   * @throws {ChannelError} when this channel is closed
   */
  basicNack(deliveryTag: DeliveryTag, multiple = false, requeue = true): Promise<void> {
    return this.#tagMethod(
      120,
      deliveryTag,
      (multiple ? 1 : 0) | (requeue ? 2 : 0),
      multiple,
      "reject",
    );
  }

  /** Redelivers every unacknowledged message of the channel (basic.recover). */
  async basicRecover(requeue = true): Promise<void> {
    this.#voidTags();
    await this.#call(
      METHODS.basicRecover,
      { requeue },
      METHODS.basicRecoverOk,
      "recover unacknowledged messages",
    );
  }

  /**
   * Asks for redelivery without waiting (basic.recover-async, deprecated but still served).
   *
   * @param requeue put the messages back in their queues
   * @returns a promise that resolves once queued
   */
  basicRecoverAsync(requeue = true): Promise<void> {
    if (!this.#open) return Promise.reject(this.#closedError("recover"));
    this.#voidTags();
    this.#conn.sendMethod(this.id, METHODS.basicRecoverAsync, { requeue });
    return RESOLVED;
  }

  /**
   * Sets the prefetch limit (basic.qos). On RabbitMQ `global: false` limits each consumer
   * started afterwards and `global: true` the whole channel.
   */
  async basicQos(options: QosOptions): Promise<void> {
    await this.#call(
      METHODS.basicQos,
      {
        prefetchSize: options.prefetchSize ?? 0,
        prefetchCount: options.prefetchCount,
        global: options.global ?? false,
      },
      METHODS.basicQosOk,
      "set the prefetch limit",
    );
  }

  /** Turns on publisher confirms (confirm.select). */
  async confirmSelect(): Promise<void> {
    if (this.#confirming) return;
    await this.#call(
      METHODS.confirmSelect,
      {},
      METHODS.confirmSelectOk,
      "turn on publisher confirms",
      undefined,
      () => {
        this.#confirming = true;
      },
    );
  }

  /**
   * Closes the channel (channel.close); unacknowledged deliveries go back to their queues.
   * Pending calls and unconfirmed publishes reject. Safe to call twice.
   */
  async close(): Promise<void> {
    if (!this.#open) return;
    this.flushAcks();
    const done = new Promise<void>((resolve) => (this.#closeOk = resolve));
    this.terminate(
      new ChannelError(`Cannot use channel ${this.id}: it was closed`),
      false,
    );
    this.#closing = true;
    try {
      this.#conn.sendMethod(this.id, METHODS.channelClose, {
        replyCode: 200,
        replyText: "Goodbye",
        classId: 0,
        methodId: 0,
      });
    } catch {
      this.#closeOk?.();
    }
    await Promise.race([done, this.#conn.closed]);
  }

  // ---- called by the connection -----------------------------------------------------------

  /**
   * Ends the channel: rejects pending calls and confirms with `error`, refuses later use.
   *
   * @param error the reason
   * @param cancelConsumers tell consumers through `onCancel` (a broker-side close)
   */
  terminate(error: Error, cancelConsumers: boolean): void {
    const wasOpen = this.#open;
    this.#open = false;
    this.#closeError ??= error;
    const calls = this.#calls;
    const head = this.#callHead;
    this.#calls = [];
    this.#callHead = 0;
    for (let i = head; i < calls.length; i++) calls[i].reject(error);
    const get = this.#getCall;
    this.#getCall = undefined;
    get?.reject(error);
    if (this.#confirms.size > 0) {
      const confirms = this.#confirms;
      this.#confirms = new Map();
      for (const pending of confirms.values()) pending.reject(error);
    }
    this.#content = CONTENT_NONE;
    this.#body = EMPTY;
    this.#acks.clear();
    this.#noAckConsumers.clear();
    const consumers = this.#consumers;
    this.#consumers = new Map();
    if (cancelConsumers && wasOpen) {
      for (const [tag, handlers] of consumers) {
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
  onMethod(bytes: Uint8Array, start: number, size: number): void {
    if (this.#content !== CONTENT_NONE) {
      throw new ProtocolError(
        `Cannot read frame: method frame on channel ${this.id} while content was expected`,
      );
    }
    const d = this.#conn.decoder.reset(bytes, start, start + size);
    const classId = d.u16();
    const methodId = d.u16();
    if (this.#closing) {
      // After channel.close only close / close-ok matter (spec 2.2.4).
      if (classId === 20 && methodId === 41) this.#finishClose();
      else if (classId === 20 && methodId === 40) {
        this.#conn.sendMethod(this.id, METHODS.channelCloseOk);
        this.#finishClose();
      }
      return;
    }
    if (classId === CLASS_BASIC) {
      switch (methodId) {
        case 60: // deliver
          this.#consumerTag = this.#tagCache.read(d);
          this.#deliveryTag = d.u64();
          this.#redelivered = (d.u8() & 1) !== 0;
          this.#exchange = this.#exchangeCache.read(d);
          this.#routingKey = this.#routingKeyCache.read(d);
          this.#acks.delivered(this.#deliveryTag, this.#noAckConsumers.has(this.#consumerTag));
          this.#startContent(CONTENT_DELIVER);
          return;
        case 80: // ack (confirm)
          this.#confirmed(d.u64(), (d.u8() & 1) !== 0, undefined);
          return;
        case 120: { // nack (confirm)
          const tag = d.u64();
          const multiple = (d.u8() & 1) !== 0;
          this.#confirmed(
            tag,
            multiple,
            new ChannelError(
              `Cannot publish message ${tag} on channel ${this.id}: the broker refused it (basic.nack)`,
            ),
          );
          return;
        }
        case 50: { // return
          const args = decodeMethodArgs(d, METHODS.basicReturn);
          this.#returnCode = args.replyCode as number;
          this.#returnText = args.replyText as string;
          this.#exchange = args.exchange as string;
          this.#routingKey = args.routingKey as string;
          this.#startContent(CONTENT_RETURN);
          return;
        }
        case 71: { // get-ok
          const call = this.#takeCall(METHODS.basicGetOk);
          this.#deliveryTag = d.u64();
          this.#redelivered = (d.u8() & 1) !== 0;
          this.#exchange = this.#exchangeCache.read(d);
          this.#routingKey = this.#routingKeyCache.read(d);
          this.#messageCount = d.u32();
          this.#acks.delivered(this.#deliveryTag, call.noAck === true);
          this.#getCall = call;
          this.#startContent(CONTENT_GET);
          return;
        }
        case 30: { // cancel from the broker (consumer cancel notify)
          const args = decodeMethodArgs(d, METHODS.basicCancel);
          const tag = args.consumerTag as string;
          const handlers = this.#consumers.get(tag);
          this.#consumers.delete(tag);
          if (!args.noWait) {
            this.#conn.sendMethod(this.id, METHODS.basicCancelOk, { consumerTag: tag });
          }
          if (handlers?.onCancel) {
            try {
              handlers.onCancel(tag);
            } catch (e) {
              report(e);
            }
          }
          return;
        }
      }
    } else if (classId === 20) {
      if (methodId === 40) {
        this.#onBrokerClose(decodeMethodArgs(d, METHODS.channelClose));
        return;
      }
      if (methodId === 20) {
        const args = decodeMethodArgs(d, METHODS.channelFlow);
        this.#conn.sendMethod(this.id, METHODS.channelFlowOk, { active: args.active });
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
    const call = this.#takeCall(def);
    if (def === METHODS.basicGetEmpty) {
      call.resolve(undefined);
      return;
    }
    call.apply?.(args);
    call.resolve(args);
  }

  /** Handles a content header frame for this channel. */
  onHeader(bytes: Uint8Array, start: number, size: number): void {
    if (this.#closing) return;
    if (this.#content === CONTENT_NONE || this.#headerSeen) {
      throw new ProtocolError(
        `Cannot read frame: content header on channel ${this.id} without a content method`,
      );
    }
    const d: Decoder = this.#conn.decoder.reset(bytes, start, start + size);
    const classId = d.u16();
    if (classId !== CLASS_BASIC) {
      throw new ProtocolError(`Cannot read frame: content header of class ${classId}`);
    }
    d.u16();
    const bodySize = d.u64();
    if (bodySize > this.#conn.maxMessageSize) {
      throw new ProtocolError(
        `Cannot receive message of ${bodySize} bytes on channel ${this.id}: larger than the limit of ${this.#conn.maxMessageSize} bytes (maxMessageSize)`,
      );
    }
    this.#properties = decodeProperties(d);
    this.#headerSeen = true;
    this.#bodySize = bodySize;
    this.#bodyLength = 0;
    if (bodySize === 0) {
      this.#body = EMPTY;
      this.#completeContent();
    }
  }

  /** Handles a content body frame for this channel. */
  onBody(bytes: Uint8Array, start: number, size: number): void {
    if (this.#closing) return;
    if (!this.#headerSeen) {
      throw new ProtocolError(
        `Cannot read frame: content body on channel ${this.id} before its header`,
      );
    }
    const have = this.#bodyLength;
    if (have + size > this.#bodySize) {
      throw new ProtocolError(
        `Cannot read frame: content body on channel ${this.id} longer than announced (${this.#bodySize})`,
      );
    }
    if (have === 0 && size === this.#bodySize) {
      this.#body = bytes.slice(start, start + size);
      this.#bodyLength = size;
      this.#completeContent();
      return;
    }
    if (have === 0) this.#body = new Uint8Array(this.#bodySize);
    this.#body.set(bytes.subarray(start, start + size), have);
    this.#bodyLength = have + size;
    if (this.#bodyLength === this.#bodySize) this.#completeContent();
  }

  // ---- internals --------------------------------------------------------------------------

  #closedError(action: string): Error {
    const cause = this.#closeError;
    if (cause instanceof ConnectionError) return this.#conn.closedError(action);
    return new ChannelError(
      `Cannot ${action}: channel ${this.id} is closed`,
      cause ? { cause } : {},
    );
  }

  #checkTag(deliveryTag: DeliveryTag, verb: string): Promise<void> | undefined {
    if (!this.#open) {
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

  #tagMethod(
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
    this.#writeTag(methodId, tag, bits);
    if (multiple) this.#acks.settleUpTo(tag);
    else this.#acks.settle(tag);
    return this.#conn.wrote(false);
  }

  /** Writes basic.ack / reject / nack for one tag (no flush scheduling). */
  #writeTag(methodId: number, tag: number, bits: number): void {
    const w = this.#conn.out;
    w.ensure(22);
    w.u8(FRAME_METHOD);
    w.u16(this.id);
    w.u32(13);
    w.u16(CLASS_BASIC);
    w.u16(methodId);
    w.u64(tag);
    w.u8(bits);
    w.u8(FRAME_END);
  }

  /**
   * Writes the acks waiting for the flush (called by the connection just before it writes,
   * and by this channel before any other frame, so acks never pass another frame).
   */
  flushAcks(): void {
    if (this.#acks.pending === 0) return;
    if (!this.#open) {
      this.#acks.clear();
      return;
    }
    this.#acks.flush(this.#writeAck);
  }

  #writeAck = (tag: number, multiple: boolean): void => this.#writeTag(80, tag, multiple ? 1 : 0);

  /** basic.recover: every tag delivered so far is void; new deliveries get new tags. */
  #voidTags(): void {
    this.flushAcks();
    this.#acks.voidAll();
  }

  #call(
    def: MethodDef,
    args: Partial<MethodArgs>,
    reply: MethodDef,
    action: string,
    alt?: MethodDef,
    apply?: (args: MethodArgs) => void,
    noAck?: boolean,
  ): Promise<MethodArgs> {
    if (!this.#open) return Promise.reject(this.#closedError(action));
    this.flushAcks();
    return new Promise<MethodArgs>((resolve, reject) => {
      try {
        this.#conn.sendMethod(this.id, def, args);
      } catch (error) {
        reject(error);
        return;
      }
      this.#calls.push({
        method: key(def),
        reply: key(reply),
        alt: alt ? key(alt) : -1,
        action,
        resolve: resolve as (args: MethodArgs | undefined) => void,
        reject,
        apply,
        noAck,
      });
    });
  }

  #takeCall(def: MethodDef): Call {
    const call = this.#calls[this.#callHead];
    const k = key(def);
    if (call === undefined || (call.reply !== k && call.alt !== k)) {
      throw new ProtocolError(
        `Cannot read frame: unexpected ${def.name} on channel ${this.id}${
          call ? ` while waiting to ${call.action}` : ""
        }`,
      );
    }
    this.#calls[this.#callHead++] = undefined as unknown as Call;
    if (this.#callHead === this.#calls.length) {
      this.#calls = [];
      this.#callHead = 0;
    }
    return call;
  }

  #onBrokerClose(args: MethodArgs): void {
    this.#conn.sendMethod(this.id, METHODS.channelCloseOk);
    const call = this.#calls[this.#callHead];
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
    this.terminate(error, true);
    this.#conn.releaseChannel(this.id);
  }

  #finishClose(): void {
    this.#closing = false;
    this.#conn.releaseChannel(this.id);
    const ok = this.#closeOk;
    this.#closeOk = undefined;
    ok?.();
  }

  #confirmed(tag: number, multiple: boolean, error: Error | undefined): void {
    const confirms = this.#confirms;
    if (multiple) {
      for (let t = this.#lowestUnconfirmed; t <= tag; t++) {
        const pending = confirms.get(t);
        if (pending === undefined) continue;
        confirms.delete(t);
        if (error) pending.reject(error);
        else pending.resolve();
      }
      if (tag >= this.#lowestUnconfirmed) this.#lowestUnconfirmed = tag + 1;
    } else {
      const pending = confirms.get(tag);
      if (pending !== undefined) {
        confirms.delete(tag);
        if (error) pending.reject(error);
        else pending.resolve();
      }
    }
    const seq = this.#publishSeq;
    while (this.#lowestUnconfirmed <= seq && !confirms.has(this.#lowestUnconfirmed)) {
      this.#lowestUnconfirmed++;
    }
  }

  #startContent(kind: number): void {
    this.#content = kind;
    this.#headerSeen = false;
  }

  #completeContent(): void {
    const kind = this.#content;
    this.#content = CONTENT_NONE;
    this.#headerSeen = false;
    const body = this.#body;
    this.#body = EMPTY;
    if (kind === CONTENT_DELIVER) {
      const tag = this.#consumerTag;
      const handlers = this.#consumers.get(tag);
      if (handlers === undefined) return;
      const delivery: Delivery = {
        body,
        properties: this.#properties,
        deliveryTag: this.#deliveryTag,
        exchange: this.#exchange,
        routingKey: this.#routingKey,
        redelivered: this.#redelivered,
        consumerTag: tag,
      };
      try {
        handlers.onDelivery(delivery);
      } catch (e) {
        report(e);
      }
    } else if (kind === CONTENT_GET) {
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
    } else if (kind === CONTENT_RETURN) {
      const returned: ReturnedMessage = {
        replyCode: this.#returnCode,
        replyText: this.#returnText,
        exchange: this.#exchange,
        routingKey: this.#routingKey,
        body,
        properties: this.#properties,
      };
      const handler = this.onReturn;
      if (handler) {
        try {
          handler(returned);
        } catch (e) {
          report(e);
        }
      }
    }
  }
}

/**
 * Writes a text body that fits one frame, UTF-8 encoded straight into the write buffer (no
 * intermediate bytes), then patches its size into the body frame and the content header.
 *
 * @param w the connection's writer, just after the content header
 * @param channel the channel id
 * @param text the body (at most a third of the frame payload in UTF-16 units)
 * @param header where the content header frame starts
 */
function writeTextBody(w: Writer, channel: number, text: string, header: number): void {
  w.ensure(FRAME_OVERHEAD + text.length * 3);
  w.u8(FRAME_BODY);
  w.u16(channel);
  const sizeAt = w.pos;
  w.pos += 4;
  const size = w.utf8(text);
  w.u8(FRAME_END);
  const end = w.pos;
  w.pos = sizeAt;
  w.u32(size);
  // The content header's body size is a 64-bit field 11 bytes in; its low word is 4 further.
  w.pos = header + 15;
  w.u32(size);
  w.pos = end;
}
