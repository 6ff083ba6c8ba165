/**
 * What RabbitMQ offers, whichever client speaks to it: the native AMQP transport and the
 * amqplib fallback share this one Capabilities object.
 *
 * @module
 */

import type { Capabilities, Transport } from "../src/transport.ts";

/** RabbitMQ's capabilities: all of them (it is the reference broker). */
export const RABBITMQ_CAPABILITIES: Capabilities = Object.freeze({
  exchangeTypes: Object.freeze(["direct", "topic", "fanout", "headers"] as const),
  priority: "native",
  messageTtl: true,
  queueArguments: true,
  redeliveredFlag: true,
  confirms: true,
  mandatory: true,
  heartbeats: true,
  persistent: true,
  exclusive: true,
  exchangeBindings: true,
  crossProcess: true,
  fifo: true,
  queueEquivalence: true,
});

/**
 * What both RabbitMQ clients use when the URL gives no user, password or virtual host (Kombu's
 * `default_connection_params` of its AMQP transports).
 */
export const RABBITMQ_DEFAULT_PARAMS: Transport["defaultConnectionParams"] = Object.freeze({
  userid: "guest",
  password: "guest",
  virtualHost: "/",
});
