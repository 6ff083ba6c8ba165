/**
 * Sending a task: Celery's routing (`task_routes`, the default queue `celery`, the anonymous
 * exchange for direct queues) and the options of `sendTask`, and a signature dict turned back
 * into those options (what `Signature.apply_async` does).
 *
 * @module
 */

import { Exchange, globMatch, Queue } from "../mod.ts";
import type { Signature } from "./canvas.ts";
import { parseTime, type SignatureDict } from "./protocol.ts";

/** Options of {@link Celery.sendTask} (Celery's `send_task` keywords; durations in ms). */
export interface SendTaskOptions {
  /** Positional arguments. */
  args?: unknown[];
  /** Keyword arguments. */
  kwargs?: Record<string, unknown>;
  /** The task id (default: a new uuid4). */
  taskId?: string;
  /** Run after this many ms (Celery's `countdown` is in seconds). */
  countdown?: number;
  /** Run no earlier than this (a Date or ms since the epoch). */
  eta?: Date | number;
  /** Discard the task if not started by then: ms from now, or a Date. */
  expires?: number | Date;
  /** Message priority. */
  priority?: number;
  /** Queue name (declared as Celery does: durable, a direct exchange of the same name). */
  queue?: string;
  /** Exchange name (with `routingKey`). */
  exchange?: string;
  /** Routing key. */
  routingKey?: string;
  /** Extra message headers. */
  headers?: Record<string, unknown>;
  /** The retry count to send (`retries` header). */
  retries?: number;
  /** Hard time limit in ms. */
  timeLimit?: number;
  /** Soft time limit in ms. */
  softTimeLimit?: number;
  /** Ask the worker not to store the result. */
  ignoreResult?: boolean;
  /** Callbacks run with the result (`link`). */
  link?: Signature | Signature[] | SignatureDict[];
  /** Errbacks run with the task id on failure (`link_error`). */
  linkError?: Signature | Signature[] | SignatureDict[];
  /** The rest of a chain, last step first (as Celery's `chain=`). */
  chain?: SignatureDict[];
  /** The chord body this task is a header of. */
  chord?: SignatureDict;
  /** Group id and index. */
  groupId?: string;
  /** Position in the group. */
  groupIndex?: number;
  /** The parent task id. */
  parentId?: string;
  /** The root task id. */
  rootId?: string;
  /** Name to show instead of the task name. */
  shadow?: string;
  /** `reply_to` (default: the app's reply queue). */
  replyTo?: string;
  /** 1 (transient) or 2 (persistent, default). */
  deliveryMode?: 1 | 2;
}

/** Where a task goes. */
export interface Route {
  /** Queue name. */
  queue?: string;
  /** Exchange name. */
  exchange?: string;
  /** Routing key. */
  routingKey?: string;
  /** Priority. */
  priority?: number;
}

/** Celery's `task_routes`: glob patterns to routes, or a function (first answer wins). */
export type TaskRoutes =
  | Record<string, Route>
  | ((name: string, args: unknown[], kwargs: Record<string, unknown>) => Route | undefined);

/** Where to publish: exchange, routing key, and what to declare first. */
export interface Destination {
  /** Exchange name (`""`: the default exchange). */
  exchange: string;
  /** Routing key. */
  routingKey: string;
  /** Entities to declare. */
  declare: Queue[];
  /** The queue name, when there is one. */
  queue: string | undefined;
}

/**
 * The queue Celery declares for a name (`task_create_missing_queues`): durable, bound to a
 * durable direct exchange of the same name with the name as routing key.
 *
 * @param name the queue name
 * @param options `x-max-priority`, other queue arguments, the exchange type
 * @returns the queue
 */
export function celeryQueue(
  name: string,
  options: {
    maxPriority?: number;
    queueArguments?: Record<string, unknown>;
    exchangeType?: "direct" | "topic";
  } = {},
): Queue {
  return new Queue(name, {
    exchange: new Exchange(name, { type: options.exchangeType ?? "direct" }),
    routingKey: name,
    ...(options.maxPriority !== undefined ? { maxPriority: options.maxPriority } : {}),
    ...(options.queueArguments ? { queueArguments: options.queueArguments as never } : {}),
  });
}

/**
 * Looks up a route in `task_routes`.
 *
 * @param routes the routes
 * @param name the task name
 * @param args positional arguments
 * @param kwargs keyword arguments
 * @returns the route, if one matches
 */
export function findRoute(
  routes: TaskRoutes | undefined,
  name: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
): Route | undefined {
  if (routes === undefined) return undefined;
  if (typeof routes === "function") return routes(name, args, kwargs);
  if (routes[name]) return routes[name];
  for (const [pattern, route] of Object.entries(routes)) {
    if (globMatch(name, pattern)) return route;
  }
  return undefined;
}

/**
 * Celery's `send_task_message` routing: a queue with its direct exchange goes through the
 * default exchange with the queue name as routing key; an explicit exchange and routing key
 * are used as given.
 *
 * @param options the send options (already merged with the route)
 * @param defaultQueue the app's default queue name
 * @param makeQueue how the app declares a queue
 * @returns the destination
 */
export function destination(
  options: Pick<SendTaskOptions, "queue" | "exchange" | "routingKey">,
  defaultQueue: string,
  makeQueue: (name: string) => Queue,
): Destination {
  const queueName = options.queue ?? (options.exchange === undefined ? defaultQueue : undefined);
  const queue = queueName === undefined ? undefined : makeQueue(queueName);
  if (!options.exchange || !options.routingKey) {
    if (queueName !== undefined) {
      return {
        exchange: "",
        routingKey: queueName,
        declare: queue ? [queue] : [],
        queue: queueName,
      };
    }
  }
  return {
    exchange: options.exchange ?? "",
    routingKey: options.routingKey ?? queueName ?? "",
    declare: queue ? [queue] : [],
    queue: queueName,
  };
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

/**
 * A signature dict's options as `sendTask` options (Celery's `apply_async(args, **options)`):
 * `args` are put in front of the signature's own unless it is immutable.
 *
 * @param sig the signature dict
 * @param extra what the caller adds: args in front, chain, parent and root ids
 * @returns the task name and the options
 */
export function signatureCall(
  sig: SignatureDict,
  extra: { args?: unknown[]; chain?: SignatureDict[] | null; parentId?: string; rootId?: string },
): { name: string; options: SendTaskOptions } {
  const o = sig.options ?? {};
  const args = sig.immutable ? [...(sig.args ?? [])] : [...(extra.args ?? []), ...(sig.args ?? [])];
  const seconds = (v: unknown) => (typeof v === "number" ? v * 1000 : undefined);
  const expires = typeof o.expires === "string"
    ? new Date(parseTime(o.expires)!)
    : seconds(o.expires);
  const options: SendTaskOptions = {
    args,
    kwargs: { ...(sig.kwargs ?? {}) },
    taskId: str(o.task_id),
    replyTo: str(o.reply_to),
    queue: typeof o.queue === "string" ? o.queue : undefined,
    exchange: str(o.exchange),
    routingKey: str(o.routing_key),
    priority: num(o.priority),
    countdown: seconds(o.countdown),
    eta: typeof o.eta === "string" ? parseTime(o.eta) : undefined,
    expires,
    timeLimit: seconds(o.time_limit),
    softTimeLimit: seconds(o.soft_time_limit),
    link: Array.isArray(o.link) ? o.link as SignatureDict[] : undefined,
    linkError: Array.isArray(o.link_error) ? o.link_error as SignatureDict[] : undefined,
    chord: o.chord && typeof o.chord === "object" ? o.chord as SignatureDict : undefined,
    groupId: str(o.group_id),
    groupIndex: num(o.group_index),
    parentId: extra.parentId ?? str(o.parent_id),
    rootId: extra.rootId ?? str(o.root_id),
    shadow: str(o.shadow),
    chain: extra.chain && extra.chain.length > 0 ? extra.chain : undefined,
    ignoreResult: o.ignore_result === true ? true : undefined,
  };
  return { name: sig.task, options };
}
