/**
 * A wakame {@link Channel} on top of an amqplib channel (promise API). The amqplib channel's
 * lifecycle and error translation live in `_raw_channel.ts`, consumers and unsettled deliveries
 * in `_consume.ts`, shape conversions in `_convert.ts`.
 *
 * @module
 */

import type * as amqplib from "amqplib";
import { ChannelError, OperationalError } from "../../src/errors.ts";
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
import {
  type AmqplibMessage,
  encodeTable,
  NOT_IMPLEMENTED,
  publishOptions,
  toBuffer,
  toDelivery,
} from "./_convert.ts";
import { Deliveries, handle, tagNumber } from "./_consume.ts";
import { RawChannel, type RawOwner } from "./_raw_channel.ts";

/** What a channel needs from its connection. */
export interface ChannelOwner extends RawOwner {
  /** Forgets a channel that closed. */
  release(channel: AmqplibChannel): void;
}

/**
 * A {@link Channel} backed by an amqplib channel.
 *
 * Publisher confirms: amqplib turns confirms on only when it opens a channel
 * (`createConfirmChannel`). {@link AmqplibChannel.confirmSelect} therefore opens a confirm
 * channel, applies the current `basicQos` to it, swaps it in and closes the old one; it refuses
 * while consumers or unacknowledged deliveries live on the old channel (their tags would not
 * survive). Kombu turns confirms on right after opening a channel, where this always works; the
 * transport option `confirmPublish: true` opens every channel in confirm mode from the start.
 */
export class AmqplibChannel implements Channel {
  /** The broker decides which exchange types exist (RabbitMQ's plugins add `x-...` types). */
  readonly anyExchangeType = true;
  /** Receives messages the broker returned (mandatory publish without a route). */
  onReturn: ((message: ReturnedMessage) => void) | undefined = undefined;
  #raw: RawChannel;
  #confirm: boolean;
  #deliveries = new Deliveries();
  #qos: QosOptions | undefined;

  /**
   * Wraps an open amqplib channel.
   *
   * @param owner the connection that opened it
   * @param raw the amqplib channel
   * @param confirm whether `raw` is a confirm channel
   */
  constructor(owner: ChannelOwner, raw: amqplib.Channel, confirm: boolean) {
    this.#confirm = confirm;
    this.#raw = new RawChannel(owner, raw, {
      closed: (failure) => {
        owner.release(this);
        // A broker-side close ends its consumers: tell them, as the native transport does.
        this.#deliveries.closed(failure instanceof ChannelError);
      },
      returned: (message) => this.onReturn?.(message),
    });
  }

  /** False once the channel or its connection is closed. */
  get isOpen(): boolean {
    return this.#raw.isOpen;
  }

  /** True when publishes wait for the broker's confirmation. */
  get confirming(): boolean {
    return this.#confirm;
  }

  /**
   * Declares an exchange (`passive` only checks that it exists).
   *
   * @param exchange the declaration
   * @throws {NotFoundError} passive and missing
   * @throws {PreconditionFailedError} exists with other settings
   */
  async exchangeDeclare(exchange: ExchangeDeclaration): Promise<void> {
    const action = `Cannot declare exchange "${exchange.name}"`;
    await this.#raw.call(
      action,
      (raw) =>
        exchange.passive ? raw.checkExchange(exchange.name) : raw.assertExchange(
          exchange.name,
          exchange.type,
          {
            durable: exchange.durable ?? false,
            autoDelete: exchange.autoDelete ?? false,
            internal: exchange.internal ?? false,
            arguments: encodeTable(exchange.arguments ?? {}),
          },
        ),
    );
  }

  /**
   * Deletes an exchange.
   *
   * @param name the exchange
   * @param options `ifUnused`: only when it has no bindings
   */
  async exchangeDelete(name: string, options: { ifUnused?: boolean } = {}): Promise<void> {
    await this.#raw.call(
      `Cannot delete exchange "${name}"`,
      (raw) => raw.deleteExchange(name, { ifUnused: options.ifUnused ?? false }),
    );
  }

  /**
   * Binds exchange `destination` to exchange `source`.
   *
   * @param destination the exchange that receives
   * @param source the exchange that routes
   * @param routingKey the binding key
   * @param args binding arguments
   */
  async exchangeBind(
    destination: string,
    source: string,
    routingKey: string,
    args: FieldTable = {},
  ): Promise<void> {
    await this.#raw.call(
      `Cannot bind exchange "${destination}" to "${source}"`,
      (raw) => raw.bindExchange(destination, source, routingKey, encodeTable(args)),
    );
  }

  /**
   * Removes an exchange-to-exchange binding.
   *
   * @param destination the exchange that receives
   * @param source the exchange that routes
   * @param routingKey the binding key
   * @param args binding arguments
   */
  async exchangeUnbind(
    destination: string,
    source: string,
    routingKey: string,
    args: FieldTable = {},
  ): Promise<void> {
    await this.#raw.call(
      `Cannot unbind exchange "${destination}" from "${source}"`,
      (raw) => raw.unbindExchange(destination, source, routingKey, encodeTable(args)),
    );
  }

  /**
   * Declares a queue; the name `""` asks the broker for a generated one.
   *
   * @param queue the declaration (`passive` only checks that it exists)
   * @returns the name, message count and consumer count
   * @throws {NotFoundError} passive and missing
   * @throws {PreconditionFailedError} exists with other settings
   * @throws {AccessRefusedError} exclusive to another connection
   */
  async queueDeclare(queue: QueueDeclaration): Promise<QueueDeclareOk> {
    const action = `Cannot declare queue "${queue.name}"`;
    const ok = await this.#raw.call(
      action,
      (raw) =>
        queue.passive ? raw.checkQueue(queue.name) : raw.assertQueue(queue.name, {
          durable: queue.durable ?? false,
          exclusive: queue.exclusive ?? false,
          autoDelete: queue.autoDelete ?? false,
          arguments: encodeTable(queue.arguments ?? {}),
        }),
    );
    return { queue: ok.queue, messageCount: ok.messageCount, consumerCount: ok.consumerCount };
  }

  /**
   * Binds a queue to an exchange.
   *
   * @param queue the queue
   * @param exchange the exchange
   * @param routingKey the binding key
   * @param args binding arguments (headers exchanges match on them)
   */
  async queueBind(
    queue: string,
    exchange: string,
    routingKey: string,
    args: FieldTable = {},
  ): Promise<void> {
    await this.#raw.call(
      `Cannot bind queue "${queue}" to exchange "${exchange}"`,
      (raw) => raw.bindQueue(queue, exchange, routingKey, encodeTable(args)),
    );
  }

  /**
   * Removes a binding.
   *
   * @param queue the queue
   * @param exchange the exchange
   * @param routingKey the binding key
   * @param args binding arguments
   */
  async queueUnbind(
    queue: string,
    exchange: string,
    routingKey: string,
    args: FieldTable = {},
  ): Promise<void> {
    await this.#raw.call(
      `Cannot unbind queue "${queue}" from exchange "${exchange}"`,
      (raw) => raw.unbindQueue(queue, exchange, routingKey, encodeTable(args)),
    );
  }

  /**
   * Removes every ready message of a queue.
   *
   * @param queue the queue
   * @returns how many messages were removed
   */
  async queuePurge(queue: string): Promise<number> {
    const ok = await this.#raw.call(
      `Cannot purge queue "${queue}"`,
      (raw) => raw.purgeQueue(queue),
    );
    return ok.messageCount;
  }

  /**
   * Deletes a queue.
   *
   * @param queue the queue
   * @param options `ifUnused` / `ifEmpty` conditions
   * @returns how many messages it held
   */
  async queueDelete(
    queue: string,
    options: { ifUnused?: boolean; ifEmpty?: boolean } = {},
  ): Promise<number> {
    const ok = await this.#raw.call(
      `Cannot delete queue "${queue}"`,
      (raw) =>
        raw.deleteQueue(queue, {
          ifUnused: options.ifUnused ?? false,
          ifEmpty: options.ifEmpty ?? false,
        }),
    );
    return ok.messageCount;
  }

  /**
   * Publishes one message with Kombu's properties (priority and delivery mode always sent).
   * Waits for amqplib's write buffer to drain when it is full; in confirm mode resolves once
   * the broker acknowledged the message.
   *
   * @param exchange the exchange (`""` for the default exchange)
   * @param routingKey the routing key
   * @param message body and properties
   * @param options `mandatory` returns unroutable messages through {@link AmqplibChannel.onReturn}
   * @throws {OperationalError} the broker nacked the message (confirm mode)
   * @throws {ChannelError} the channel closed before the confirm
   * @throws {ConnectionError} the connection is gone
   */
  basicPublish(
    exchange: string,
    routingKey: string,
    message: OutgoingMessage,
    options: BasicPublishOptions = {},
  ): Promise<void> {
    const action = `Cannot publish to exchange "${exchange}" with routing key "${routingKey}"`;
    const state = this.#raw;
    if (!state.isOpen) return Promise.reject(state.closedError(action));
    if (options.immediate) {
      return Promise.reject(
        new ChannelError(`${action}: the immediate flag is not implemented by RabbitMQ`, {
          replyCode: NOT_IMPLEMENTED,
        }),
      );
    }
    const raw = state.raw;
    const content = toBuffer(message.body);
    const publishArgs = publishOptions(message.properties, options.mandatory ?? false);
    if (this.#confirm) {
      return new Promise<void>((resolve, reject) => {
        try {
          (raw as amqplib.ConfirmChannel).publish(
            exchange,
            routingKey,
            content,
            publishArgs,
            (error: unknown) => {
              if (error === null || error === undefined) resolve();
              else if ((error as Error).message === "message nacked") {
                reject(new OperationalError(`${action}: the broker nacked it`, { cause: error }));
              } else {
                // The channel closed first; let the connection report its state, then explain.
                setTimeout(() => reject(state.closedError(action)), 0);
              }
            },
          );
        } catch (error) {
          state.translate(action, error).then(reject);
        }
      });
    }
    let fits: boolean;
    try {
      fits = raw.publish(exchange, routingKey, content, publishArgs);
    } catch (error) {
      return state.translate(action, error).then((e) => Promise.reject(e));
    }
    return fits ? Promise.resolve() : state.drained();
  }

  /**
   * Takes one message.
   *
   * @param queue the queue
   * @param options `noAck`: no acknowledgement needed
   * @returns the delivery, or `undefined` when the queue is empty
   */
  async basicGet(queue: string, options: { noAck?: boolean } = {}): Promise<Delivery | undefined> {
    const noAck = options.noAck ?? false;
    const message = await this.#raw.call(
      `Cannot get from queue "${queue}"`,
      (raw) => raw.get(queue, { noAck }),
    );
    if (message === false) return undefined;
    if (!noAck) this.#deliveries.got(message.fields.deliveryTag);
    return toDelivery(message as unknown as AmqplibMessage);
  }

  /**
   * Starts a consumer. When the broker cancels it (the queue was deleted), `onCancel` is
   * called with its tag.
   *
   * @param queue the queue
   * @param options tag, noAck, exclusive, x-arguments
   * @param handlers delivery and cancel callbacks
   * @returns the consumer tag
   */
  async basicConsume(
    queue: string,
    options: ConsumeOptions,
    handlers: ConsumeHandlers,
  ): Promise<string> {
    const noAck = options.noAck ?? false;
    let tag = options.consumerTag ?? "";
    const listener = this.#deliveries.listener(handlers, noAck, () => tag);
    const ok = await this.#raw.call(
      `Cannot consume from queue "${queue}"`,
      (raw) =>
        raw.consume(queue, listener, {
          ...(tag === "" ? {} : { consumerTag: tag }),
          noAck,
          exclusive: options.exclusive ?? false,
          arguments: encodeTable(options.arguments ?? {}),
        }),
    );
    tag = ok.consumerTag;
    this.#deliveries.started(tag, handlers);
    return tag;
  }

  /**
   * Stops a consumer.
   *
   * @param consumerTag its tag
   */
  async basicCancel(consumerTag: string): Promise<void> {
    if (!this.#deliveries.has(consumerTag) && !this.isOpen) return;
    await this.#raw.call(
      `Cannot cancel consumer "${consumerTag}"`,
      (raw) => raw.cancel(consumerTag),
    );
    this.#deliveries.cancelled(consumerTag);
  }

  /**
   * Acknowledges a delivery (and every earlier one with `multiple`).
   *
   * @param deliveryTag the tag
   * @param multiple also every earlier unacknowledged delivery
   */
  basicAck(deliveryTag: DeliveryTag, multiple = false): Promise<void> {
    const tag = tagNumber(deliveryTag);
    return this.#raw.now(`Cannot acknowledge delivery ${tag}`, (raw) => {
      raw.ack(handle(tag), multiple);
      this.#deliveries.settled(tag, multiple);
    });
  }

  /**
   * Rejects a delivery.
   *
   * @param deliveryTag the tag
   * @param requeue put it back in the queue (else drop or dead-letter it)
   */
  basicReject(deliveryTag: DeliveryTag, requeue: boolean): Promise<void> {
    const tag = tagNumber(deliveryTag);
    return this.#raw.now(`Cannot reject delivery ${tag}`, (raw) => {
      raw.reject(handle(tag), requeue);
      this.#deliveries.settled(tag, false);
    });
  }

  /**
   * Redelivers every unacknowledged message of the channel.
   *
   * @param requeue must be true: RabbitMQ does not implement `requeue=false`
   * @throws {ChannelError} (540) for `requeue: false`, without asking the broker
   */
  async basicRecover(requeue = true): Promise<void> {
    if (!requeue) {
      throw new ChannelError("Cannot recover with requeue=false: RabbitMQ does not implement it", {
        replyCode: NOT_IMPLEMENTED,
      });
    }
    await this.#raw.call("Cannot recover unacknowledged deliveries", (raw) => raw.recover());
    this.#deliveries.recovered();
  }

  /**
   * Sets the prefetch limit (`global`: shared by the channel's consumers on RabbitMQ).
   *
   * @param options prefetch count; `prefetchSize` must be 0 (RabbitMQ does not implement it)
   * @throws {ChannelError} (540) for a non-zero `prefetchSize`, without asking the broker
   */
  async basicQos(options: QosOptions): Promise<void> {
    if ((options.prefetchSize ?? 0) !== 0) {
      throw new ChannelError("Cannot set prefetch size: RabbitMQ does not implement it", {
        replyCode: NOT_IMPLEMENTED,
      });
    }
    await this.#raw.call(
      `Cannot set prefetch count ${options.prefetchCount}`,
      (raw) => raw.prefetch(options.prefetchCount, options.global ?? false),
    );
    this.#qos = options;
  }

  /**
   * Turns on publisher confirms by moving to a new amqplib confirm channel (see the class
   * notes). Does nothing when confirms are on already.
   *
   * @throws {ChannelError} while consumers or unacknowledged deliveries use the channel
   */
  async confirmSelect(): Promise<void> {
    const action = "Cannot turn on publisher confirms";
    if (this.#confirm) return;
    const state = this.#raw;
    if (!state.isOpen) throw state.closedError(action);
    if (this.#deliveries.busy) {
      throw new ChannelError(
        `${action}: the channel has consumers or unacknowledged deliveries ` +
          "(amqplib confirms need a new channel; call confirmSelect first)",
      );
    }
    let next: amqplib.Channel;
    try {
      next = await state.owner.openRaw(true);
      if (this.#qos !== undefined) {
        await next.prefetch(this.#qos.prefetchCount, this.#qos.global ?? false);
      }
    } catch (error) {
      throw await state.translate(action, error);
    }
    this.#confirm = true;
    await state.swap(next);
  }

  /** Closes the channel; unacknowledged deliveries go back to their queues. */
  close(): Promise<void> {
    return this.#raw.close();
  }
}
