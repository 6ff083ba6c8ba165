/**
 * Canvas (Celery's `celery.canvas`): signatures, chains, groups and chords, as Celery encodes
 * them, so that Python and TypeScript workers run the rest of the work.
 *
 * On the wire a signature is a dict `{"task", "args", "kwargs", "options", "subtask_type",
 * "immutable", "chord_size"}`. A chain sends its first task with the rest in the message's
 * `embed.chain`, last step first (the worker pops the next one from the end); `link` /
 * `link_error` become `embed.callbacks` / `embed.errbacks`; a chord sends its header as a group
 * whose tasks carry the body in `embed.chord` (Celery's chords need a result backend that
 * counts, such as redis://, and a worker that does: see the README).
 *
 * @module
 */

import { uuid } from "../mod.ts";
import type { SignatureDict } from "./protocol.ts";

/** Options of a signature (Celery's `options`, in camelCase; durations in ms). */
export interface SignatureOptions {
  /** The task id to use (default: a new uuid4, fixed when the signature is frozen). */
  taskId?: string;
  /** Queue to route to. */
  queue?: string;
  /** Exchange to publish to. */
  exchange?: string;
  /** Routing key. */
  routingKey?: string;
  /** Priority. */
  priority?: number;
  /** Run after this many ms. */
  countdown?: number;
  /** Discard after this many ms (or at this time). */
  expires?: number | Date;
  /** Hard time limit in ms. */
  timeLimit?: number;
  /** Soft time limit in ms. */
  softTimeLimit?: number;
  /** Do not put the parent's result in front of the args. */
  immutable?: boolean;
}

/** A task call to make later (Celery's `Signature`). */
export class Signature {
  /** The task name. */
  readonly task: string;
  /** Positional arguments. */
  readonly args: unknown[];
  /** Keyword arguments. */
  readonly kwargs: Record<string, unknown>;
  /** Options in Celery's wire names (`task_id`, `queue`, `link`...). */
  readonly options: Record<string, unknown>;
  /** Do not put the parent's result in front of `args`. */
  immutable: boolean;

  /**
   * Makes a signature.
   *
   * @param task the task name
   * @param args positional arguments
   * @param kwargs keyword arguments
   * @param options routing, limits, id
   */
  constructor(
    task: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: SignatureOptions = {},
  ) {
    this.task = task;
    this.args = args;
    this.kwargs = kwargs;
    this.immutable = options.immutable ?? false;
    this.options = {};
    const o = this.options;
    if (options.taskId) o.task_id = options.taskId;
    if (options.queue) o.queue = options.queue;
    if (options.exchange) o.exchange = options.exchange;
    if (options.routingKey) o.routing_key = options.routingKey;
    if (options.priority !== undefined) o.priority = options.priority;
    if (options.countdown !== undefined) o.countdown = options.countdown / 1000;
    if (options.expires instanceof Date) o.expires = options.expires.toISOString();
    else if (options.expires !== undefined) o.expires = options.expires / 1000;
    if (options.timeLimit !== undefined) o.time_limit = options.timeLimit / 1000;
    if (options.softTimeLimit !== undefined) o.soft_time_limit = options.softTimeLimit / 1000;
  }

  /** The task id, fixing one when there is none yet (Celery's `freeze`). */
  get id(): string {
    return (this.options.task_id ??= uuid()) as string;
  }

  /**
   * Adds a callback run with this task's result (Celery's `link`).
   *
   * @param callback the signature to run
   * @returns this signature
   */
  link(callback: Signature): this {
    ((this.options.link ??= []) as SignatureDict[]).push(callback.toDict());
    return this;
  }

  /**
   * Adds an errback run with this task's id when it fails (Celery's `link_error`).
   *
   * @param errback the signature to run
   * @returns this signature
   */
  linkError(errback: Signature): this {
    ((this.options.link_error ??= []) as SignatureDict[]).push(errback.toDict());
    return this;
  }

  /** The signature as Celery writes it. */
  toDict(): SignatureDict {
    return {
      task: this.task,
      args: this.args,
      kwargs: this.kwargs,
      options: { ...this.options },
      subtask_type: null,
      immutable: this.immutable,
    };
  }

  /**
   * Reads a signature dict (from a message or `JSON.parse`).
   *
   * @param dict the wire form
   * @returns the signature
   */
  static fromDict(dict: SignatureDict): Signature {
    const sig = new Signature(dict.task, dict.args ?? [], dict.kwargs ?? {});
    Object.assign(sig.options, dict.options ?? {});
    sig.immutable = dict.immutable === true;
    return sig;
  }
}

/**
 * Makes a signature (Celery's `signature(name, args, kwargs, **options)`).
 *
 * @param task the task name
 * @param call args, kwargs and options
 * @returns the signature
 */
export function signature(
  task: string,
  call: { args?: unknown[]; kwargs?: Record<string, unknown> } & SignatureOptions = {},
): Signature {
  const { args, kwargs, ...options } = call;
  return new Signature(task, args, kwargs, options);
}

/** Steps run one after the other, each given the previous result (Celery's `chain`). */
export class Chain {
  /** The steps in order. */
  readonly tasks: Signature[];

  /**
   * Makes a chain.
   *
   * @param tasks the steps
   */
  constructor(tasks: Signature[]) {
    if (tasks.length === 0) throw new TypeError("Cannot make an empty chain");
    this.tasks = tasks;
  }
}

/** Tasks run in parallel (Celery's `group`). */
export class Group {
  /** The tasks. */
  readonly tasks: Signature[];
  /** The group id (fixed at creation). */
  readonly id: string;

  /**
   * Makes a group.
   *
   * @param tasks the tasks
   * @param id the group id (default: a new uuid4)
   */
  constructor(tasks: Signature[], id: string = uuid()) {
    this.tasks = tasks;
    this.id = id;
  }
}

/** A group whose results are given to a body task once all are done (Celery's `chord`). */
export class Chord {
  /** The header tasks. */
  readonly header: Group;
  /** The body, called with the list of results. */
  readonly body: Signature;

  /**
   * Makes a chord.
   *
   * @param header the tasks
   * @param body the callback
   */
  constructor(header: Signature[] | Group, body: Signature) {
    this.header = header instanceof Group ? header : new Group(header);
    this.body = body;
  }
}

/**
 * Makes a chain (Celery's `chain(a, b, c)`).
 *
 * @param tasks the steps
 * @returns the chain
 */
export function chain(...tasks: Signature[]): Chain {
  return new Chain(tasks);
}

/**
 * Makes a group (Celery's `group(a, b)`).
 *
 * @param tasks the tasks
 * @returns the group
 */
export function group(...tasks: Signature[]): Group {
  return new Group(tasks);
}

/**
 * Makes a chord (Celery's `chord([a, b], c)`).
 *
 * @param header the tasks run in parallel
 * @param body the task given their results
 * @returns the chord
 */
export function chord(header: Signature[], body: Signature): Chord {
  return new Chord(header, body);
}
