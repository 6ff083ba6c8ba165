/**
 * Queues (Kombu's `kombu.entity.Queue`), with `Queue.fromDict` for Celery's `task_queues`.
 *
 * @module
 */

import { NotBoundError } from "../errors.ts";
import type { Channel, Delivery, ExchangeType, FieldTable, QueueDeclareOk } from "../transport.ts";
import { Message } from "../message.ts";
import { serializers } from "../serialization.ts";
import { canonicalJson } from "../utils/canonical_json.ts";
import { nameOf } from "./_name_of.ts";
import type { BindingSpec } from "./binding.ts";
import type { Declarable } from "./declare.ts";
import type { StandardSchemaV1 } from "../schema/standard_schema.ts";
import { Exchange, type ExchangeOptions } from "./exchange.ts";

/** Options of a {@link Queue} (Kombu's keyword arguments in camelCase; durations in ms). */
export interface QueueOptions<T = unknown> {
  /**
   * Validates payloads (any Standard Schema: zod, valibot, arktype ...): a consumer of this queue
   * rejects, without requeue, a message that fails it; its type is the queue's payload type.
   */
  schema?: StandardSchemaV1<unknown, T>;
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
export class Queue<T = unknown> implements Declarable {
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
  readonly options: Readonly<QueueOptions<T>>;
  /** The payload validator, if any. */
  readonly schema: StandardSchemaV1<unknown, T> | undefined;
  readonly #channel: Channel | undefined;

  /**
   * Describes a queue; nothing is declared until it is bound to a channel and declared.
   *
   * @param name the queue name
   * @param options exchange, routing key, flags and limits
   */
  constructor(name = "", options: QueueOptions<T> = {}, channel?: Channel) {
    this.name = name;
    this.options = options;
    this.schema = options.schema;
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
    // Python's None (JSON null) means "not set", as in Kombu: never `x-message-ttl: 0`.
    const get = <T>(key: string): T | undefined => (options[key] ?? undefined) as T | undefined;
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
  bind(channel: Channel): Queue<T> {
    const copy = new Queue<T>(this.name, this.options, channel);
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
      canonicalJson([
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

  /**
   * Takes one message, decoded, or `undefined` when the queue is empty (Kombu's `Queue.get`,
   * which returns a `Message`). A body that cannot be decoded, or whose content type is not
   * accepted, or that fails the queue's schema, still comes back: its `decode()` throws the
   * error, and it waits for your ack or reject as any other.
   *
   * @param options `noAck` (default the queue's); `accept`: content types or serializer names
   *   (default: json and Kombu's trusted raw types, as for a consumer)
   * @returns the message, or `undefined`
   * @throws {NotBoundError} when the queue is not bound to a channel
   */
  async get(
    options?: { noAck?: boolean; accept?: readonly string[] },
  ): Promise<Message<T> | undefined> {
    const channel = this.#bound("get from");
    const noAck = options?.noAck ?? this.noAck;
    const delivery = await channel.basicGet(this.name, { noAck });
    if (delivery === undefined) return undefined;
    const accept = serializers.prepareAccept(options?.accept);
    const message = new Message<T>(channel, delivery, { accept, noAck, schema: this.schema });
    try {
      await message.decode();
    } catch {
      // Kombu decodes lazily: the error is the caller's, on decode(); the message is theirs.
    }
    return message;
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

  /**
   * True for a queue with the same name, exchange, binding key, x-arguments, binding and
   * consumer arguments and flags (Kombu's `Queue.__eq__`; the x-arguments made from
   * `messageTtl`, `expires` and the limits count too).
   *
   * @param other another queue
   * @returns whether they describe the same queue
   */
  equals(other: Queue | undefined): boolean {
    if (!(other instanceof Queue)) return false;
    const same = (a: unknown, b: unknown) => canonicalJson(a ?? {}) === canonicalJson(b ?? {});
    return this.name === other.name && this.routingKey === other.routingKey &&
      (this.exchange === undefined
        ? other.exchange === undefined
        : this.exchange.equals(other.exchange)) &&
      this.durable === other.durable && this.exclusive === other.exclusive &&
      this.autoDelete === other.autoDelete &&
      same(this.queueArguments, other.queueArguments) &&
      same(this.options.bindingArguments, other.options.bindingArguments) &&
      same(this.options.consumerArguments, other.options.consumerArguments);
  }

  /**
   * The queue as a plain object (Kombu's `as_dict(recurse)`, in wakame's names and ms):
   * `new Queue(d.name, d)` makes an equal one (without `recurse`).
   *
   * @param recurse also turn the exchange into a plain object
   * @returns name and options
   */
  asDict(recurse = false): Omit<QueueOptions, "exchange"> & {
    name: string;
    exchange?: Exchange | (ExchangeOptions & { name: string });
  } {
    const { onDeclared: _, ...options } = this.options;
    return {
      ...options,
      name: this.name,
      exchange: recurse ? this.exchange?.asDict() : this.exchange,
      routingKey: this.routingKey,
      durable: this.durable,
      exclusive: this.exclusive,
      autoDelete: this.autoDelete,
      noAck: this.noAck,
      noDeclare: this.noDeclare,
      bindings: [...this.bindings],
    };
  }

  /** Kombu-style text, e.g. `<Queue video -> <Exchange media(direct)> -> video>`. */
  toString(): string {
    return `<Queue ${this.name} -> ${
      this.exchange ?? "<Exchange ''(direct)>"
    } -> ${this.routingKey}>`;
  }
}
