/**
 * Native delayed delivery on RabbitMQ (Celery 5.5, `kombu.transport.native_delayed_delivery`):
 * a task with a countdown waits in the broker, not in a worker. 28 levels: level `n` is a topic
 * exchange `celery_delayed_<n>` and a quorum queue of the same name whose messages live 2ⁿ s
 * and then dead-letter to level `n-1` (level 0: to the topic exchange
 * `celery_delayed_delivery`). The routing key is the delay in whole seconds as 28 binary digits
 * joined by dots, then the real routing key (`0.0.….1.0.1.celery`): each level's queue takes
 * the messages whose bit `n` is 1 (`*.…1.#`), the others pass on at once to the next level by
 * an exchange binding. At the end `celery_delayed_delivery` routes `#.<key>` to the
 * destination's exchange, which must be a topic exchange (Celery warns and skips direct ones).
 *
 * @module
 */

import { type Channel, ConfigurationError, type Connection } from "../mod.ts";
import type { Destination } from "./send.ts";

/** Bits of the delay (Kombu's `MAX_NUMBER_OF_BITS_TO_USE`): up to 2²⁸ − 1 s, about 8.5 years. */
export const DELAY_BITS = 28;

/** The exchange that delivers due messages (Kombu's `CELERY_DELAYED_DELIVERY_EXCHANGE`). */
export const DELAYED_DELIVERY_EXCHANGE = "celery_delayed_delivery";

/**
 * The name of a level's exchange and queue.
 *
 * @param level 0..27
 * @returns `celery_delayed_<level>`
 */
export function levelName(level: number): string {
  return `celery_delayed_${level}`;
}

const PREFIX = new RegExp(`^(?:[01]\\.){${DELAY_BITS}}`);

/**
 * Kombu's `calculate_routing_key`: the delay's 28 bits joined by dots, then the routing key
 * (an existing delay prefix is removed first).
 *
 * @param countdown whole seconds, at least 1
 * @param routingKey the destination's routing key
 * @returns the routing key to publish to `celery_delayed_27` with
 * @throws {RangeError} when the countdown is below 1 s or the routing key is empty
 */
export function delayedRoutingKey(countdown: number, routingKey: string): string {
  if (!(countdown >= 1)) throw new RangeError("countdown must be a positive number");
  if (!routingKey) throw new RangeError("routing_key must be non-empty");
  const bits = Math.floor(countdown).toString(2).padStart(DELAY_BITS, "0");
  return `${bits.split("").join(".")}.${routingKey.replace(PREFIX, "")}`;
}

/** What this app has declared of the delay topology (once per app). */
export class DelayedTopology {
  /** The level exchanges and queues are declared. */
  levels: Promise<void> | undefined;
  /** Queues already bound to the delivery exchange. */
  readonly bound: Set<string> = new Set();
}

/**
 * Declares the 28 levels and the delivery exchange (Kombu's
 * `declare_native_delayed_delivery_exchanges_and_queues`).
 *
 * @param channel a channel of an AMQP connection
 * @param queueType `quorum` (Celery's) or `classic`
 */
export async function declareLevels(channel: Channel, queueType = "quorum"): Promise<void> {
  if (!channel.exchangeBind) {
    throw new ConfigurationError("Native delayed delivery needs exchange bindings (RabbitMQ)");
  }
  let key = "1.#";
  for (let level = DELAY_BITS - 1; level >= 0; level--) {
    const name = levelName(level);
    await channel.exchangeDeclare({ name, type: "topic", durable: true });
    const args: Record<string, string | number> = {
      "x-queue-type": queueType,
      "x-overflow": "reject-publish",
      "x-message-ttl": 2 ** level * 1000,
      "x-dead-letter-exchange": level > 0 ? levelName(level - 1) : DELAYED_DELIVERY_EXCHANGE,
    };
    if (queueType === "quorum") args["x-dead-letter-strategy"] = "at-least-once";
    await channel.queueDeclare({ name, durable: true, arguments: args });
    await channel.queueBind(name, name, key);
    key = `*.${key}`;
  }
  key = "0.#";
  for (let level = DELAY_BITS - 1; level > 0; level--) {
    await channel.exchangeBind(levelName(level - 1), levelName(level), key);
    key = `*.${key}`;
  }
  await channel.exchangeDeclare({ name: DELAYED_DELIVERY_EXCHANGE, type: "topic", durable: true });
  await channel.exchangeBind(DELAYED_DELIVERY_EXCHANGE, levelName(0), key);
}

/**
 * Kombu's `bind_queue_to_native_delayed_delivery_exchange`: the queue's (topic) exchange gets
 * what the delivery exchange routes with `#.<key>`, and the queue takes `#.<key>` from it.
 *
 * @param channel a channel
 * @param queue the queue name
 * @param exchange its topic exchange
 * @param routingKey its routing key
 */
export async function bindForDelayedDelivery(
  channel: Channel,
  queue: string,
  exchange: string,
  routingKey: string,
): Promise<void> {
  const key = routingKey.startsWith("#") ? routingKey : `#.${routingKey}`;
  await channel.exchangeBind!(exchange, DELAYED_DELIVERY_EXCHANGE, key);
  await channel.queueBind(queue, exchange, key);
}

/**
 * Where a delayed task goes instead: `celery_delayed_27` with the delay in the routing key,
 * after declaring the levels (once) and binding the destination queue (once per queue).
 *
 * @param connection the broker connection (RabbitMQ)
 * @param topology what is declared already
 * @param to the task's normal destination (a queue whose exchange is a topic exchange)
 * @param delayMs the delay in ms (rounded down to whole seconds, as Celery's `int(countdown)`)
 * @returns the destination to publish to
 */
export async function delayedDestination(
  connection: Connection,
  topology: DelayedTopology,
  to: Destination,
  delayMs: number,
): Promise<Destination> {
  const seconds = Math.floor(delayMs / 1000);
  if (seconds < 1 || to.queue === undefined) return to;
  const queue = to.declare.find((q) => q.name === to.queue);
  const exchange = queue?.exchange;
  if (!queue || !exchange || exchange.type !== "topic") return to;
  const channel = await connection.defaultChannel();
  topology.levels ??= declareLevels(channel);
  await topology.levels;
  if (!topology.bound.has(queue.name)) {
    await queue.declareOn(channel);
    await bindForDelayedDelivery(channel, queue.name, exchange.name, queue.routingKey);
    topology.bound.add(queue.name);
  }
  return {
    exchange: levelName(DELAY_BITS - 1),
    routingKey: delayedRoutingKey(seconds, queue.routingKey),
    declare: [],
    queue: queue.name,
  };
}
