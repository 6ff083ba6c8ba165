/**
 * Exchanges, queues and bindings (Kombu's `kombu.entity`).
 *
 * Entities are plain descriptions until bound to a channel: `exchange.bind(channel)` returns a
 * bound copy whose `declare()`, `publish()`-side and queue methods talk to the broker.
 *
 * @module
 */

import { connectionInternals } from "./_connection_internals.ts";
import type { ChannelSource } from "./channel_source.ts";
import { ConfigurationError, NotBoundError } from "./errors.ts";
import type { Channel, Delivery, ExchangeType, FieldTable, QueueDeclareOk } from "./transport.ts";

/** Options of an {@link Exchange} (Kombu's keyword arguments in camelCase). */
export interface ExchangeOptions {
  /** `direct` (default), `topic`, `fanout` or `headers`. */
  type?: ExchangeType;
  /** Survives a broker restart (default true, as in Kombu). */
  durable?: boolean;
  /** Deleted when the last queue is unbound. */
  autoDelete?: boolean;
  /** Only other exchanges may publish to it. */
  internal?: boolean;
  /** Only check that it exists. */
  passive?: boolean;
  /** Never declare it (it exists already). */
  noDeclare?: boolean;
  /** x-arguments. */
  arguments?: FieldTable;
  /** Default delivery mode of messages published to it: 1 transient, 2 persistent. */
  deliveryMode?: 1 | 2 | "transient" | "persistent";
}

/** An exchange or queue declaration cache, one per connection (Kombu's `declared_entities`). */
export interface DeclarationCache {
  /** Keys of what was declared on the current connection. */
  readonly declaredEntities: Set<string>;
}

/** Anything `maybeDeclare` can declare. */
export interface Declarable {
  /** A key that identifies the declaration (name and arguments). */
  readonly declarationKey: string;
  /**
   * False when the entity may vanish by itself (auto-delete, x-expires), so `maybeDeclare` must
   * declare it every time (Kombu's `can_cache_declaration`). Absent means cacheable.
   */
  readonly canCacheDeclaration?: boolean;
  /** Declares on a channel. */
  declareOn(channel: Channel): Promise<unknown>;
}

/**
 * Declares an entity once per connection (Kombu's `maybe_declare`); the cache is cleared when the
 * connection is re-established.
 *
 * @param entity an exchange or queue
 * @param channel where to declare it
 * @param cache the connection (its cache, cleared on reconnect) or a cache of your own; omit to
 *   always declare
 * @returns true when it declared, false when the cache said it was done
 */
export async function maybeDeclare(
  entity: Declarable,
  channel: Channel,
  cache?: DeclarationCache | ChannelSource,
): Promise<boolean> {
  const key = entity.declarationKey;
  const declared = cache === undefined
    ? undefined
    : "declaredEntities" in cache
    ? cache.declaredEntities
    : connectionInternals(cache)?.declared;
  const cacheable = declared !== undefined && entity.canCacheDeclaration !== false;
  if (cacheable && declared.has(key)) return false;
  await entity.declareOn(channel);
  if (cacheable) declared.add(key);
  return true;
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === "bigint") return v.toString();
    if (v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}

/** True for exchanges that must never be declared: the default `""` and `amq.*`. */
export function isReservedExchange(name: string): boolean {
  return name === "" || name.startsWith("amq.");
}

/**
 * An exchange (Kombu's `Exchange`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Exchange } from "@wakame/wakame";
 * const media = new Exchange("media", { type: "direct", durable: true });
 * assert.equal(media.type, "direct");
 * ```
 */
export class Exchange implements Declarable {
  /** Name; `""` is the default exchange. */
  readonly name: string;
  /** Type. */
  readonly type: ExchangeType;
  /** Survives a broker restart. */
  readonly durable: boolean;
  /** Deleted when unused. */
  readonly autoDelete: boolean;
  /** Only exchanges publish to it. */
  readonly internal: boolean;
  /** Declaration only checks existence. */
  readonly passive: boolean;
  /** Never declared. */
  readonly noDeclare: boolean;
  /** x-arguments. */
  readonly arguments: FieldTable;
  /** Default delivery mode for messages (2 = persistent). */
  readonly deliveryMode: 1 | 2;
  readonly #channel: Channel | undefined;

  /**

   * Creates the object.

   *
   * @param name the exchange name (`""` for the default exchange)
   * @param options type, durability and the rest
   * @throws {ConfigurationError} for an unknown type
   */
  constructor(name = "", options: ExchangeOptions = {}, channel?: Channel) {
    const type = options.type ?? "direct";
    if (!["direct", "topic", "fanout", "headers"].includes(type)) {
      throw new ConfigurationError(
        `Cannot make exchange "${name}": unknown type "${type}" (direct, topic, fanout, headers)`,
      );
    }
    this.name = name;
    this.type = type;
    this.durable = options.durable ?? true;
    this.autoDelete = options.autoDelete ?? false;
    this.internal = options.internal ?? false;
    this.passive = options.passive ?? false;
    this.noDeclare = options.noDeclare ?? false;
    this.arguments = options.arguments ?? {};
    const mode = options.deliveryMode;
    this.deliveryMode = mode === 1 || mode === "transient" ? 1 : 2;
    this.#channel = channel;
  }

  /** The channel this copy is bound to, if any. */
  get channel(): Channel | undefined {
    return this.#channel;
  }

  /** True when bound to a channel. */
  get isBound(): boolean {
    return this.#channel !== undefined;
  }

  /** Auto-delete exchanges are declared every time (Kombu's `can_cache_declaration`). */
  get canCacheDeclaration(): boolean {
    return !this.autoDelete;
  }

  /** The options this exchange was made with. */
  get options(): ExchangeOptions {
    return {
      type: this.type,
      durable: this.durable,
      autoDelete: this.autoDelete,
      internal: this.internal,
      passive: this.passive,
      noDeclare: this.noDeclare,
      arguments: this.arguments,
      deliveryMode: this.deliveryMode,
    };
  }

  /**
   * A copy bound to a channel (Kombu's `exchange(channel)` / `bind`).
   *
   * @param channel the channel
   * @returns the bound copy
   */
  bind(channel: Channel): Exchange {
    return new Exchange(this.name, this.options, channel);
  }

  #key: string | undefined;

  /** Identifies the declaration for `maybeDeclare` (computed once). */
  get declarationKey(): string {
    return this.#key ??= `exchange:${this.name}:${
      stableJson([this.type, this.durable, this.autoDelete, this.internal, this.arguments])
    }`;
  }

  #bound(action: string): Channel {
    if (!this.#channel) {
      throw new NotBoundError(
        `Cannot ${action} exchange "${this.name}": it is not bound to a channel`,
      );
    }
    return this.#channel;
  }

  /** Declares on the given channel (skipped for `""`, `amq.*` and `noDeclare`). */
  async declareOn(channel: Channel, options?: { passive?: boolean }): Promise<void> {
    if (isReservedExchange(this.name) || this.noDeclare) return;
    await channel.exchangeDeclare({
      name: this.name,
      type: this.type,
      durable: this.durable,
      autoDelete: this.autoDelete,
      internal: this.internal,
      passive: options?.passive ?? this.passive,
      arguments: this.arguments,
    });
  }

  /**
   * Declares the exchange on its channel.
   *
   * @throws {NotBoundError} when not bound
   */
  async declare(options?: { passive?: boolean }): Promise<void> {
    await this.declareOn(this.#bound("declare"), options);
  }

  /** Deletes the exchange. */
  async delete(options?: { ifUnused?: boolean }): Promise<void> {
    await this.#bound("delete").exchangeDelete(this.name, options);
  }

  /**
   * Binds this exchange to another one (RabbitMQ's exchange-to-exchange bindings).
   *
   * @param source the exchange to receive from
   * @param routingKey binding key
   * @param args binding arguments
   */
  async bindTo(source: Exchange | string, routingKey = "", args?: FieldTable): Promise<void> {
    const channel = this.#bound("bind");
    if (!channel.exchangeBind) {
      throw new ConfigurationError(
        `Cannot bind exchange "${this.name}": the transport has no exchange-to-exchange bindings`,
      );
    }
    await channel.exchangeBind(this.name, nameOf(source), routingKey, args);
  }

  /** Removes a binding made by {@link Exchange.bindTo}. */
  async unbindFrom(source: Exchange | string, routingKey = "", args?: FieldTable): Promise<void> {
    const channel = this.#bound("unbind");
    if (!channel.exchangeUnbind) {
      throw new ConfigurationError(
        `Cannot unbind exchange "${this.name}": the transport has no exchange-to-exchange bindings`,
      );
    }
    await channel.exchangeUnbind(this.name, nameOf(source), routingKey, args);
  }

  /** Kombu-style text, e.g. `<Exchange media(direct)>`. */
  toString(): string {
    return `<Exchange ${this.name || "''"}(${this.type})>`;
  }
}

function nameOf(entity: Exchange | Queue | string): string {
  return typeof entity === "string" ? entity : entity.name;
}

/** One binding of a queue (Kombu's `binding`). */
export interface BindingSpec {
  /** Exchange to bind to. */
  exchange: Exchange;
  /** Binding key. */
  routingKey: string;
  /** Binding arguments (headers exchanges use x-match). */
  arguments?: FieldTable;
  /** Leave undeclared (the exchange exists). */
  unbindArguments?: FieldTable;
}

/**
 * Makes one binding for `Queue`'s `bindings` option (Kombu's `binding(exchange, routing_key)`).
 *
 * @param exchange the exchange
 * @param routingKey the binding key
 * @param args binding arguments
 * @returns the binding
 */
export function binding(exchange: Exchange, routingKey = "", args?: FieldTable): BindingSpec {
  return args ? { exchange, routingKey, arguments: args } : { exchange, routingKey };
}

/** Options of a {@link Queue} (Kombu's keyword arguments in camelCase; durations in ms). */
export interface QueueOptions {
  /** The exchange to bind to (a string names a direct exchange). */
  exchange?: Exchange | string;
  /** The binding key. */
  routingKey?: string;
  /** Several bindings instead of `exchange` + `routingKey`. */
  bindings?: BindingSpec[];
  /** Survives a restart (default true). */
  durable?: boolean;
  /** Only this connection may use it. */
  exclusive?: boolean;
  /** Deleted when its last consumer goes. */
  autoDelete?: boolean;
  /** Consume without acknowledgements. */
  noAck?: boolean;
  /** Only check that it exists. */
  passive?: boolean;
  /** Never declare it. */
  noDeclare?: boolean;
  /** Deleted after this many ms unused (x-expires). */
  expires?: number;
  /** Messages expire after this many ms in the queue (x-message-ttl). */
  messageTtl?: number;
  /** Most messages held (x-max-length). */
  maxLength?: number;
  /** Most bytes held (x-max-length-bytes). */
  maxLengthBytes?: number;
  /** Highest priority (x-max-priority). */
  maxPriority?: number;
  /** More x-arguments of the queue. */
  queueArguments?: FieldTable;
  /** Arguments of the binding. */
  bindingArguments?: FieldTable;
  /** Arguments of consumers (x-priority). */
  consumerArguments?: FieldTable;
  /** Called after each declaration with the name and counts. */
  onDeclared?: (result: QueueDeclareOk) => void;
}

/**
 * A queue and how it is bound (Kombu's `Queue`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Exchange, Queue } from "@wakame/wakame";
 * const video = new Queue("video", { exchange: new Exchange("media"), routingKey: "video" });
 * assert.equal(video.routingKey, "video");
 * ```
 */
export class Queue implements Declarable {
  /** Name; `""` lets the broker name it (the name is filled in after declaration). */
  name: string;
  /** The exchange of the main binding, if any. */
  readonly exchange: Exchange | undefined;
  /** The binding key of the main binding. */
  readonly routingKey: string;
  /** Extra bindings. */
  readonly bindings: readonly BindingSpec[];
  /** See {@link QueueOptions}. */
  readonly durable: boolean;
  /** See {@link QueueOptions}. */
  readonly exclusive: boolean;
  /** See {@link QueueOptions}. */
  readonly autoDelete: boolean;
  /** See {@link QueueOptions}. */
  readonly noAck: boolean;
  /** See {@link QueueOptions}. */
  readonly passive: boolean;
  /** See {@link QueueOptions}. */
  readonly noDeclare: boolean;
  /** The options as given. */
  readonly options: Readonly<QueueOptions>;
  readonly #channel: Channel | undefined;

  /**

   * Creates the object.

   *
   * @param name the queue name
   * @param options exchange, routing key, flags and limits
   */
  constructor(name = "", options: QueueOptions = {}, channel?: Channel) {
    this.name = name;
    this.options = options;
    const exchange = options.exchange;
    this.exchange = typeof exchange === "string" ? new Exchange(exchange) : exchange;
    this.routingKey = options.routingKey ?? "";
    this.bindings = options.bindings ?? [];
    this.durable = options.durable ?? true;
    this.exclusive = options.exclusive ?? false;
    // Kombu: exclusive queues are auto-delete, whatever autoDelete says.
    this.autoDelete = this.exclusive || (options.autoDelete ?? false);
    this.noAck = options.noAck ?? false;
    this.passive = options.passive ?? false;
    this.noDeclare = options.noDeclare ?? false;
    this.#channel = channel;
  }

  /**
   * Makes a queue from Celery's `task_queues` dict form (Kombu's `Queue.from_dict`).
   *
   * @param name the queue name
   * @param options snake_case keys as Celery writes them: exchange, exchange_type, routing_key,
   *   binding_key, durable, exclusive, auto_delete, no_ack, queue_arguments, binding_arguments,
   *   consumer_arguments, bindings (made with `binding()`), exchange_durable,
   *   exchange_auto_delete, exchange_arguments, expires, message_ttl, max_length,
   *   max_length_bytes, max_priority
   * @returns the queue
   */
  static fromDict(name: string, options: Record<string, unknown> = {}): Queue {
    const get = <T>(key: string): T | undefined => options[key] as T | undefined;
    const seconds = (key: string) => {
      const v = get<number>(key);
      return v === undefined ? undefined : v * 1000;
    };
    const exchangeName = get<string>("exchange");
    const exchange = exchangeName === undefined ? undefined : new Exchange(exchangeName, {
      type: get<ExchangeType>("exchange_type") ?? "direct",
      durable: get<boolean>("exchange_durable") ?? get<boolean>("durable"),
      autoDelete: get<boolean>("exchange_auto_delete") ?? get<boolean>("auto_delete"),
      arguments: get<FieldTable>("exchange_arguments"),
    });
    return new Queue(name, {
      exchange,
      // Kombu: `binding_key or routing_key`; Celery's add_compat defaults it to the name.
      routingKey: get<string>("binding_key") || get<string>("routing_key") || name,
      durable: get<boolean>("queue_durable") ?? get<boolean>("durable"),
      exclusive: get<boolean>("exclusive"),
      autoDelete: get<boolean>("queue_auto_delete") ?? get<boolean>("auto_delete"),
      noAck: get<boolean>("no_ack"),
      queueArguments: get<FieldTable>("queue_arguments"),
      bindingArguments: get<FieldTable>("binding_arguments"),
      consumerArguments: get<FieldTable>("consumer_arguments"),
      bindings: get<BindingSpec[]>("bindings"),
      expires: seconds("expires"),
      messageTtl: seconds("message_ttl"),
      maxLength: get<number>("max_length"),
      maxLengthBytes: get<number>("max_length_bytes"),
      maxPriority: get<number>("max_priority"),
    });
  }

  /** The channel this copy is bound to, if any. */
  get channel(): Channel | undefined {
    return this.#channel;
  }

  /** True when bound to a channel. */
  get isBound(): boolean {
    return this.#channel !== undefined;
  }

  /**
   * Auto-delete and expiring queues are declared every time, since they can vanish (Kombu's
   * `can_cache_declaration`); so is a queue still waiting for a server-made name, whose key
   * would be the same for every such queue.
   */
  get canCacheDeclaration(): boolean {
    return this.name !== "" && !this.autoDelete && !("x-expires" in this.queueArguments);
  }

  /**
   * A copy bound to a channel.
   *
   * @param channel the channel
   * @returns the bound copy
   */
  bind(channel: Channel): Queue {
    const copy = new Queue(this.name, this.options, channel);
    return copy;
  }

  /** The queue's x-arguments, Kombu's mapping of its options. */
  get queueArguments(): FieldTable {
    const o = this.options;
    const args: FieldTable = { ...o.queueArguments };
    if (o.expires !== undefined) args["x-expires"] = Math.trunc(o.expires);
    if (o.messageTtl !== undefined) args["x-message-ttl"] = Math.trunc(o.messageTtl);
    if (o.maxLength !== undefined) args["x-max-length"] = o.maxLength;
    if (o.maxLengthBytes !== undefined) args["x-max-length-bytes"] = o.maxLengthBytes;
    if (o.maxPriority !== undefined) args["x-max-priority"] = o.maxPriority;
    return args;
  }

  #key: string | undefined;
  #keyName: string | undefined;

  /** Identifies the declaration for `maybeDeclare` (computed once per name). */
  get declarationKey(): string {
    if (this.#key !== undefined && this.#keyName === this.name) return this.#key;
    this.#keyName = this.name;
    return this.#key = `queue:${this.name}:${
      stableJson([
        this.durable,
        this.exclusive,
        this.autoDelete,
        this.queueArguments,
        this.exchange?.declarationKey,
        this.routingKey,
        this.options.bindingArguments ?? {},
        this.bindings.map((b) => [b.exchange.declarationKey, b.routingKey, b.arguments ?? {}]),
      ])
    }`;
  }

  #bound(action: string): Channel {
    if (!this.#channel) {
      throw new NotBoundError(
        `Cannot ${action} queue "${this.name}": it is not bound to a channel`,
      );
    }
    return this.#channel;
  }

  /**
   * Declares the exchanges, the queue and its bindings on a channel.
   *
   * @param channel where to declare
   * @returns the broker's answer (name, message and consumer counts)
   */
  async declareOn(channel: Channel): Promise<QueueDeclareOk | undefined> {
    // Kombu: no_declare skips the exchange, the queue and the bindings.
    if (this.noDeclare) return undefined;
    if (this.exchange) await this.exchange.declareOn(channel);
    for (const b of this.bindings) await b.exchange.declareOn(channel);
    const result = await channel.queueDeclare({
      name: this.name,
      durable: this.durable,
      exclusive: this.exclusive,
      autoDelete: this.autoDelete,
      passive: this.passive,
      arguments: this.queueArguments,
    });
    if (!this.name) this.name = result.queue;
    if (this.exchange && this.exchange.name !== "") {
      await channel.queueBind(
        this.name,
        this.exchange.name,
        this.routingKey,
        this.options.bindingArguments,
      );
    }
    for (const b of this.bindings) {
      if (b.exchange.name === "") continue;
      await channel.queueBind(this.name, b.exchange.name, b.routingKey, b.arguments);
    }
    this.options.onDeclared?.(result);
    return result;
  }

  /** Declares on the bound channel. */
  async declare(): Promise<QueueDeclareOk | undefined> {
    return await this.declareOn(this.#bound("declare"));
  }

  /** Binds the queue to an exchange. */
  async bindTo(exchange: Exchange | string, routingKey = "", args?: FieldTable): Promise<void> {
    await this.#bound("bind").queueBind(this.name, nameOf(exchange), routingKey, args);
  }

  /** Removes a binding. */
  async unbindFrom(exchange: Exchange | string, routingKey = "", args?: FieldTable): Promise<void> {
    await this.#bound("unbind").queueUnbind(this.name, nameOf(exchange), routingKey, args);
  }

  /** Takes one message, or `undefined` when empty (Kombu's `Queue.get`). */
  async get(options?: { noAck?: boolean }): Promise<Delivery | undefined> {
    return await this.#bound("get from").basicGet(this.name, {
      noAck: options?.noAck ?? this.noAck,
    });
  }

  /**
   * Starts a raw consumer on the bound channel (Kombu's `Queue.consume`); most code wants a
   * `Consumer` instead.
   *
   * @param onDelivery called for each delivery
   * @param options consumer tag, noAck, exclusive
   * @returns the consumer tag
   */
  async consume(
    onDelivery: (delivery: Delivery) => void,
    options?: { consumerTag?: string; noAck?: boolean; exclusive?: boolean },
  ): Promise<string> {
    return await this.#bound("consume from").basicConsume(this.name, {
      consumerTag: options?.consumerTag,
      noAck: options?.noAck ?? this.noAck,
      exclusive: options?.exclusive ?? this.exclusive,
      arguments: this.options.consumerArguments,
    }, { onDelivery });
  }

  /** Stops a consumer started with {@link Queue.consume}. */
  async cancel(consumerTag: string): Promise<void> {
    await this.#bound("cancel a consumer of").basicCancel(consumerTag);
  }

  /** Removes every ready message; resolves to how many. */
  async purge(): Promise<number> {
    return await this.#bound("purge").queuePurge(this.name);
  }

  /** Deletes the queue. */
  async delete(options?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<number> {
    return await this.#bound("delete").queueDelete(this.name, options);
  }

  /** Kombu-style text, e.g. `<Queue video -> <Exchange media(direct)> -> video>`. */
  toString(): string {
    return `<Queue ${this.name} -> ${
      this.exchange ?? "<Exchange ''(direct)>"
    } -> ${this.routingKey}>`;
  }
}
