/**
 * The virtual channel (Kombu's `virtual.Channel`): exchanges, bindings, QoS, delivery tags and
 * restore of unacknowledged messages, over any {@link QueueBackend}.
 *
 * @module
 */

import {
  ChannelError,
  ConnectionError,
  NotFoundError,
  PreconditionFailedError,
} from "../errors.ts";
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
} from "../transport.ts";
import type { Binding, BindingStore, QueueBackend, StoredMessage } from "./backend.ts";
import { bodyBytes } from "../body.ts";
import { DeliveryTable } from "./delivery_table.ts";
import { kombuBindingPattern, route, type TopicRules } from "./exchange_types.ts";
import { sleep } from "../utils/sleep.ts";
import { fastUuid4 } from "../utils/uuid.ts";
import type { VirtualState } from "./state.ts";

/** Tuning of a virtual channel. */
export interface VirtualChannelOptions {
  /** Milliseconds between polls of a backend that cannot block (Kombu: 1 s). */
  pollingInterval: number;
  /** Most messages fetched in one round (bounded by the prefetch room). */
  batchSize: number;
  /** How topic bindings match: `amqp` (default) or `kombu` (Python Kombu 5.2's regexes). */
  topicRules?: TopicRules;
  /** Called when the backend fails in a way that needs a new connection. */
  onFatal(error: Error): void;
  /** Called for a failure that the channel survived (logged by the core). */
  onWarning?(message: string, error: unknown): void;
  /** Called once when the channel closes. */
  onClose?(): void;
}

interface ConsumerEntry {
  readonly tag: string;
  readonly queue: string;
  readonly noAck: boolean;
  readonly handlers: ConsumeHandlers;
}

interface Unacked {
  readonly queue: string;
  readonly message: StoredMessage;
}

let channelSerial = 0;
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * An AMQP-shaped {@link Channel} over a queue store.
 *
 * Consumers are fed by one polling loop per channel that runs while the channel has consumers:
 * it blocks in `backend.getMany` when the backend can, otherwise polls `get` round-robin over the
 * consumed queues, and never holds more unacknowledged messages than the prefetch count.
 */
export class VirtualChannel implements Channel {
  /** Receives unroutable mandatory publishes. */
  onReturn: ((message: ReturnedMessage) => void) | undefined;

  readonly #backend: QueueBackend;
  readonly #state: VirtualState;
  readonly #bindings: BindingStore;
  readonly #options: VirtualChannelOptions;
  readonly #consumers = new Map<string, ConsumerEntry>();
  readonly #unacked = new DeliveryTable<Unacked>();
  readonly #id = ++channelSerial;
  #open = true;
  #nextTag = 1;
  #nextConsumer = 1;
  #prefetch = 0;
  #loop: Promise<void> | undefined;
  #wait: AbortController | undefined;
  #room: (() => void) | undefined;
  #rotation = 0;
  /** The store failed for good (onFatal was called): the loop must not restart and spin. */
  #failed = false;

  /**

   * Creates the object.

   *
   * @param backend the queue store
   * @param state the exchange table of the store's scope
   * @param options polling and failure handling
   */
  constructor(backend: QueueBackend, state: VirtualState, options: VirtualChannelOptions) {
    this.#backend = backend;
    this.#state = state;
    this.#bindings = backend.bindings ?? state.bindings;
    this.#options = options;
  }

  /** False once closed. */
  get isOpen(): boolean {
    return this.#open;
  }

  #check(action: string): void {
    if (!this.#open) throw new ChannelError(`Cannot ${action}: the channel is closed`);
  }

  /** The same refusal as a rejected promise, for methods that are not async. */
  #refuse(action: string): Promise<never> {
    return Promise.reject(new ChannelError(`Cannot ${action}: the channel is closed`));
  }

  /** Remembers the exchange's type; bindings survive a redeclaration. */
  exchangeDeclare(exchange: ExchangeDeclaration): Promise<void> {
    if (!this.#open) return this.#refuse(`declare exchange "${exchange.name}"`);
    const known = this.#state.exchanges.get(exchange.name);
    // Passive: another process may have declared it, and stores keep no types (as in Kombu).
    if (exchange.passive) return Promise.resolve();
    if (known && known.type !== exchange.type) {
      return Promise.reject(
        new PreconditionFailedError(
          `Cannot declare exchange "${exchange.name}": exists with type "${known.type}", not "${exchange.type}"`,
          { replyCode: 406, classId: 40, methodId: 10 },
        ),
      );
    }
    this.#state.exchanges.set(exchange.name, { ...exchange });
    return Promise.resolve();
  }

  /** Forgets an exchange and its bindings. */
  async exchangeDelete(name: string): Promise<void> {
    this.#check(`delete exchange "${name}"`);
    this.#state.exchanges.delete(name);
    await this.#bindings.deleteExchange(name);
  }

  /** Makes the queue exist in the store (where the store needs that). */
  async queueDeclare(queue: QueueDeclaration): Promise<QueueDeclareOk> {
    this.#check(`declare queue "${queue.name}"`);
    const name = queue.name || `amq.gen-${crypto.randomUUID()}`;
    if (!queue.passive) await this.#backend.declare?.(name, queue.arguments ?? {});
    else if (this.#backend.exists && !(await this.#backend.exists(name))) {
      throw new NotFoundError(`Cannot declare queue "${name}" passively: no such queue`, {
        replyCode: 404,
        classId: 50,
        methodId: 10,
      });
    }
    const messageCount = await this.#backend.size(name);
    return { queue: name, messageCount, consumerCount: this.#countConsumers(name) };
  }

  #countConsumers(queue: string): number {
    let n = 0;
    for (const consumer of this.#consumers.values()) if (consumer.queue === queue) n++;
    return n;
  }

  /** Adds a binding; binding to the default exchange `""` is skipped (Kombu). */
  async queueBind(
    queue: string,
    exchange: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void> {
    this.#check(`bind queue "${queue}"`);
    if (exchange === "") return;
    const binding = bindingOf(queue, routingKey, args);
    binding.pattern = kombuBindingPattern(this.#state.typeOf(exchange), routingKey);
    await this.#bindings.add(exchange, binding);
    if (this.#backend.bindFanout && this.#state.typeOf(exchange) === "fanout") {
      await this.#backend.bindFanout(exchange, queue, routingKey);
    }
  }

  /** Removes a binding. */
  async queueUnbind(
    queue: string,
    exchange: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void> {
    this.#check(`unbind queue "${queue}"`);
    if (exchange === "") return;
    await this.#bindings.remove(exchange, bindingOf(queue, routingKey, args));
  }

  /** Removes the queue's ready messages. */
  queuePurge(queue: string): Promise<number> {
    if (!this.#open) return this.#refuse(`purge queue "${queue}"`);
    return this.#backend.purge(queue);
  }

  /** Deletes the queue and the bindings to it (in-process bindings only). */
  async queueDelete(
    queue: string,
    options?: { ifUnused?: boolean; ifEmpty?: boolean },
  ): Promise<number> {
    this.#check(`delete queue "${queue}"`);
    const size = await this.#backend.size(queue);
    if (options?.ifEmpty && size > 0) {
      throw new PreconditionFailedError(`Cannot delete queue "${queue}": it is not empty`, {
        replyCode: 406,
        classId: 50,
        methodId: 40,
      });
    }
    if (options?.ifUnused && this.#countConsumers(queue) > 0) {
      throw new PreconditionFailedError(`Cannot delete queue "${queue}": it has consumers`, {
        replyCode: 406,
        classId: 50,
        methodId: 40,
      });
    }
    for (const consumer of [...this.#consumers.values()]) {
      if (consumer.queue === queue) {
        this.#consumers.delete(consumer.tag);
        consumer.handlers.onCancel?.(consumer.tag);
      }
    }
    await this.#backend.delete(queue);
    if (!this.#backend.bindings) this.#state.bindings.removeQueue(queue);
    return size;
  }

  /** Routes a message through the exchange and stores a copy in each queue it reaches. */
  basicPublish(
    exchange: string,
    routingKey: string,
    message: OutgoingMessage,
    options?: BasicPublishOptions,
  ): Promise<void> {
    if (!this.#open) {
      return Promise.reject(
        new ChannelError(`Cannot publish to exchange "${exchange}": the channel is closed`),
      );
    }
    const stored = this.#stored(exchange, routingKey, message);
    if (exchange === "") return this.#backend.put(routingKey, stored);
    const type = this.#state.typeOf(exchange);
    if (type === "fanout" && this.#backend.putFanout) {
      return this.#backend.putFanout(exchange, stored, routingKey);
    }
    const rules = this.#options.topicRules ?? "amqp";
    // Bindings kept in this process are routed without an await before the store.
    if (this.#bindings === this.#state.bindings) {
      let queues: string[];
      try {
        queues = route(
          type,
          this.#state.bindings.listNow(exchange),
          routingKey,
          message.properties,
          rules,
        );
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#deliver(queues, stored, options);
    }
    return this.#bindings.list(exchange).then((bindings) =>
      this.#deliver(route(type, bindings, routingKey, message.properties, rules), stored, options)
    );
  }

  #stored(exchange: string, routingKey: string, message: OutgoingMessage): StoredMessage {
    return {
      body: message.body,
      properties: message.properties,
      exchange,
      routingKey,
      tag: fastUuid4(),
      redelivered: false,
    };
  }

  /** Stores a routed message in each of its queues, or returns it when it has none. */
  #deliver(
    queues: string[],
    stored: StoredMessage,
    options: BasicPublishOptions | undefined,
  ): Promise<void> {
    if (queues.length === 1) return this.#backend.put(queues[0], stored);
    if (queues.length === 0) {
      if (options?.mandatory) {
        this.onReturn?.({
          replyCode: 312,
          replyText: "NO_ROUTE",
          exchange: stored.exchange,
          routingKey: stored.routingKey,
          body: bodyBytes(stored.body),
          properties: stored.properties,
        });
      }
      return RESOLVED;
    }
    return (async () => {
      for (const queue of queues) await this.#backend.put(queue, { ...stored });
    })();
  }

  /** Takes one message, or `undefined` when the queue is empty. */
  async basicGet(queue: string, options?: { noAck?: boolean }): Promise<Delivery | undefined> {
    this.#check(`get from queue "${queue}"`);
    const message = await this.#backend.get(queue);
    if (!message) return undefined;
    return this.#track(queue, message, options?.noAck ?? false, undefined);
  }

  #track(
    queue: string,
    message: StoredMessage,
    noAck: boolean,
    consumerTag: string | undefined,
  ): Delivery {
    const deliveryTag = this.#nextTag++;
    if (noAck) {
      if (this.#backend.acks) {
        this.#backend.acks.ack(queue, message).catch((error) =>
          this.#options.onWarning?.(`Cannot ack a no-ack delivery of queue "${queue}"`, error)
        );
      }
    } else {
      this.#unacked.add(deliveryTag, { queue, message });
    }
    return {
      body: message.body,
      properties: message.properties,
      deliveryTag,
      exchange: message.exchange,
      routingKey: message.routingKey,
      redelivered: message.redelivered,
      consumerTag,
    };
  }

  /** Registers a consumer and starts the polling loop. */
  basicConsume(queue: string, options: ConsumeOptions, handlers: ConsumeHandlers): Promise<string> {
    if (!this.#open) return this.#refuse(`consume from queue "${queue}"`);
    const tag = options.consumerTag || `ctag-${this.#id}.${this.#nextConsumer++}`;
    if (this.#consumers.has(tag)) {
      return Promise.reject(
        new ChannelError(`Cannot consume from queue "${queue}": consumer tag "${tag}" is in use`, {
          replyCode: 530,
          classId: 60,
          methodId: 20,
        }),
      );
    }
    this.#consumers.set(tag, { tag, queue, noAck: options.noAck ?? false, handlers });
    // A loop blocked on the old queue list must wake up to wait on the new one too.
    this.#wait?.abort();
    this.#startLoop();
    return Promise.resolve(tag);
  }

  /** Stops a consumer. */
  basicCancel(consumerTag: string): Promise<void> {
    this.#consumers.delete(consumerTag);
    if (this.#consumers.size === 0) this.#wait?.abort();
    return Promise.resolve();
  }

  #take(tag: DeliveryTag, action: string): Unacked {
    if (!this.#open) this.#check(`${action} delivery ${tag}`);
    const key = typeof tag === "number" ? tag : Number(tag);
    const entry = this.#unacked.take(key);
    if (!entry) {
      throw new PreconditionFailedError(
        `Cannot ${action} delivery ${tag}: unknown delivery tag on this channel`,
        { replyCode: 406, classId: 60, methodId: 80 },
      );
    }
    return entry;
  }

  #takeUpTo(tag: DeliveryTag): Unacked[] {
    return this.#unacked.takeUpTo(Number(tag));
  }

  /** Acknowledges a delivery (and earlier ones with `multiple`). */
  basicAck(deliveryTag: DeliveryTag, multiple?: boolean): Promise<void> {
    let entries: Unacked[];
    try {
      if (!multiple) {
        const entry = this.#take(deliveryTag, "ack");
        this.#freeRoom();
        return this.#backend.acks ? this.#backend.acks.ack(entry.queue, entry.message) : RESOLVED;
      }
      entries = this.#takeUpTo(deliveryTag);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#freeRoom();
    const acks = this.#backend.acks;
    if (!acks) return RESOLVED;
    return (async () => {
      for (const { queue, message } of entries) await acks.ack(queue, message);
    })();
  }

  /** Rejects a delivery: back to its queue with `requeue`, dropped otherwise. */
  async basicReject(deliveryTag: DeliveryTag, requeue: boolean): Promise<void> {
    const { queue, message } = this.#take(deliveryTag, "reject");
    this.#freeRoom();
    const acks = this.#backend.acks;
    if (requeue) {
      if (acks) await acks.requeue(queue, message);
      else await this.#backend.put(queue, { ...message, redelivered: true });
    } else if (acks) {
      await acks.drop(queue, message);
    }
  }

  /** Puts every unacknowledged delivery back, marked redelivered. */
  async basicRecover(): Promise<void> {
    this.#check("recover");
    await this.#restoreUnacked();
  }

  async #restoreUnacked(): Promise<void> {
    if (this.#unacked.size === 0) return;
    const entries = this.#unacked.takeAll();
    this.#freeRoom();
    const acks = this.#backend.acks;
    if (acks) {
      await acks.restore(entries.map(({ queue, message }) => [queue, message]));
      return;
    }
    for (const { queue, message } of entries) {
      await this.#backend.put(queue, { ...message, redelivered: true });
    }
  }

  /** Sets the prefetch count (channel-wide; `global` makes no difference here). */
  basicQos(options: QosOptions): Promise<void> {
    if (!this.#open) return this.#refuse("set QoS");
    this.#prefetch = Math.max(0, options.prefetchCount | 0);
    this.#freeRoom();
    return Promise.resolve();
  }

  /** Closes the channel: stops consumers and puts unacknowledged messages back. */
  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.#options.onClose?.();
    this.#consumers.clear();
    this.#wait?.abort();
    this.#freeRoom();
    await this.#loop;
    try {
      await this.#restoreUnacked();
    } catch (error) {
      this.#options.onWarning?.("Cannot restore unacknowledged messages at channel close", error);
    }
  }

  #freeRoom(): void {
    const wake = this.#room;
    if (wake) {
      this.#room = undefined;
      wake();
    }
  }

  #roomLeft(): number {
    if (this.#prefetch === 0) return this.#options.batchSize;
    return Math.min(this.#options.batchSize, this.#prefetch - this.#unacked.size);
  }

  #startLoop(): void {
    if (this.#loop || this.#failed) return;
    this.#loop = this.#run().finally(() => {
      this.#loop = undefined;
      if (this.#open && this.#consumers.size > 0) this.#startLoop();
    });
  }

  #queuesInTurn(): string[] {
    const queues: string[] = [];
    for (const consumer of this.#consumers.values()) {
      if (!queues.includes(consumer.queue)) queues.push(consumer.queue);
    }
    if (queues.length > 1) {
      const shift = this.#rotation++ % queues.length;
      return queues.slice(shift).concat(queues.slice(0, shift));
    }
    return queues;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#open && this.#consumers.size > 0) {
      const room = this.#roomLeft();
      if (room <= 0) {
        await new Promise<void>((resolve) => (this.#room = resolve));
        continue;
      }
      // One controller serves many rounds; it is replaced only after something aborted it.
      let wait = this.#wait;
      if (!wait || wait.signal.aborted) this.#wait = wait = new AbortController();
      let got: [string, StoredMessage][];
      try {
        got = await this.#fetch(this.#queuesInTurn(), room, wait.signal);
        failures = 0;
      } catch (error) {
        if (!this.#open) return;
        if (error instanceof ConnectionError) {
          this.#failed = true;
          this.#options.onFatal(error);
          return;
        }
        this.#options.onWarning?.("Cannot fetch messages; retrying", error);
        failures++;
        await sleep(Math.min(this.#options.pollingInterval * failures, 5000), wait.signal);
        continue;
      }
      for (const [queue, message] of got) {
        const pending = this.#dispatch(queue, message);
        if (pending) await pending;
      }
    }
  }

  async #fetch(
    queues: string[],
    max: number,
    signal: AbortSignal,
  ): Promise<[string, StoredMessage][]> {
    if (this.#backend.getMany) return await this.#backend.getMany(queues, { max, signal });
    const got: [string, StoredMessage][] = [];
    // One message per queue per round keeps busy queues from starving quiet ones.
    let progress = true;
    while (progress && got.length < max && !signal.aborted) {
      progress = false;
      for (const queue of queues) {
        if (got.length >= max) break;
        const message = await this.#backend.get(queue);
        if (message) {
          got.push([queue, message]);
          progress = true;
        }
      }
    }
    if (got.length === 0) await sleep(this.#options.pollingInterval, signal);
    return got;
  }

  #consumerFor(queue: string): ConsumerEntry | undefined {
    if (this.#consumers.size === 1) {
      const only = this.#consumers.values().next().value!;
      return only.queue === queue ? only : undefined;
    }
    let first: ConsumerEntry | undefined;
    let count = 0;
    for (const consumer of this.#consumers.values()) {
      if (consumer.queue !== queue) continue;
      first ??= consumer;
      count++;
    }
    if (count <= 1 || !first) return first;
    // Several consumers of one queue on this channel: take turns.
    const pick = this.#rotation++ % count;
    let i = 0;
    for (const consumer of this.#consumers.values()) {
      if (consumer.queue === queue && i++ === pick) return consumer;
    }
    return first;
  }

  /** Hands a message to its consumer; returns a promise only when it must go back instead. */
  #dispatch(queue: string, message: StoredMessage): Promise<void> | undefined {
    const consumer = this.#open ? this.#consumerFor(queue) : undefined;
    if (!consumer) return this.#giveBack(queue, message);
    const delivery = this.#track(queue, message, consumer.noAck, consumer.tag);
    try {
      consumer.handlers.onDelivery(delivery);
    } catch (error) {
      this.#options.onWarning?.(`Consumer "${consumer.tag}" failed on a delivery`, error);
    }
  }

  async #giveBack(queue: string, message: StoredMessage): Promise<void> {
    // Fetched for a consumer that went away meanwhile: give it back untouched.
    try {
      if (this.#backend.acks) await this.#backend.acks.restore([[queue, message]]);
      else await this.#backend.put(queue, message);
    } catch (error) {
      this.#options.onWarning?.(`Cannot give a message back to queue "${queue}"`, error);
    }
  }
}

function bindingOf(queue: string, routingKey: string, args: FieldTable | undefined): Binding {
  return args && Object.keys(args).length > 0
    ? { queue, routingKey, arguments: args as Record<string, unknown> }
    : { queue, routingKey };
}
