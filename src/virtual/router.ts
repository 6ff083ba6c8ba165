/**
 * Where a restored message goes (Kombu's `Channel._lookup`): the queues its exchange and routing
 * key reach now, through the same routing as a publish. Stores that restore on their own (Redis's
 * visibility sweep, which knows the exchange and routing key but not the queue) ask it through
 * `BackendContext.route`; no store has a router of its own.
 *
 * @module
 */

import type { ExchangeType, MessageProperties } from "../transport.ts";
import type { Binding, BindingStore } from "./backend.ts";
import { route, type TopicRules } from "./exchange_types.ts";

/** Kombu's dead-letter queue for restores that match no binding (`deadletter_queue`). */
export const DEAD_LETTER_QUEUE = "ae.undeliver";

/**
 * Routes a restored message.
 *
 * @param exchange the exchange it was published to (`""`: the default exchange)
 * @param routingKey its routing key
 * @param properties its properties (headers exchanges read `headers`)
 * @returns the queues, never empty: Kombu's dead-letter queue `ae.undeliver` when nothing matches
 */
export type Router = (
  exchange: string,
  routingKey: string,
  properties?: MessageProperties,
) => Promise<string[]>;

/**
 * The type of an exchange this process never declared, read from its bindings as Kombu stores
 * them: headers arguments mean headers, a Kombu topic pattern means topic, else direct (Kombu's
 * default exchange type).
 */
function inferType(bindings: readonly Binding[]): ExchangeType {
  if (bindings.some((b) => b.arguments !== undefined)) return "headers";
  if (bindings.some((b) => b.pattern)) return "topic";
  return "direct";
}

/**
 * Makes the router of a connection.
 *
 * @param bindings where the bindings live (read when called)
 * @param typeOf the declared type of an exchange, `undefined` when this process never declared it
 * @param topicRules how topic bindings match
 * @param warn told when a message matches nothing and goes to the dead-letter queue
 * @returns the router
 */
export function bindingRouter(
  bindings: () => BindingStore,
  typeOf: (exchange: string) => ExchangeType | undefined,
  topicRules: TopicRules,
  warn: (message: string) => void,
): Router {
  return async (exchange, routingKey, properties = {}) => {
    if (!exchange) return [routingKey || DEAD_LETTER_QUEUE];
    const rows = await bindings().list(exchange);
    const type = typeOf(exchange) ?? inferType(rows);
    const queues = route(type, rows, routingKey, properties, topicRules);
    if (queues.length > 0) return queues;
    warn(
      `Cannot route restored message of exchange "${exchange}" with key "${routingKey}"; ` +
        `it goes to "${DEAD_LETTER_QUEUE}"`,
    );
    return [DEAD_LETTER_QUEUE];
  };
}
