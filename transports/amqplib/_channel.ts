/**
 * A wakame {@link Channel} on top of an amqplib channel (promise API).
 *
 * @module
 */

import type * as amqplib from "amqplib";
import { ChannelError, ConnectionError, OperationalError } from "../../src/errors.ts";
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
  publishOptions,
  toBuffer,
  toDelivery,
  toReturned,
  translateError,
} from "./_convert.ts";

/** What a channel needs from its connection. */
export interface ChannelOwner {
  /** True once the connection is closed or lost. */
  readonly isGone: boolean;
  /** Why the connection went away, if it failed. */
  readonly failure: Error | undefined;
  /** Opens a raw amqplib channel, in confirm mode or not. */
  openRaw(confirm: boolean): Promise<amqplib.Channel>;
  /** Forgets a channel that closed. */
  release(channel: AmqplibChannel): void;
}

/** AMQP 540 NOT_IMPLEMENTED: what RabbitMQ would answer, said before sending. */
const NOT_IMPLEMENTED = 540;

function tagNumber(tag: DeliveryTag): number {
  const value = typeof tag === "number" ? tag : Number(tag);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ChannelError(`Cannot acknowledge delivery tag "${tag}": not an AMQP delivery tag`);
  }
  return value;
}

/** Rethrows a callback's error outside amqplib's frame handling, which it would break. */
function report(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/** A message handle amqplib's `ack`/`reject` accept: they read only the delivery tag. */
function handle(tag: number): amqplib.Message {
  return { fields: { deliveryTag: tag } } as unknown as amqplib.Message;
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
  /** Receives messages the broker returned (mandatory publish without a route). */
  onReturn: ((message: ReturnedMessage) => void) | undefined = undefined;
  #owner: ChannelOwner;
  #raw!: amqplib.Channel;
  #confirm: boolean;
  #open = true;
  #failure: Error | undefined;
  #consumers = new Map<string, ConsumeHandlers>();
  #unacked = new Set<number>();
  #qos: QosOptions | undefined;
  #drainWaiters: ((error?: Error) => void)[] = [];

  /**
   * Wraps an open amqplib channel.
   *
   * @param owner the connection that opened it
   * @param raw the amqplib channel
   * @param confirm whether `raw` is a confirm channel
   */
  constructor(owner: ChannelOwner, raw: amqplib.Channel, confirm: boolean) {
    this.#owner = owner;
    this.#confirm = confirm;
    this.#attach(raw);
  }

  /** False once the channel or its connection is closed. */
  get isOpen(): boolean {
    return this.#open && !this.#owner.isGone;
  }

  /** True when publishes wait for the broker's confirmation. */
  get confirming(): boolean {
    return this.#confirm;
  }

  #attach(raw: amqplib.Channel): void {
    this.#raw = raw;
    const current = (): boolean => this.#raw === raw;
    raw.on("error", (error: Error) => {
      if (!current()) return;
      this.#failure ??= translateError("Channel closed by the broker", error, this.#owner.isGone);
    });
    raw.on("close", () => {
      if (!current()) return;
      this.#open = false;
      this.#unacked.clear();
      this.#owner.release(this);
      this.#wakeDrainWaiters(this.#closedError("Cannot publish"));
      const consumers = [...this.#consumers];
      this.#consumers.clear();
      // A broker-side channel close ends its consumers: tell them, as the native transport does.
      if (this.#failure instanceof ChannelError) {
        for (const [tag, handlers] of consumers) this.#notifyCancel(handlers, tag);
      }
    });
    raw.on("drain", () => {
      if (current()) this.#wakeDrainWaiters();
    });
    raw.on("return", (message: amqplib.Message) => {
      if (!current()) return;
      try {
        this.onReturn?.(toReturned(message as unknown as AmqplibMessage));
      } catch (error) {
        report(error);
      }
    });
  }

  #notifyCancel(handlers: ConsumeHandlers, tag: string): void {
    try {
      handlers.onCancel?.(tag);
    } catch (error) {
      report(error);
    }
  }

  #wakeDrainWaiters(error?: Error): void {
    for (const wake of this.#drainWaiters.splice(0)) wake(error);
  }

  /** The error for an operation on a closed channel. */
  #closedError(action: string): Error {
    if (this.#owner.isGone) {
      return new ConnectionError(`${action}: the connection is closed`, {
        cause: this.#owner.failure,
      });
    }
    const failure = this.#failure;
    if (failure instanceof ChannelError) {
      return new ChannelError(`${action}: the channel was closed (${failure.message})`, {
        cause: failure,
        replyCode: failure.replyCode,
        classId: failure.classId,
        methodId: failure.methodId,
      });
    }
    return new ChannelError(`${action}: the channel is closed`, { cause: failure });
  }

  /** Translates a failure, waiting a turn when it may stem from a connection going away. */
  async #translate(action: string, error: unknown): Promise<Error> {
    const coded = typeof (error as { code?: unknown })?.code === "number";
    if (!coded && !this.#owner.isGone) {
      // amqplib rejects pending calls before it reports the connection closed.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (!coded && !this.isOpen) return this.#closedError(action);
    return translateError(action, error, this.#owner.isGone);
  }

  async #call<T>(action: string, operation: (raw: amqplib.Channel) => Promise<T>): Promise<T> {
    if (!this.isOpen) throw this.#closedError(action);
    try {
      return await operation(this.#raw);
    } catch (error) {
      throw await this.#translate(action, error);
    }
  }

  #now(action: string, operation: (raw: amqplib.Channel) => void): Promise<void> {
    if (!this.isOpen) return Promise.reject(this.#closedError(action));
    try {
      operation(this.#raw);
      return Promise.resolve();
    } catch (error) {
      return this.#translate(action, error).then((e) => Promise.reject(e));
    }
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
    await this.#call(
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
    await this.#call(
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
    await this.#call(
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
    await this.#call(
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
    const ok = await this.#call(
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
    await this.#call(
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
    await this.#call(
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
    const ok = await this.#call(`Cannot purge queue "${queue}"`, (raw) => raw.purgeQueue(queue));
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
    const ok = await this.#call(
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
    if (!this.isOpen) return Promise.reject(this.#closedError(action));
    if (options.immediate) {
      return Promise.reject(
        new ChannelError(`${action}: the immediate flag is not implemented by RabbitMQ`, {
          replyCode: NOT_IMPLEMENTED,
        }),
      );
    }
    const raw = this.#raw;
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
                setTimeout(() => reject(this.#closedError(action)), 0);
              }
            },
          );
        } catch (error) {
          this.#translate(action, error).then(reject);
        }
      });
    }
    let fits: boolean;
    try {
      fits = raw.publish(exchange, routingKey, content, publishArgs);
    } catch (error) {
      return this.#translate(action, error).then((e) => Promise.reject(e));
    }
    if (fits) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#drainWaiters.push((error) => (error === undefined ? resolve() : reject(error)));
    });
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
    const message = await this.#call(
      `Cannot get from queue "${queue}"`,
      (raw) => raw.get(queue, { noAck }),
    );
    if (message === false) return undefined;
    if (!noAck) this.#unacked.add(message.fields.deliveryTag);
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
    const ok = await this.#call(`Cannot consume from queue "${queue}"`, (raw) =>
      raw.consume(
        queue,
        (message) => {
          if (message === null) {
            this.#consumers.delete(tag);
            this.#notifyCancel(handlers, tag);
            return;
          }
          if (!noAck) this.#unacked.add(message.fields.deliveryTag);
          try {
            handlers.onDelivery(toDelivery(message as unknown as AmqplibMessage));
          } catch (error) {
            report(error);
          }
        },
        {
          ...(tag === "" ? {} : { consumerTag: tag }),
          noAck,
          exclusive: options.exclusive ?? false,
          arguments: encodeTable(options.arguments ?? {}),
        },
      ));
    tag = ok.consumerTag;
    this.#consumers.set(tag, handlers);
    return tag;
  }

  /**
   * Stops a consumer.
   *
   * @param consumerTag its tag
   */
  async basicCancel(consumerTag: string): Promise<void> {
    if (!this.#consumers.has(consumerTag) && !this.isOpen) return;
    await this.#call(`Cannot cancel consumer "${consumerTag}"`, (raw) => raw.cancel(consumerTag));
    this.#consumers.delete(consumerTag);
  }

  /**
   * Acknowledges a delivery (and every earlier one with `multiple`).
   *
   * @param deliveryTag the tag
   * @param multiple also every earlier unacknowledged delivery
   */
  basicAck(deliveryTag: DeliveryTag, multiple = false): Promise<void> {
    const tag = tagNumber(deliveryTag);
    return this.#now(`Cannot acknowledge delivery ${tag}`, (raw) => {
      raw.ack(handle(tag), multiple);
      this.#forget(tag, multiple);
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
    return this.#now(`Cannot reject delivery ${tag}`, (raw) => {
      raw.reject(handle(tag), requeue);
      this.#forget(tag, false);
    });
  }

  #forget(tag: number, multiple: boolean): void {
    if (!multiple) {
      this.#unacked.delete(tag);
      return;
    }
    for (const pending of this.#unacked) if (pending <= tag) this.#unacked.delete(pending);
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
    await this.#call("Cannot recover unacknowledged deliveries", (raw) => raw.recover());
    this.#unacked.clear();
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
    await this.#call(
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
    if (!this.isOpen) throw this.#closedError(action);
    if (this.#consumers.size > 0 || this.#unacked.size > 0) {
      throw new ChannelError(
        `${action}: the channel has consumers or unacknowledged deliveries ` +
          "(amqplib confirms need a new channel; call confirmSelect first)",
      );
    }
    let next: amqplib.Channel;
    try {
      next = await this.#owner.openRaw(true);
      if (this.#qos !== undefined) {
        await next.prefetch(this.#qos.prefetchCount, this.#qos.global ?? false);
      }
    } catch (error) {
      throw await this.#translate(action, error);
    }
    const previous = this.#raw;
    this.#confirm = true;
    this.#attach(next);
    this.#wakeDrainWaiters();
    try {
      await previous.close();
    } catch {
      // The old channel may be closing already; its replacement is open.
    }
  }

  /** Closes the channel; unacknowledged deliveries go back to their queues. */
  async close(): Promise<void> {
    if (!this.isOpen) {
      this.#open = false;
      return;
    }
    this.#open = false;
    try {
      await this.#raw.close();
    } catch {
      // Closed already by the broker or by the connection.
    }
  }
}
