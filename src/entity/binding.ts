/**
 * Bindings of a queue (Kombu's `kombu.entity.binding`).
 *
 * @module
 */

import type { FieldTable } from "../transport.ts";
import type { Exchange } from "./exchange.ts";

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
