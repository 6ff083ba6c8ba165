/**
 * The options every virtual transport reads (Kombu's `kombu.transport.virtual` options and
 * wakame's own), declared once; each virtual transport's declaration spreads them.
 *
 * @module
 */

import { CONNECT_RETRY_OPTIONS } from "../options/common.ts";
import { declareOptions, type OptionSpec } from "../options/declare.ts";

/** The options of the virtual base, by camelCase name. */
export const VIRTUAL_OPTIONS = {
  pollingInterval: {
    kind: "duration",
    default: 1000,
    min: 0,
    doc: "Wait between polls when the store cannot block",
  },
  batchSize: {
    kind: "integer",
    default: 100,
    min: 1,
    own: true,
    doc: "Most messages fetched in one round",
  },
  topicRules: {
    kind: "enum",
    values: ["amqp", "kombu"],
    default: "amqp",
    own: true,
    doc: "Topic matching: RabbitMQ's rules, or Kombu 5.2's regexes (stores shared with Python)",
  },
  queueOrderStrategy: {
    kind: "enum",
    values: ["round_robin", "priority", "sorted"],
    default: "round_robin",
    doc: "The order in which a consumer of several queues visits them",
  },
  onWarning: {
    kind: "function",
    own: true,
    doc: "Called with (message, error) for each failure the store survived",
  },
  bodyEncoding: {
    kind: "string",
    ignored: true,
    doc: "Ignored: wakame writes Kombu's default (base64) and reads every encoding",
  },
  deadletterQueue: {
    kind: "string",
    ignored: true,
    doc: "Ignored: unroutable restored messages go to Kombu's default, `ae.undeliver`",
  },
  ...CONNECT_RETRY_OPTIONS,
} as const satisfies Record<string, OptionSpec>;

/** The virtual base's own declaration, for transports that declare nothing themselves. */
export const VIRTUAL_DECLARATION = declareOptions("virtual transport", VIRTUAL_OPTIONS);

/**
 * The virtual options with another default polling interval (a transport whose store is
 * cheap to poll, such as the filesystem, polls more often).
 *
 * @param pollingInterval the default in ms
 * @returns the options
 */
export function virtualOptionsPolling(pollingInterval: number): typeof VIRTUAL_OPTIONS {
  return {
    ...VIRTUAL_OPTIONS,
    pollingInterval: { ...VIRTUAL_OPTIONS.pollingInterval, default: pollingInterval },
  } as typeof VIRTUAL_OPTIONS;
}
