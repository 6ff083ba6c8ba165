/**
 * The virtual channel (Kombu's `virtual.Channel`): exchanges, bindings, QoS, delivery tags and
 * restore of unacknowledged messages, over any {@link QueueBackend}.
 *
 * @module
 */

import { ChannelError, ConnectionError } from "../errors.ts";
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
import type { BindingStore, QueueBackend, QueueBatch, StoredMessage } from "./backend.ts";
import { bodyBytes } from "../body.ts";
import { kombuBindingPattern, route, type TopicRules } from "./exchange_types.ts";
import {
  assertExchangeEquivalent,
  assertQueueEquivalent,
  assertRoutableBinding,
  cannotBindMissing,
  cannotDeleteQueue,
  noSuchExchange,
  noSuchQueue,
} from "./declarations.ts";
import { fetchRound, interleave } from "./fairness.ts";
import { Ledger } from "./ledger.ts";
import type { CycleName } from "../utils/fair_cycle.ts";
import { Consumers } from "./consumers.ts";
import { sleep } from "../utils/sleep.ts";
import { fastUuid4 } from "../utils/uuid.ts";
import { bindingOf, type VirtualState } from "./state.ts";

/** Tuning of a virtual channel. */
export interface VirtualChannelOptions {
  /** Milliseconds between polls of a backend that cannot block (Kombu: 1 s). */
  pollingInterval: number;
  /** Most messages fetched in one round (bounded by the prefetch room). */
  batchSize: number;
  /** How topic bindings match: `amqp` (default) or `kombu` (Python Kombu 5.2's regexes). */
  topicRules?: TopicRules;
  /** The order in which a consumer of several queues visits them (default `round_robin`). */
  queueOrder?: CycleName;
  /**
   * The store knows every queue declaration (the transport's `queueEquivalence` capability): a
   * redeclaration with other flags or `x-` arguments fails (406), a binding of a missing queue
   * too (404).
   */
  queueEquivalence?: boolean;
  /** Called when the backend fails in a way that needs a new connection. */
  onFatal(error: Error): void;
  /** Called for a failure that the channel survived (logged by the core). */
  onWarning?(message: string, error: unknown): void;
  /** Called once when the channel closes. */
  onClose?(): void;
}

let channelSerial = 0;
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * An AMQP-shaped {@link Channel} over a queue store.
 *
 * Consumers are fed by one polling loop per channel that runs while the channel has consumers:
 * it blocks in `backend.getMany` when the backend can, otherwise polls `get`, visits the consumed
 * queues in the order of a Kombu cycle (round robin by default), interleaves the per-queue
 * batches it gets, and never holds more unacknowledged messages than the prefetch count.
 */
export class VirtualChannel implements Channel {
  /** Receives unroutable mandatory publishes. */
  onReturn: ((message: ReturnedMessage) => void) | undefined;

  readonly #backend: QueueBackend;
  readonly #state: VirtualState;
  readonly #bindings: BindingStore;
  readonly #options: VirtualChannelOptions;
  readonly #consumers: Consumers;
  readonly #unacked: Ledger;
  readonly #id = ++channelSerial;
  #open = true;
  #nextConsumer = 1;
  #prefetch = 0;
  #loop: Promise<void> | undefined;
  #wait: AbortController | undefined;
  #room: (() => void) | undefined;
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
    this.#unacked = new Ledger(
      backend,
      (message, error) => options.onWarning?.(message, error),
      () => this.#freeRoom(),
    );
    this.#consumers = new Consumers(options.queueOrder ?? "round_robin");
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

  /**
   * Remembers the exchange (bindings survive a redeclaration). A redeclaration must be
   * equivalent (406, as Kombu's `NotEquivalentError`); a passive declaration needs an exchange
   * that exists as far as this process can know (404, see {@link VirtualState.exchangeExists}).
   */
  async exchangeDeclare(exchange: ExchangeDeclaration): Promise<void> {
    this.#check(`declare exchange "${exchange.name}"`);
    if (exchange.passive) {
      if (await this.#state.exchangeExists(exchange.name, this.#backend.bindings)) return;
      throw noSuchExchange(exchange.name);
    }
    const known = this.#state.exchanges.get(exchange.name);
    if (known) assertExchangeEquivalent(known, exchange);
    else this.#state.exchanges.set(exchange.name, { ...exchange, passive: false });
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
    if (!queue.passive) {
      if (this.#options.queueEquivalence) await this.#compareQueue(name, queue);
      await this.#backend.declare?.(name, queue.arguments ?? {});
    } else if (this.#backend.exists && !(await this.#backend.exists(name))) {
      throw noSuchQueue(name);
    }
    const messageCount = await this.#backend.size(name);
    return { queue: name, messageCount, consumerCount: this.#consumers.count(name) };
  }

  /** A redeclaration must match the first declaration (where the store knows every one). */
  async #compareQueue(name: string, queue: QueueDeclaration): Promise<void> {
    const before = this.#state.queues.get(name);
    if (before && (!this.#backend.exists || (await this.#backend.exists(name)))) {
      assertQueueEquivalent(before, queue);
    } else this.#state.queues.set(name, { ...queue, name, passive: false });
  }

  /**
   * Adds a binding; binding to the default exchange `""` is skipped (Kombu). The exchange must
   * exist (404), and the queue too where the store knows every queue; a binding the routing
   * cannot route is refused ({@link assertRoutableBinding}).
   */
  async queueBind(
    queue: string,
    exchange: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void> {
    this.#check(`bind queue "${queue}"`);
    if (exchange === "") return;
    if (!(await this.#state.exchangeExists(exchange, this.#backend.bindings))) {
      throw cannotBindMissing(queue, "exchange", exchange);
    }
    const exists = this.#options.queueEquivalence ? this.#backend.exists : undefined;
    if (exists && !(await exists.call(this.#backend, queue))) {
      throw cannotBindMissing(queue, "queue", queue);
    }
    const type = this.#state.typeOf(exchange);
    assertRoutableBinding(queue, type, routingKey, args, this.#options.topicRules ?? "amqp");
    const binding = bindingOf(queue, routingKey, args);
    binding.pattern = kombuBindingPattern(type, routingKey);
    await this.#bindings.add(exchange, binding);
    if (this.#backend.bindFanout && type === "fanout") {
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
    const refusal = options?.ifEmpty && size > 0
      ? "it is not empty"
      : options?.ifUnused && this.#consumers.count(queue) > 0
      ? "it has consumers"
      : undefined;
    if (refusal) {
      throw cannotDeleteQueue(queue, refusal);
    }
    for (const consumer of this.#consumers.removeQueue(queue)) {
      consumer.handlers.onCancel?.(consumer.tag);
    }
    await this.#backend.delete(queue);
    this.#state.queues.delete(queue);
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
    const stored: StoredMessage = {
      body: message.body,
      properties: message.properties,
      exchange,
      routingKey,
      tag: fastUuid4(),
      redelivered: false,
    };
    if (exchange === "") return this.#backend.put(routingKey, stored);
    const type = this.#state.typeOf(exchange);
    if (type === "fanout" && this.#backend.putFanout) {
      return this.#backend.putFanout(exchange, stored, routingKey);
    }
    const rules = this.#options.topicRules ?? "amqp";
    // Bindings kept in this process are routed without an await before the store.
    if (this.#bindings === this.#state.bindings) {
      const bindings = this.#state.bindings.listNow(exchange);
      let queues: string[];
      try {
        queues = route(type, bindings, routingKey, message.properties, rules);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#deliver(queues, stored, options);
    }
    return this.#bindings.list(exchange).then((bindings) =>
      this.#deliver(route(type, bindings, routingKey, message.properties, rules), stored, options)
    );
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
    return this.#unacked.deliver(queue, message, options?.noAck ?? false, undefined);
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
    this.#consumers.add({ tag, queue, noAck: options.noAck ?? false, handlers });
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

  /** Acknowledges a delivery (and earlier ones with `multiple`). */
  basicAck(deliveryTag: DeliveryTag, multiple?: boolean): Promise<void> {
    if (!this.#open) return this.#refuse(`ack delivery ${deliveryTag}`);
    return this.#unacked.ack(deliveryTag, multiple ?? false);
  }

  /** Rejects a delivery: back to its queue with `requeue`, dropped otherwise. */
  basicReject(deliveryTag: DeliveryTag, requeue: boolean): Promise<void> {
    if (!this.#open) return this.#refuse(`reject delivery ${deliveryTag}`);
    return this.#unacked.reject(deliveryTag, requeue);
  }

  /** Puts every unacknowledged delivery back, marked redelivered. */
  async basicRecover(): Promise<void> {
    this.#check("recover");
    await this.#unacked.restoreAll();
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
    this.#unacked.close();
    try {
      await this.#unacked.restoreAll();
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
      const queues = this.#consumers.queuesInTurn();
      let got: QueueBatch[];
      try {
        got = await fetchRound(
          this.#backend,
          queues,
          room,
          this.#options.queueOrder ?? "round_robin",
          wait.signal,
          this.#options.pollingInterval,
        );
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
      if (got.length === 1) {
        const { queue, messages } = got[0];
        for (let i = 0; i < messages.length; i++) {
          const pending = this.#dispatch(queue, messages[i]);
          if (pending) await pending;
        }
      } else if (got.length > 1) {
        await interleave(got, (queue, message) => this.#dispatch(queue, message));
      }
      this.#consumers.endRound(queues);
    }
  }

  /** Hands a message to its consumer; returns a promise only when it must go back instead. */
  #dispatch(queue: string, message: StoredMessage): Promise<void> | undefined {
    const consumer = this.#open ? this.#consumers.pick(queue) : undefined;
    if (!consumer) return this.#giveBack(queue, message);
    const delivery = this.#unacked.deliver(queue, message, consumer.noAck, consumer.tag);
    try {
      consumer.handlers.onDelivery(delivery);
    } catch (error) {
      this.#options.onWarning?.(`Consumer "${consumer.tag}" failed on a delivery`, error);
    }
  }

  #giveBack(queue: string, message: StoredMessage): Promise<void> {
    return this.#unacked.giveBack(queue, message);
  }
}
