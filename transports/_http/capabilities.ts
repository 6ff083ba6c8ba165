/**
 * What a plain cloud queue (SQS, Azure Storage Queues) offers through the virtual base: one
 * Capabilities object for both, since every value has the same reason.
 *
 * @module
 */

import type { Capabilities } from "../../src/transport.ts";

/**
 * Direct routing only (bindings live in the process, as in Kombu), no priority, TTL or queue
 * arguments, redelivery seen from the service, messages kept by the service, no ordering
 * promise (standard queues), no queue equivalence (each process keeps its own declarations).
 */
export const CLOUD_QUEUE_CAPABILITIES: Capabilities = Object.freeze({
  exchangeTypes: Object.freeze(["direct"] as const),
  priority: "none",
  messageTtl: false,
  queueArguments: false,
  redeliveredFlag: true,
  confirms: false,
  mandatory: true,
  heartbeats: false,
  persistent: true,
  exclusive: false,
  exchangeBindings: false,
  crossProcess: false,
  fifo: false,
  queueEquivalence: false,
});
