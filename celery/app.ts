/**
 * The Celery app (Celery's `Celery`): configuration, the broker connection, the result backend,
 * `sendTask`, the canvas, the task registry, the worker and remote control.
 *
 * @module
 */

import {
  ConfigurationError,
  Connection,
  type ConnectionOptions,
  type Queue,
  uuid,
} from "../mod.ts";
import type { ResultBackend } from "./backends/base.ts";
import { LazyRedisBackend } from "./backends/lazy.ts";
import { RpcBackend } from "./backends/rpc.ts";
import { Chain, type Chord, Group, Signature } from "./canvas.ts";
import { Control } from "./control.ts";
import { delayedDestination, DelayedTopology } from "./delayed.ts";
import { hostName, processId } from "./host.ts";
import { buildTaskMessage, type SignatureDict } from "./protocol.ts";
import { AsyncResult } from "./result.ts";
import {
  celeryQueue,
  destination,
  findRoute,
  type SendTaskOptions,
  signatureCall,
  type TaskRoutes,
} from "./send.ts";
import type { TaskHandler, TaskOptions } from "./task.ts";
import { CeleryWorker, type CeleryWorkerOptions } from "./worker.ts";

/** Options of a {@link Celery} app (Celery's settings in camelCase; durations in ms). */
export interface CeleryOptions {
  /** Broker URL(s) (Celery's `broker_url`): `amqp://`, `redis://`, `sqs://`... */
  broker?: string | readonly string[];
  /** Result backend URL: `rpc://` or `redis://...`; none: results are not kept. */
  backend?: string;
  /** Options of the broker connection (transport options, failover...). */
  connection?: ConnectionOptions;
  /** The default queue (Celery's `task_default_queue`, `celery`). */
  defaultQueue?: string;
  /** Celery's `task_routes`. */
  taskRoutes?: TaskRoutes;
  /** `x-max-priority` of the queues this app declares (Celery's `task_queue_max_priority`). */
  queueMaxPriority?: number;
  /** Ms results live (Celery's `result_expires`, 1 day); null: forever. */
  resultExpires?: number | null;
  /** Persistent rpc:// replies (Celery's `result_persistent`, false). */
  resultPersistent?: boolean;
  /** The remote-control namespace (Celery's `control_exchange`, `celery`). */
  controlExchange?: string;
  /**
   * Celery 5.5's native delayed delivery on RabbitMQ: a task with a countdown or eta waits in
   * the `celery_delayed_*` quorum queues instead of in a worker. Only for amqp:// brokers.
   */
  delayedDelivery?: boolean;
  /** Transport options of the redis:// result backend's connector. */
  backendTransportOptions?: Record<string, unknown>;
}

/** What `app.apply(...)` returns for a group or chord header. */
export interface GroupResult {
  /** The group id. */
  id: string;
  /** The results of the group's tasks, in order. */
  results: AsyncResult[];
  /** Waits for all; rejects with the first failure. */
  get(options?: { timeout?: number; signal?: AbortSignal }): Promise<unknown[]>;
}

/** A registered task. */
export interface RegisteredTask {
  /** The task name. */
  name: string;
  /** The handler. */
  handler: TaskHandler;
  /** Its options. */
  options: TaskOptions;
}

/**
 * A Celery app: sends tasks and reads their results, registers handlers and runs a worker,
 * wire-compatible with Python Celery 5.
 *
 * @example
 * ```ts ignore
 * import { Celery } from "@wakame/wakame/celery";
 * await using app = new Celery({ broker: "amqp://localhost", backend: "rpc://" });
 * const result = await app.sendTask("tasks.add", { args: [2, 3] });
 * console.log(await result.get({ timeout: 10_000 }));
 * ```
 */
export class Celery implements AsyncDisposable {
  /** The broker connection. */
  readonly connection: Connection;
  /** The result backend, when configured. */
  readonly backend: ResultBackend | undefined;
  /** The registered tasks. */
  readonly tasks: Map<string, RegisteredTask> = new Map();
  /** The app's id: the `reply_to` of its tasks (Celery's `thread_oid`). */
  readonly oid: string;
  /** The options. */
  readonly options: Readonly<CeleryOptions>;
  /** Remote control of workers (Celery's `app.control`). */
  readonly control: Control;
  #delayed: DelayedTopology | undefined;
  #origin: Promise<string> | undefined;
  readonly #declared = new Set<string>();

  /**
   * Makes an app (it connects on first use).
   *
   * @param options broker, backend, routing and defaults
   * @throws {ConfigurationError} for a backend URL it does not know
   */
  constructor(options: CeleryOptions = {}) {
    this.options = options;
    this.connection = new Connection(
      (options.broker ?? "amqp://guest:guest@localhost:5672//") as string | string[],
      options.connection,
    );
    this.oid = uuid();
    this.backend = this.#makeBackend(options.backend);
    this.control = new Control(this);
  }

  #makeBackend(url: string | undefined): ResultBackend | undefined {
    if (url === undefined || url === "" || url === "disabled") return undefined;
    const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
    if (scheme === "rpc") {
      return new RpcBackend(this.connection, {
        oid: this.oid,
        expires: this.options.resultExpires,
        persistent: this.options.resultPersistent,
      });
    }
    if (["redis", "rediss", "redis+socket", "sentinel"].includes(scheme)) {
      return new LazyRedisBackend(url, {
        expires: this.options.resultExpires,
        transportOptions: this.options.backendTransportOptions,
      });
    }
    throw new ConfigurationError(
      `Cannot use the result backend "${scheme}://": wakame has rpc:// and redis://`,
    );
  }

  /** The default queue name. */
  get defaultQueue(): string {
    return this.options.defaultQueue ?? "celery";
  }

  /**
   * The queue this app declares for a name (durable, a direct exchange of the same name).
   *
   * @param name the queue name
   * @returns the queue
   */
  queue(name: string): Queue {
    // Celery 5.5's native delayed delivery needs quorum queues behind topic exchanges.
    return celeryQueue(name, {
      maxPriority: this.options.queueMaxPriority,
      ...(this.options.delayedDelivery
        ? { exchangeType: "topic", queueArguments: { "x-queue-type": "quorum" } }
        : {}),
    });
  }

  /** `gen<pid>@<host>`, as Celery's `anon_nodename()`. */
  origin(): Promise<string> {
    return this.#origin ??= hostName().then((host) => `gen${processId()}@${host}`);
  }

  /**
   * Sends a task by name (Celery's `send_task`), in Celery's message protocol 2.
   *
   * @param name the task name
   * @param options arguments, routing, timing, limits, callbacks
   * @returns the result handle
   * @throws {ConnectionError} when the broker cannot be reached
   */
  async sendTask(name: string, options: SendTaskOptions = {}): Promise<AsyncResult> {
    const id = options.taskId ?? uuid();
    const args = options.args ?? [];
    const kwargs = options.kwargs ?? {};
    if (!Array.isArray(args)) throw new TypeError("task args must be an array");
    const route = findRoute(this.options.taskRoutes, name, args, kwargs) ?? {};
    const merged = { ...route, ...stripUndefined(options) };
    const replyTo = options.replyTo ?? (await this.backend?.prepare(id)) ?? this.oid;
    const now = Date.now();
    const eta = options.eta instanceof Date
      ? options.eta.getTime()
      : options.eta ?? (options.countdown ? now + options.countdown : undefined);
    const expires = options.expires instanceof Date
      ? options.expires.getTime()
      : options.expires === undefined
      ? undefined
      : now + options.expires;
    const message = buildTaskMessage({
      id,
      name,
      args,
      kwargs,
      eta,
      expires,
      groupId: options.groupId,
      groupIndex: options.groupIndex,
      retries: options.retries,
      timeLimit: options.timeLimit,
      softTimeLimit: options.softTimeLimit,
      rootId: options.rootId,
      parentId: options.parentId,
      shadow: options.shadow,
      origin: await this.origin(),
      ignoreResult: options.ignoreResult,
      replyTo,
      embed: {
        callbacks: dicts(options.link),
        errbacks: dicts(options.linkError),
        chain: options.chain ?? null,
        chord: options.chord ?? null,
      },
    });
    let to = destination(merged, this.defaultQueue, (q) => this.queue(q));
    if (this.options.delayedDelivery && eta !== undefined && eta > now) {
      this.#delayed ??= new DelayedTopology();
      to = await delayedDestination(this.connection, this.#delayed, to, eta - now);
    }
    const declare = to.declare.filter((q) => !this.#declared.has(q.name));
    await this.connection.producer().publish(message.body, {
      exchange: to.exchange,
      routingKey: to.routingKey,
      declare,
      headers: { ...message.headers, ...(options.headers as Record<string, never>) },
      correlationId: message.correlationId,
      replyTo: message.replyTo,
      priority: merged.priority,
      // Celery 5.2's send_task sets the message TTL to the time left before `expires`.
      ...(expires === undefined ? {} : { expiration: Math.max(0, expires - now) }),
      deliveryMode: options.deliveryMode ?? 2,
      serializer: "json",
      retry: true,
    });
    for (const q of declare) this.#declared.add(q.name);
    return new AsyncResult(id, this.backend);
  }

  /**
   * Sends a signature dict as Celery's `Signature.apply_async(args, chain=..., parent_id=...)`.
   *
   * @param sig the signature dict
   * @param extra args put in front, the rest of a chain, parent and root ids
   * @returns the result handle
   */
  sendSignature(
    sig: SignatureDict,
    extra: {
      args?: unknown[];
      chain?: SignatureDict[] | null;
      parentId?: string;
      rootId?: string;
    } = {},
  ): Promise<AsyncResult> {
    const { name, options } = signatureCall(sig, extra);
    return this.sendTask(name, options);
  }

  /**
   * A handle on a task's result (Celery's `AsyncResult(id)`).
   *
   * @param id the task id
   * @returns the handle
   */
  asyncResult(id: string): AsyncResult {
    return new AsyncResult(id, this.backend);
  }

  /**
   * Sends a signature, chain, group or chord (Celery's `apply_async`).
   *
   * @param work what to send
   * @returns the last task's result (signature, chain), or the group's results (group, chord:
   *   the chord's result is the body's, see `chordResult`)
   */
  async apply(work: Signature): Promise<AsyncResult>;
  /** Sends a chain's first step with the rest embedded; returns the last step's result. */
  async apply(work: Chain): Promise<AsyncResult>;
  /** Sends a group's tasks; returns their results. */
  async apply(work: Group): Promise<GroupResult>;
  /** Sends a chord (redis:// backend); returns the body's result. */
  async apply(work: Chord): Promise<AsyncResult>;
  async apply(work: Signature | Chain | Group | Chord): Promise<AsyncResult | GroupResult> {
    if (work instanceof Signature) return await this.sendSignature(this.#freeze(work));
    if (work instanceof Chain) {
      const steps = work.tasks.map((s) => this.#freeze(s));
      const rootId = steps[0].options.task_id as string;
      for (const s of steps) s.options.root_id = rootId;
      const [first, ...rest] = steps;
      await this.sendSignature(first, { chain: rest.reverse(), rootId });
      return this.asyncResult(steps[steps.length - 1].options.task_id as string);
    }
    if (work instanceof Group) return await this.#applyGroup(work);
    const body = this.#freeze(work.body);
    body.chord_size = work.header.tasks.length;
    const backend = this.backend as { setChordSize?: (g: string, n: number) => Promise<void> };
    if (!backend?.setChordSize) {
      throw new ConfigurationError(
        `Cannot send a chord with the result backend "${
          this.backend?.url ?? "none"
        }": chords need redis://`,
      );
    }
    await backend.setChordSize(work.header.id, work.header.tasks.length);
    await this.#applyGroup(work.header, body);
    return this.asyncResult(body.options.task_id as string);
  }

  async #applyGroup(group: Group, chordBody?: SignatureDict): Promise<GroupResult> {
    const results: AsyncResult[] = [];
    for (const [index, task] of group.tasks.entries()) {
      const sig = this.#freeze(task);
      sig.options.group_id = group.id;
      sig.options.group_index = index;
      if (chordBody) sig.options.chord = chordBody;
      results.push(await this.sendSignature(sig));
    }
    return {
      id: group.id,
      results,
      get: (options) => Promise.all(results.map((r) => r.get(options))),
    };
  }

  #freeze(sig: Signature): SignatureDict {
    const dict = sig.toDict();
    dict.options.task_id ??= sig.id;
    dict.options.reply_to ??= this.oid;
    return dict;
  }

  /**
   * Registers a task handler (Celery's `@app.task(name=...)`).
   *
   * @param name the task name, as Python clients call it
   * @param handler `(args, kwargs, context) => result`
   * @param options acks, limits, retries, results
   * @returns this app
   */
  task(name: string, handler: TaskHandler, options: TaskOptions = {}): this {
    this.tasks.set(name, { name, handler, options });
    return this;
  }

  /**
   * Makes a worker for the registered tasks (Celery's `app.Worker`); start it with `run()`.
   *
   * @param options queues, concurrency, prefetch, hostname, events
   * @returns the worker
   */
  worker(options: CeleryWorkerOptions = {}): CeleryWorker {
    return new CeleryWorker(this, options);
  }

  /** Closes the backend and the broker connection. */
  async close(): Promise<void> {
    await this.control.close();
    await this.backend?.close();
    await this.connection.close();
  }

  /** Same as {@link Celery.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function dicts(
  value: Signature | Signature[] | SignatureDict[] | undefined,
): SignatureDict[] | null {
  if (value === undefined) return null;
  const list = Array.isArray(value) ? value : [value];
  return list.map((s) => (s instanceof Signature ? s.toDict() : s));
}
