/**
 * What the virtual channel checks before it changes its tables, as RabbitMQ and Kombu's virtual
 * channel check it: a redeclaration must be equivalent to the first declaration (406), a passive
 * declaration and a binding need an exchange that exists (404), and a binding must be one the
 * emulated routing can route (406; 255 bytes at most, as any AMQP short string).
 *
 * @module
 */

import { ConfigurationError, NotFoundError, PreconditionFailedError } from "../errors.ts";
import type {
  ExchangeDeclaration,
  ExchangeType,
  FieldTable,
  QueueDeclaration,
} from "../transport.ts";
import { canonicalJson } from "../utils/canonical_json.ts";
import { kombuTopicMatches, type TopicRules } from "./exchange_types.ts";

/** AMQP class and method ids of the methods these checks answer for. */
const EXCHANGE_DECLARE = { classId: 40, methodId: 10 } as const;
const QUEUE_DECLARE = { classId: 50, methodId: 10 } as const;
const QUEUE_BIND = { classId: 50, methodId: 20 } as const;

/** The exchanges every AMQP broker has, by type (they need no declaration). */
const BUILT_IN: ReadonlyMap<string, ExchangeType> = new Map<string, ExchangeType>([
  ["", "direct"],
  ["amq.direct", "direct"],
  ["amq.fanout", "fanout"],
  ["amq.topic", "topic"],
  ["amq.headers", "headers"],
  ["amq.match", "headers"],
]);

/**
 * The type of a built-in exchange (`""` and the `amq.*` exchanges of AMQP 0-9-1).
 *
 * @param name the exchange's name
 * @returns its type, or `undefined` when the name is not a built-in exchange
 */
export function builtInExchangeType(name: string): ExchangeType | undefined {
  return BUILT_IN.get(name);
}

/** The first field where two declarations differ, as `field: now vs before`. */
function firstDifference(
  fields: ReadonlyArray<readonly [name: string, before: unknown, now: unknown]>,
): string | undefined {
  for (const [name, before, now] of fields) {
    const a = canonicalJson(before);
    const b = canonicalJson(now);
    if (a !== b) return `inequivalent "${name}": received ${b}, current is ${a}`;
  }
  return undefined;
}

/**
 * Refuses an exchange redeclaration that is not equivalent to the first one. Compares what
 * Kombu's `ExchangeType.equivalent` compares (type, durable, auto-delete, all arguments) and
 * RabbitMQ's `internal` flag; RabbitMQ compares only `alternate-exchange` among the arguments.
 *
 * @param before the declaration this scope holds
 * @param now the new declaration
 * @throws {PreconditionFailedError} with reply code 406 when they differ
 */
export function assertExchangeEquivalent(
  before: ExchangeDeclaration,
  now: ExchangeDeclaration,
): void {
  const difference = firstDifference([
    ["type", before.type, now.type],
    ["durable", before.durable ?? false, now.durable ?? false],
    ["autoDelete", before.autoDelete ?? false, now.autoDelete ?? false],
    ["internal", before.internal ?? false, now.internal ?? false],
    ["arguments", before.arguments ?? {}, now.arguments ?? {}],
  ]);
  if (difference === undefined) return;
  throw new PreconditionFailedError(
    `Cannot declare exchange "${now.name}": it exists with other settings (${difference})`,
    { replyCode: 406, ...EXCHANGE_DECLARE },
  );
}

/** The `x-` arguments of a queue: the ones RabbitMQ compares on a redeclaration. */
function xArguments(args: FieldTable | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in args ?? {}) if (key.startsWith("x-")) out[key] = args![key];
  return out;
}

/**
 * Refuses a queue redeclaration that is not equivalent to the first one, as RabbitMQ does:
 * durable, exclusive, auto-delete and the `x-` arguments must match (other arguments are not
 * compared).
 *
 * @param before the declaration this scope holds
 * @param now the new declaration
 * @throws {PreconditionFailedError} with reply code 406 when they differ
 */
export function assertQueueEquivalent(before: QueueDeclaration, now: QueueDeclaration): void {
  const difference = firstDifference([
    ["durable", before.durable ?? false, now.durable ?? false],
    ["exclusive", before.exclusive ?? false, now.exclusive ?? false],
    ["autoDelete", before.autoDelete ?? false, now.autoDelete ?? false],
    ["arguments", xArguments(before.arguments), xArguments(now.arguments)],
  ]);
  if (difference === undefined) return;
  throw new PreconditionFailedError(
    `Cannot declare queue "${now.name}": it exists with other settings (${difference})`,
    { replyCode: 406, ...QUEUE_DECLARE },
  );
}

/**
 * The error of a passive declaration of an exchange nobody declared.
 *
 * @param name the exchange's name
 * @returns a {@link NotFoundError} with reply code 404
 */
export function noSuchExchange(name: string): NotFoundError {
  return new NotFoundError(`Cannot declare exchange "${name}" passively: no such exchange`, {
    replyCode: 404,
    ...EXCHANGE_DECLARE,
  });
}

/**
 * The error of a binding to an exchange or queue that does not exist.
 *
 * @param queue the queue to bind
 * @param what `exchange` or `queue`: which one is missing
 * @param name its name
 * @returns a {@link NotFoundError} with reply code 404
 */
export function cannotBindMissing(
  queue: string,
  what: "exchange" | "queue",
  name: string,
): NotFoundError {
  return new NotFoundError(`Cannot bind queue "${queue}": no such ${what} "${name}"`, {
    replyCode: 404,
    ...QUEUE_BIND,
  });
}

/**
 * The error of a passive declaration of a queue the store does not have.
 *
 * @param name the queue's name
 * @returns a {@link NotFoundError} with reply code 404
 */
export function noSuchQueue(name: string): NotFoundError {
  return new NotFoundError(`Cannot declare queue "${name}" passively: no such queue`, {
    replyCode: 404,
    ...QUEUE_DECLARE,
  });
}

/**
 * The error of a conditional queue deletion whose condition does not hold.
 *
 * @param queue the queue's name
 * @param refusal why (`it is not empty`, `it has consumers`)
 * @returns a {@link PreconditionFailedError} with reply code 406
 */
export function cannotDeleteQueue(queue: string, refusal: string): PreconditionFailedError {
  return new PreconditionFailedError(`Cannot delete queue "${queue}": ${refusal}`, {
    replyCode: 406,
    classId: 50,
    methodId: 40,
  });
}

const X_MATCH = new Set(["all", "any", "all-with-x", "any-with-x"]);
const utf8 = new TextEncoder();

/**
 * Refuses a binding the emulated routing cannot route: a key longer than an AMQP short string
 * (255 UTF-8 bytes; the AMQP client refuses it too), a headers binding whose `x-match` is not
 * `all`, `any`, `all-with-x` or `any-with-x` (RabbitMQ: 406), and, under Kombu's topic rules, a
 * topic key whose Kombu regex does not compile (Python Kombu fails every publish to the exchange
 * then).
 *
 * @param queue the queue to bind (for the message)
 * @param type the exchange's type
 * @param routingKey the binding key
 * @param args the binding arguments
 * @param topicRules how topic keys match
 * @throws {ConfigurationError} for a key over 255 bytes
 * @throws {PreconditionFailedError} with reply code 406 for the other cases
 */
export function assertRoutableBinding(
  queue: string,
  type: ExchangeType,
  routingKey: string,
  args: FieldTable | undefined,
  topicRules: TopicRules,
): void {
  const bytes = utf8.encode(routingKey).length;
  if (bytes > 255) {
    throw new ConfigurationError(
      `Cannot bind queue "${queue}": the binding key is ${bytes} bytes long, ` +
        "longer than an AMQP short string (255)",
    );
  }
  let refusal: string | undefined;
  if (type === "headers" && args && Object.hasOwn(args, "x-match")) {
    const mode = args["x-match"];
    if (typeof mode !== "string" || !X_MATCH.has(mode)) {
      refusal = `invalid x-match ${
        JSON.stringify(typeof mode === "bigint" ? String(mode) : mode)
      }; expected all, any, all-with-x or any-with-x`;
    }
  } else if (type === "topic" && topicRules === "kombu") {
    try {
      kombuTopicMatches(routingKey, "");
    } catch (error) {
      refusal = error instanceof Error ? error.message : String(error);
    }
  }
  if (refusal === undefined) return;
  throw new PreconditionFailedError(`Cannot bind queue "${queue}": ${refusal}`, {
    replyCode: 406,
    ...QUEUE_BIND,
  });
}
