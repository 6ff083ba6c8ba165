/**
 * Exchanges (Kombu's `kombu.entity.Exchange`).
 *
 * @module
 */

import { ConfigurationError, NotBoundError } from "../errors.ts";
import type { AnyExchangeType, Channel, ExchangeType, FieldTable } from "../transport.ts";
import { canonicalJson } from "../utils/canonical_json.ts";
import type { Declarable } from "./declare.ts";
import { nameOf } from "./_name_of.ts";

/** Options of an {@link Exchange} (Kombu's keyword arguments in camelCase). */
export interface ExchangeOptions {
  /**
   * `direct` (default), `topic`, `fanout` or `headers`; on AMQP also a broker extension named
   * `x-...` (RabbitMQ's `x-delayed-message`, `x-consistent-hash`, ...).
   */
  type?: AnyExchangeType;
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

const AMQP_TYPES: ReadonlySet<string> = new Set(["direct", "topic", "fanout", "headers"]);

function isAmqpType(type: string): type is ExchangeType {
  return AMQP_TYPES.has(type);
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
  readonly type: AnyExchangeType;
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
   * Describes an exchange; nothing is declared until it is bound to a channel and declared.
   *
   * @param name the exchange name (`""` for the default exchange)
   * @param options type, durability and the rest
   * @throws {ConfigurationError} for a type that is neither one of AMQP's four nor `x-...`
   */
  constructor(name = "", options: ExchangeOptions = {}, channel?: Channel) {
    const type = options.type ?? "direct";
    if (!isAmqpType(type) && !/^x-./.test(type)) {
      throw new ConfigurationError(
        `Cannot make exchange "${name}": unknown type "${type}" (direct, topic, fanout, headers, ` +
          "or a broker extension named x-...)",
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
      canonicalJson([this.type, this.durable, this.autoDelete, this.internal, this.arguments])
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
    const type = this.type;
    if (!isAmqpType(type) && !channel.anyExchangeType) {
      throw new ConfigurationError(
        `Cannot declare exchange "${this.name}" of type "${type}": this transport routes only ` +
          "direct, topic, fanout and headers (types beyond them need a broker that has them, " +
          "such as RabbitMQ with its plugin)",
      );
    }
    await channel.exchangeDeclare({
      name: this.name,
      // A channel with anyExchangeType passes the type to the broker as it is.
      type: type as ExchangeType,
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

  /**
   * True for an exchange with the same name, type, arguments, durability, auto-delete and
   * delivery mode (Kombu's `Exchange.__eq__`); the channel does not count.
   *
   * @param other another exchange
   * @returns whether they describe the same exchange
   */
  equals(other: Exchange | undefined): boolean {
    return other instanceof Exchange && this.name === other.name && this.type === other.type &&
      this.durable === other.durable && this.autoDelete === other.autoDelete &&
      this.deliveryMode === other.deliveryMode &&
      canonicalJson(this.arguments) === canonicalJson(other.arguments);
  }

  /**
   * The exchange as a plain object (Kombu's `as_dict`, in wakame's names):
   * `new Exchange(d.name, d)` makes an equal one.
   *
   * @returns name and options
   */
  asDict(): ExchangeOptions & { name: string } {
    return { name: this.name, ...this.options };
  }

  /** Kombu-style text, e.g. `<Exchange media(direct)>`. */
  toString(): string {
    return `<Exchange ${this.name || "''"}(${this.type})>`;
  }
}
