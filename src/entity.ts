/**
 * Exchanges, queues and bindings (Kombu's `kombu.entity`).
 *
 * Entities are plain descriptions until bound to a channel: `exchange.bind(channel)` returns a
 * bound copy whose `declare()`, `publish()`-side and queue methods talk to the broker.
 *
 * @module
 */

export { binding, type BindingSpec } from "./entity/binding.ts";
export {
  type Declarable,
  type DeclarationCache,
  maybeDeclare,
  type MaybeDeclareOptions,
} from "./entity/declare.ts";
export { Exchange, type ExchangeOptions, isReservedExchange } from "./entity/exchange.ts";
export { Queue, type QueueOptions } from "./entity/queue.ts";
