/**
 * Remote control (Celery's `celery.app.control` and `celery.worker.control`) over wakame's
 * pidbox: the commands a worker answers (`ping`, `registered`, `active_queues`, `active`,
 * `scheduled`, `reserved`, `revoked`, `stats`, `revoke`, `add_consumer`, `cancel_consumer`,
 * `clock`, `hello`) with Celery's reply shapes (`{"ok": ...}` / `{"error": ...}`), and the
 * client side (`app.control.inspect().ping()`, `app.control.revoke(id)`) against Python or
 * TypeScript workers. The mailbox is Celery's: namespace `celery`, fanout, node queues with a
 * 300 s message TTL and 10 s expiry.
 *
 * @module
 */

import { Mailbox, type PidboxHandler, type PidboxReply } from "../mod.ts";
import type { Celery } from "./app.ts";
import { isoformat } from "./protocol.ts";
import { processId } from "./host.ts";
import type { CeleryWorker, HeldRequest } from "./worker.ts";

/** The state the worker's control handlers get. */
export interface WorkerState {
  /** The worker. */
  worker: CeleryWorker;
}

const ok = (value: unknown) => ({ ok: value });

function queueInfo(name: string): Record<string, unknown> {
  return {
    name,
    exchange: {
      name,
      type: "direct",
      arguments: null,
      durable: true,
      passive: false,
      auto_delete: false,
      delivery_mode: null,
      no_declare: false,
    },
    routing_key: name,
    queue_arguments: null,
    binding_arguments: null,
    consumer_arguments: null,
    durable: true,
    exclusive: false,
    auto_delete: false,
    no_ack: false,
    alias: null,
    bindings: [],
    no_declare: null,
    expires: null,
    message_ttl: null,
    max_length: null,
    max_length_bytes: null,
    max_priority: null,
  };
}

function requestInfo(worker: CeleryWorker, held: HeldRequest): Record<string, unknown> {
  const { request, message } = held;
  return {
    id: request.id,
    name: request.name,
    args: request.args,
    kwargs: request.kwargs,
    type: request.name,
    hostname: worker.hostname,
    time_start: held.startedAt === undefined ? null : held.startedAt / 1000,
    acknowledged: message.acknowledged,
    delivery_info: {
      exchange: message.deliveryInfo.exchange,
      routing_key: message.deliveryInfo.routingKey,
      priority: message.properties.priority ?? 0,
      redelivered: message.deliveryInfo.redelivered,
    },
    worker_pid: processId(),
  };
}

function ids(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** The worker's command handlers, by Celery's command names. */
export const controlHandlers: Record<string, PidboxHandler<WorkerState>> = {
  ping: () => ok("pong"),
  registered: ({ worker }) => [...worker.app.tasks.keys()].sort(),
  active_queues: ({ worker }) => worker.queues.map(queueInfo),
  active: ({ worker }) => [...worker.active.values()].map((held) => requestInfo(worker, held)),
  reserved: ({ worker }) => worker.reserved.map((held) => requestInfo(worker, held)),
  scheduled: ({ worker }) =>
    [...worker.scheduled.values()].map((held) => ({
      eta: held.request.eta === undefined ? null : isoformat(held.request.eta),
      priority: held.message.properties.priority ?? 0,
      request: requestInfo(worker, held),
    })),
  revoked: ({ worker }) => [...worker.revoked],
  clock: ({ worker }) => ({ clock: worker.app.control.mailbox.clock.value }),
  hello: ({ worker }, args) => {
    if (args.from_node === worker.hostname) return undefined;
    const revoked = args.revoked;
    if (revoked && typeof revoked === "object") {
      for (const id of Object.keys(revoked)) worker.revoked.add(id);
    }
    const data: Record<string, number> = {};
    for (const id of worker.revoked) data[id] = Date.now() / 1000;
    return { revoked: data, clock: worker.app.control.mailbox.clock.forward() };
  },
  stats: ({ worker }) => {
    const total: Record<string, number> = {};
    for (const [name, n] of worker.total) total[name] = n;
    const concurrency = worker.options.concurrency ?? 4;
    return {
      total,
      pid: processId(),
      clock: String(worker.app.control.mailbox.clock.value),
      uptime: Math.round((Date.now() - worker.startedAt) / 1000),
      pool: { "max-concurrency": concurrency, processes: [processId()], implementation: "wakame" },
      broker: { transport: String(worker.app.options.broker ?? "amqp").split(":")[0] },
      prefetch_count: concurrency * (worker.options.prefetchMultiplier ?? 4),
      rusage: {},
    };
  },
  revoke: ({ worker }, args) => {
    const list = ids(args.task_id);
    const terminated = worker.revoke(list, args.terminate === true);
    if (args.terminate === true) {
      return ok(
        terminated.length > 0 ? `terminate: ${terminated.join(", ")}` : "terminate: tasks unknown",
      );
    }
    return ok(`tasks ${list.join(", ")} flagged as revoked`);
  },
  add_consumer: async ({ worker }, args) => {
    const queue = String(args.queue);
    await worker.addQueue(queue);
    return ok(`add consumer ${queue}`);
  },
  cancel_consumer: async ({ worker }, args) => {
    const queue = String(args.queue);
    await worker.cancelQueue(queue);
    return ok(`no longer consuming from ${queue}`);
  },
};

/** Options of an inspection or a control command. */
export interface ControlOptions {
  /** Node names to ask (default: all). */
  destination?: string[];
  /** Ms to wait for replies (Celery's 1 s). */
  timeout?: number;
  /** Stop after this many replies. */
  limit?: number;
}

/** Replies by node name (Celery merges the list of `{node: reply}`). */
export type Replies = Record<string, unknown>;

function merge(replies: PidboxReply[]): Replies {
  return Object.assign({}, ...replies);
}

/** Celery's `app.control.inspect()`: asks workers and merges their replies by node name. */
export class Inspect {
  readonly #control: Control;
  readonly #options: ControlOptions;

  /**
   * Makes an inspector (`app.control.inspect(options)` is the usual way).
   *
   * @param control the app's control
   * @param options destination, timeout, limit
   */
  constructor(control: Control, options: ControlOptions = {}) {
    this.#control = control;
    this.#options = options;
  }

  #ask(command: string, args: Record<string, unknown> = {}): Promise<Replies> {
    return this.#control.broadcast(command, { ...this.#options, arguments: args, reply: true });
  }

  /** `{node: {"ok": "pong"}}`. */
  ping(): Promise<Replies> {
    return this.#ask("ping");
  }

  /** Registered task names per node. */
  registered(): Promise<Replies> {
    return this.#ask("registered");
  }

  /** Queues consumed per node. */
  activeQueues(): Promise<Replies> {
    return this.#ask("active_queues");
  }

  /** Running tasks per node. */
  active(): Promise<Replies> {
    return this.#ask("active");
  }

  /** Tasks waiting for their eta per node. */
  scheduled(): Promise<Replies> {
    return this.#ask("scheduled");
  }

  /** Tasks received and waiting for a slot per node. */
  reserved(): Promise<Replies> {
    return this.#ask("reserved");
  }

  /** Revoked ids per node. */
  revoked(): Promise<Replies> {
    return this.#ask("revoked");
  }

  /** Statistics per node. */
  stats(): Promise<Replies> {
    return this.#ask("stats");
  }
}

/** Celery's `app.control`: remote control of workers over the pidbox. */
export class Control {
  /** The app. */
  readonly app: Celery;
  /** Celery's mailbox (bound to the app's connection). */
  readonly mailbox: Mailbox;

  /**
   * Makes the control of an app (`app.control` is the usual way).
   *
   * @param app the app
   */
  constructor(app: Celery) {
    this.app = app;
    this.mailbox = new Mailbox(app.options.controlExchange ?? "celery", {
      type: "fanout",
      connection: app.connection,
      accept: ["json"],
      queueTtl: 300_000,
      queueExpires: 10_000,
      replyQueueTtl: 300_000,
      replyQueueExpires: 10_000,
    });
  }

  /**
   * An inspector.
   *
   * @param options destination, timeout, limit
   * @returns the inspector
   */
  inspect(options: ControlOptions = {}): Inspect {
    return new Inspect(this, options);
  }

  /**
   * Sends a command (Celery's `broadcast`), collecting replies when `reply` is set.
   *
   * @param command the command name
   * @param options arguments, destination, reply, timeout, limit
   * @returns the replies merged by node name (empty without `reply`)
   */
  async broadcast(
    command: string,
    options: ControlOptions & { arguments?: Record<string, unknown>; reply?: boolean } = {},
  ): Promise<Replies> {
    return merge(
      await this.mailbox.broadcast(command, {
        arguments: options.arguments,
        destination: options.destination,
        reply: options.reply,
        timeout: options.timeout ?? 1000,
        limit: options.limit,
      }),
    );
  }

  /**
   * Pings workers.
   *
   * @param options destination, timeout
   * @returns `{node: {"ok": "pong"}}`
   */
  ping(options: ControlOptions = {}): Promise<Replies> {
    return this.broadcast("ping", { ...options, reply: true });
  }

  /**
   * Revokes tasks (Celery's `control.revoke`): workers drop them; with `terminate` running
   * ones are stopped (a TypeScript worker aborts the handler's signal).
   *
   * @param taskId one id or several
   * @param options terminate, signal name, destination, reply
   * @returns the replies when `reply` is set
   */
  revoke(
    taskId: string | string[],
    options: ControlOptions & { terminate?: boolean; signal?: string; reply?: boolean } = {},
  ): Promise<Replies> {
    return this.broadcast("revoke", {
      ...options,
      arguments: {
        task_id: taskId,
        terminate: options.terminate ?? false,
        signal: options.signal ?? "SIGTERM",
      },
    });
  }

  /**
   * Asks workers to consume a queue too.
   *
   * @param queue the queue name
   * @param options destination, reply
   * @returns the replies when `reply` is set
   */
  addConsumer(queue: string, options: ControlOptions & { reply?: boolean } = {}): Promise<Replies> {
    return this.broadcast("add_consumer", { ...options, arguments: { queue } });
  }

  /**
   * Asks workers to stop consuming a queue.
   *
   * @param queue the queue name
   * @param options destination, reply
   * @returns the replies when `reply` is set
   */
  cancelConsumer(
    queue: string,
    options: ControlOptions & { reply?: boolean } = {},
  ): Promise<Replies> {
    return this.broadcast("cancel_consumer", { ...options, arguments: { queue } });
  }

  /** Closes the mailbox's reply consumer. */
  async close(): Promise<void> {
    await this.mailbox.close();
  }
}
