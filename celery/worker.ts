/**
 * The worker (Celery's `celery.worker`): consumes task messages of Python Celery 5 (protocol 2
 * and 1), runs the registered handlers at most `concurrency` at a time, acknowledges before the
 * handler starts (or after it ends with `acksLate`), holds `eta` / `countdown` tasks until due
 * with the prefetch count raised by one for each (as Celery's worker), drops expired and revoked
 * tasks as `REVOKED`, rejects unknown task names (stored as `NotRegistered` failures) and
 * undecodable messages without requeue, answers remote control on the pidbox and sends events.
 *
 * @module
 */

import { getLogger, type Message, type Node } from "../mod.ts";
import type { Celery } from "./app.ts";
import { controlHandlers, type WorkerState } from "./control.ts";
import { EventDispatcher } from "./events.ts";
import { NotRegistered, TaskRevokedError } from "./errors.ts";
import { type Outcome, reprError, runTask, storeState } from "./execute.ts";
import { hostName } from "./host.ts";
import { isoformat, parseTaskMessage, type TaskRequest } from "./protocol.ts";

const log = getLogger("celery.worker");

/** Options of a {@link CeleryWorker} (Celery's worker options; durations in ms). */
export interface CeleryWorkerOptions {
  /** Queues to consume (default: the app's default queue, `celery`). */
  queues?: string[];
  /** Handlers running at once (default 4; they share one event loop). */
  concurrency?: number;
  /** Prefetch = concurrency × this (Celery's `worker_prefetch_multiplier`, 4); 0: no limit. */
  prefetchMultiplier?: number;
  /** The node name (default `celery@<host>`, as Celery). */
  hostname?: string;
  /** Send task and worker events (Celery's `-E`). */
  events?: boolean;
  /** Heartbeat interval of worker events (Celery: 2000). */
  heartbeatInterval?: number;
  /** Acknowledge after the handler ends, for every task (Celery's `task_acks_late`). */
  acksLate?: boolean;
  /** Answer remote control on the pidbox (default true). */
  control?: boolean;
}

/** One task the worker holds, from delivery to the end of its run. */
export interface HeldRequest {
  /** The task. */
  request: TaskRequest;
  /** Its message. */
  message: Message;
  /** When it started (ms since the epoch), once started. */
  startedAt?: number;
  /** Aborted by a revoke with `terminate`. */
  terminate: AbortController;
}

/** A worker for the app's registered tasks. Make it with `app.worker(options)`. */
export class CeleryWorker {
  /** The app. */
  readonly app: Celery;
  /** The options. */
  readonly options: Readonly<CeleryWorkerOptions>;
  /** Resolves once the worker consumes (and listens on the pidbox); rejects if it cannot start. */
  readonly ready: Promise<void>;
  /** Revoked task ids (Celery's `worker_state.revoked`). */
  readonly revoked: Set<string> = new Set();
  /** Tasks running now, by id. */
  readonly active: Map<string, HeldRequest> = new Map();
  /** Tasks waiting for their eta, by id. */
  readonly scheduled: Map<string, HeldRequest> = new Map();
  /** Tasks waiting for a free slot. */
  readonly reserved: HeldRequest[] = [];
  /** Tasks finished, by name. */
  readonly total: Map<string, number> = new Map();
  #hostname = "";
  #markReady!: () => void;
  #failReady!: (error: unknown) => void;
  #consumer: ReturnType<Celery["connection"]["consumer"]> | undefined;
  #events: EventDispatcher | undefined;
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #running = new Set<Promise<void>>();
  #stopping = false;
  readonly #startedAt = Date.now();

  /**
   * Makes a worker (`app.worker(options)` is the usual way).
   *
   * @param app the app whose tasks it runs
   * @param options queues, concurrency, prefetch, events
   */
  constructor(app: Celery, options: CeleryWorkerOptions = {}) {
    this.app = app;
    this.options = options;
    this.ready = new Promise((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    this.ready.catch(() => {}); // also reported by run()
  }

  /** The node name, once running. */
  get hostname(): string {
    return this.#hostname;
  }

  /** The queues consumed now. */
  get queues(): string[] {
    return this.#consumer?.queues.map((q) => q.name) ?? [...(this.options.queues ?? [])];
  }

  get #concurrency(): number {
    return this.options.concurrency ?? 4;
  }

  /**
   * Channel-wide prefetch, as Celery sets it on RabbitMQ: RabbitMQ applies a changed
   * per-consumer prefetch only to consumers started after it, so raising it for an eta task
   * would not reach the running consumer. Quorum queues (native delayed delivery) refuse it;
   * there, as in Celery 5.5, countdowns wait in the broker instead. Virtual transports have one
   * limit per channel either way.
   */
  get #globalQos(): boolean {
    return !this.app.options.delayedDelivery;
  }

  get #basePrefetch(): number {
    return this.#concurrency * (this.options.prefetchMultiplier ?? 4);
  }

  /** Since when the worker runs (ms since the epoch). */
  get startedAt(): number {
    return this.#startedAt;
  }

  /**
   * Consumes and runs tasks until the signal aborts, then stops gracefully: stops consuming,
   * puts back the tasks not started, waits for the running ones.
   *
   * @param options the signal that stops the worker
   * @throws {ConnectionError} when the broker cannot be reached at start
   */
  async run(options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.#serve(options);
    } catch (error) {
      this.#failReady(error);
      throw error;
    }
  }

  async #serve(options: { signal?: AbortSignal }): Promise<void> {
    const app = this.app;
    this.#hostname = this.options.hostname ?? `celery@${await hostName()}`;
    const broker = String(app.options.broker ?? "amqp");
    if (this.options.events) {
      this.#events = new EventDispatcher(app.connection, {
        hostname: this.#hostname,
        exchangeType: /^(redis|rediss|sentinel)/.test(broker) ? "fanout" : "topic",
      });
    }
    const names = this.options.queues ?? [app.defaultQueue];
    const consumer = app.connection.consumer(names.map((q) => app.queue(q)), {
      onMessage: (message) => void this.#receive(message),
      onCancel: "resume",
    });
    this.#consumer = consumer;
    if (this.#basePrefetch > 0) {
      await consumer.qos({ prefetchCount: this.#basePrefetch, global: this.#globalQos });
    }
    await consumer.consume();
    let node: Node<WorkerState> | undefined;
    if (this.options.control !== false) {
      node = this.app.control.mailbox.node<WorkerState>(this.#hostname, {
        state: { worker: this },
        handlers: controlHandlers,
      });
      await node.listen();
    }
    let heartbeat: ReturnType<typeof setInterval> | undefined;
    if (this.#events) {
      await this.#events.send("worker-online", this.#heartbeatFields());
      heartbeat = setInterval(
        () => void this.#events?.send("worker-heartbeat", this.#heartbeatFields()),
        this.options.heartbeatInterval ?? 2000,
      );
    }
    log.info(`${this.#hostname} ready, consuming ${names.join(", ")}`);
    this.#markReady();
    await abortOf(options.signal);
    this.#stopping = true;
    clearInterval(heartbeat);
    await consumer.cancel().catch(() => undefined);
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    const putBack = [...this.scheduled.values(), ...this.reserved.splice(0)];
    this.scheduled.clear();
    for (const held of putBack) await held.message.reject({ requeue: true }).catch(() => undefined);
    await Promise.all(this.#running);
    await node?.close().catch(() => undefined);
    if (this.#events) {
      await this.#events.send("worker-offline", this.#heartbeatFields());
    }
    log.info(`${this.#hostname} stopped`);
  }

  #heartbeatFields(): Record<string, unknown> {
    let processed = 0;
    for (const n of this.total.values()) processed += n;
    return {
      freq: (this.options.heartbeatInterval ?? 2000) / 1000,
      active: this.active.size,
      processed,
      loadavg: [0, 0, 0],
      sw_ident: "wakame",
      sw_ver: "0.1.0",
      sw_sys: "JavaScript",
    };
  }

  /**
   * Adds a queue to consume (remote control `add_consumer`).
   *
   * @param name the queue name
   */
  async addQueue(name: string): Promise<void> {
    if (this.#consumer?.consumingFrom(name)) return;
    await this.#consumer?.addQueue(this.app.queue(name));
  }

  /**
   * Stops consuming a queue (remote control `cancel_consumer`).
   *
   * @param name the queue name
   */
  async cancelQueue(name: string): Promise<void> {
    await this.#consumer?.cancelByQueue(name);
  }

  /**
   * Revokes tasks: they are dropped when they arrive or come due; with `terminate` the running
   * ones are aborted (their signal's reason is a `TaskRevokedError`).
   *
   * @param ids the task ids
   * @param terminate abort running tasks too
   * @returns the ids of the running tasks aborted
   */
  revoke(ids: readonly string[], terminate = false): string[] {
    const terminated: string[] = [];
    for (const id of ids) {
      this.revoked.add(id);
      const scheduled = this.scheduled.get(id);
      if (scheduled) this.#due(scheduled);
      if (terminate) {
        const held = this.active.get(id);
        if (held) {
          held.terminate.abort(new TaskRevokedError("terminated"));
          terminated.push(id);
        }
      }
    }
    return terminated;
  }

  async #receive(message: Message): Promise<void> {
    let request: TaskRequest;
    try {
      const body = await message.decode();
      request = parseTaskMessage(body, message.headers, {
        correlationId: message.correlationId,
        replyTo: message.replyTo,
      });
    } catch (error) {
      log.error(
        `Cannot read a task message (content type "${message.contentType}"), rejecting it:`,
        error,
      );
      await message.reject({ requeue: false }).catch(() => undefined);
      return;
    }
    const held: HeldRequest = { request, message, terminate: new AbortController() };
    const task = this.app.tasks.get(request.name);
    if (task === undefined) {
      log.error(
        `Received unregistered task of type "${request.name}" [${request.id}], rejecting it`,
      );
      await message.reject({ requeue: false }).catch(() => undefined);
      await storeState(this, request, "FAILURE", new NotRegistered(request.name));
      this.#events?.send("task-failed", {
        uuid: request.id,
        exception: `NotRegistered(${JSON.stringify(request.name)})`,
      });
      return;
    }
    this.#events?.send("task-received", {
      uuid: request.id,
      name: request.name,
      args: request.argsrepr,
      kwargs: request.kwargsrepr,
      root_id: request.rootId,
      parent_id: request.parentId ?? null,
      retries: request.retries,
      eta: request.eta === undefined ? null : isoformat(request.eta),
      expires: request.expires === undefined ? null : isoformat(request.expires),
    });
    if (await this.#dropIfRevoked(held)) return;
    const wait = (request.eta ?? 0) - Date.now();
    if (wait > 0) {
      this.scheduled.set(request.id, held);
      this.#setPrefetch();
      this.#timers.set(request.id, setTimeout(() => this.#due(held), wait));
      return;
    }
    this.#enqueue(held);
  }

  #due(held: HeldRequest): void {
    const id = held.request.id;
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
    if (!this.scheduled.delete(id)) return;
    this.#setPrefetch();
    this.#enqueue(held);
  }

  #setPrefetch(): void {
    const base = this.#basePrefetch;
    if (base === 0 || this.#stopping) return;
    this.#consumer?.qos({ prefetchCount: base + this.scheduled.size, global: this.#globalQos })
      .catch((
        error,
      ) => log.warn("Cannot change the prefetch count:", error));
  }

  /** Drops a revoked or expired task (stored as REVOKED, acknowledged). */
  async #dropIfRevoked(held: HeldRequest): Promise<boolean> {
    const { request, message } = held;
    const expired = request.expires !== undefined && request.expires <= Date.now();
    if (!expired && !this.revoked.has(request.id)) return false;
    const reason = expired ? "expired" : "revoked";
    log.info(`Discarding ${reason} task ${request.name}[${request.id}]`);
    await message.ack().catch(() => undefined);
    await storeState(this, request, "REVOKED", new TaskRevokedError(reason));
    this.#events?.send("task-revoked", {
      uuid: request.id,
      terminated: false,
      signum: null,
      expired,
    });
    return true;
  }

  #enqueue(held: HeldRequest): void {
    if (this.#stopping) {
      held.message.reject({ requeue: true }).catch(() => undefined);
      return;
    }
    this.reserved.push(held);
    this.#pump();
  }

  #pump(): void {
    while (this.active.size < this.#concurrency && this.reserved.length > 0) {
      const held = this.reserved.shift()!;
      const run = this.#run(held).finally(() => {
        this.#running.delete(run);
        this.#pump();
      });
      this.#running.add(run);
    }
  }

  async #run(held: HeldRequest): Promise<void> {
    const { request, message } = held;
    if (await this.#dropIfRevoked(held)) return;
    const task = this.app.tasks.get(request.name)!;
    const late = task.options.acksLate ?? this.options.acksLate ?? false;
    held.startedAt = Date.now();
    this.active.set(request.id, held);
    let outcome: Outcome = "FAILURE";
    try {
      if (!late) await message.ack();
      outcome = await runTask(
        {
          app: this.app,
          hostname: this.#hostname,
          events: this.#events,
          deliveryInfo: {
            exchange: message.deliveryInfo.exchange,
            routingKey: message.deliveryInfo.routingKey,
          },
          terminate: held.terminate.signal,
        },
        request,
        task,
      );
    } catch (error) {
      log.error(`Task ${request.name}[${request.id}] could not run: ${reprError(error)}`);
    } finally {
      this.active.delete(request.id);
      this.total.set(request.name, (this.total.get(request.name) ?? 0) + 1);
      if (late) await message.ack().catch(() => undefined);
    }
    log.debug(`Task ${request.name}[${request.id}] ${outcome}`);
  }
}

function abortOf(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
