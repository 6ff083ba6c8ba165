/**
 * An AMQP 0-9-1 channel: the native transport's {@link Channel}.
 *
 * Synchronous methods are pipelined and matched to their replies in order (`_rpc.ts`). Content
 * (deliveries, basic.get, basic.return) is assembled from method, header and body frames
 * (`_content.ts`). Publisher confirms settle one promise per publish on basic.ack / basic.nack
 * and reject every open one when the channel or the connection closes, so a publish never hangs
 * (`_confirms.ts`). Acks of one turn leave coalesced (`acks.ts`). The state and the frame
 * handling live in `_channel_core.ts`; this class is the public face.
 *
 * @module
 */

import type {
  BasicPublishOptions,
  Channel,
  ConsumeHandlers,
  ConsumeOptions,
  Delivery,
  DeliveryTag,
  ExchangeDeclaration,
  FieldTable,
  OutgoingMessage,
  QosOptions,
  QueueDeclaration,
  QueueDeclareOk,
  ReturnedMessage,
} from "../../src/transport.ts";
import { writePublish } from "./codec/basic_frames.ts";
import { BASIC } from "./codec/ids.ts";
import { METHODS } from "./codec/methods.ts";
import { ChannelCore } from "./_channel_core.ts";
import { Confirms } from "./_confirms.ts";
import type { ChannelPort, ConnectionLink } from "./_link.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/** Makes a channel and its core (set in a static block: the constructor is private). */
let make: (core: ChannelCore) => AmqpChannel;

/**
 * Makes a channel of a connection, not open yet (internal: the connection calls it).
 *
 * @param link the connection, as channels see it
 * @param id the channel number
 * @returns the public channel and the port the connection hands frames to
 */
export function newChannel(
  link: ConnectionLink,
  id: number,
): { channel: AmqpChannel; port: ChannelPort; open(): Promise<void> } {
  const core = new ChannelCore(link, id);
  const channel = make(core);
  return {
    channel,
    port: core,
    async open(): Promise<void> {
      core.open = true;
      try {
        await core.call(METHODS.channelOpen, {}, METHODS.channelOpenOk, "open a channel");
      } catch (error) {
        core.open = false;
        throw error;
      }
    },
  };
}

/**
 * A channel of an {@link AmqpConnection}. Get one with `connection.createChannel()`.
 *
 * Beyond the {@link Channel} seam it has {@link AmqpChannel.basicNack} and
 * {@link AmqpChannel.basicRecoverAsync}.
 */
export class AmqpChannel implements Channel {
  /** The channel number. */
  readonly id: number;
  #core: ChannelCore;

  static {
    make = (core) => new AmqpChannel(core);
  }

  private constructor(core: ChannelCore) {
    this.#core = core;
    this.id = core.id;
  }

  /** The broker decides which exchange types exist (RabbitMQ's plugins add `x-...` types). */
  readonly anyExchangeType = true;
  /** Receives messages the broker returned (mandatory publish without a route). */
  get onReturn(): ((message: ReturnedMessage) => void) | undefined {
    return this.#core.onReturn;
  }

  set onReturn(handler: ((message: ReturnedMessage) => void) | undefined) {
    this.#core.onReturn = handler;
  }

  /** False once the channel or its connection is closed. */
  get isOpen(): boolean {
    return this.#core.open;
  }

  /** True after {@link AmqpChannel.confirmSelect}. */
  get confirming(): boolean {
    return this.#core.confirms !== undefined;
  }

  // ---- the seam ---------------------------------------------------------------------------

  /** Declares an exchange (exchange.declare). */
  async exchangeDeclare(e: ExchangeDeclaration): Promise<void> {
    await this.#core.call(
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
    await this.#core.call(
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
    await this.#core.call(
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
    await this.#core.call(
      METHODS.exchangeUnbind,
      { destination, source, routingKey, arguments: args ?? {} },
      METHODS.exchangeUnbindOk,
      `unbind exchange "${destination}" from "${source}"`,
    );
  }

  /** Declares a queue (queue.declare); x-queue-type, x-max-priority etc. go in `arguments`. */
  async queueDeclare(q: QueueDeclaration): Promise<QueueDeclareOk> {
    const args = await this.#core.call(
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
    await this.#core.call(
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
    await this.#core.call(
      METHODS.queueUnbind,
      { queue, exchange, routingKey, arguments: args ?? {} },
      METHODS.queueUnbindOk,
      `unbind queue "${queue}" from exchange "${exchange}"`,
    );
  }

  /** Purges a queue; resolves to the number of messages removed (queue.purge). */
  async queuePurge(queue: string): Promise<number> {
    const args = await this.#core.call(
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
    const args = await this.#core.call(
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
    const core = this.#core;
    if (!core.open) return Promise.reject(core.closedError(`publish to "${exchange}"`));
    const writer = core.writer;
    try {
      writePublish(
        writer.out,
        this.id,
        core.link.frameMax,
        exchange,
        routingKey,
        message,
        options,
      );
    } catch (error) {
      return Promise.reject(error);
    }
    const confirms = core.confirms;
    if (confirms === undefined) return writer.wrote(false);
    writer.wrote(false).catch(() => undefined);
    return confirms.next();
  }

  /**
   * Takes one message (basic.get).
   *
   * @returns the delivery, or `undefined` when the queue is empty
   */
  async basicGet(queue: string, options?: { noAck?: boolean }): Promise<Delivery | undefined> {
    const result = await this.#core.call(
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
    const core = this.#core;
    const args = await core.call(
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
        core.consumers.set(tag, handlers);
        if (options.noAck) core.noAckConsumers.add(tag);
      },
    );
    return args.consumerTag as string;
  }

  /** Stops a consumer (basic.cancel). */
  async basicCancel(consumerTag: string): Promise<void> {
    const core = this.#core;
    await core.call(
      METHODS.basicCancel,
      { consumerTag },
      METHODS.basicCancelOk,
      `cancel consumer "${consumerTag}"`,
      undefined,
      (reply) => {
        core.consumers.delete(reply.consumerTag as string);
        core.noAckConsumers.delete(reply.consumerTag as string);
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
    return this.#core.ack(deliveryTag, multiple);
  }

  /** Rejects a delivery (basic.reject), putting it back with `requeue`. */
  basicReject(deliveryTag: DeliveryTag, requeue: boolean): Promise<void> {
    return this.#core.settle(BASIC.REJECT, deliveryTag, requeue ? 1 : 0, false, "reject");
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
    return this.#core.settle(
      BASIC.NACK,
      deliveryTag,
      (multiple ? 1 : 0) | (requeue ? 2 : 0),
      multiple,
      "reject",
    );
  }

  /** Redelivers every unacknowledged message of the channel (basic.recover). */
  async basicRecover(requeue = true): Promise<void> {
    this.#core.voidTags();
    await this.#core.call(
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
    const core = this.#core;
    if (!core.open) return Promise.reject(core.closedError("recover"));
    core.voidTags();
    core.writer.sendMethod(this.id, METHODS.basicRecoverAsync, { requeue });
    return RESOLVED;
  }

  /**
   * Sets the prefetch limit (basic.qos). On RabbitMQ `global: false` limits each consumer
   * started afterwards and `global: true` the whole channel.
   */
  async basicQos(options: QosOptions): Promise<void> {
    await this.#core.call(
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
    const core = this.#core;
    if (core.confirms !== undefined) return;
    await core.call(
      METHODS.confirmSelect,
      {},
      METHODS.confirmSelectOk,
      "turn on publisher confirms",
      undefined,
      () => {
        core.confirms ??= new Confirms();
      },
    );
  }

  /**
   * Closes the channel (channel.close); unacknowledged deliveries go back to their queues.
   * Pending calls and unconfirmed publishes reject. Safe to call twice.
   */
  close(): Promise<void> {
    return this.#core.close();
  }
}
