/**
 * Celery's `rpc://` result backend (`celery.backends.rpc`): the client consumes one reply queue
 * of its own (named by a uuid: auto-delete, not durable, `x-expires` = the result expiry); the
 * worker publishes each state to the default exchange with `routing_key` = the task's
 * `reply_to` and `correlation_id` = the task id. States are messages: a client sees only the
 * tasks it sent, and only once (Celery keeps no history either; `forget` drops the cache). The
 * last 10 000 states nobody waited for are kept for a later `get()`.
 *
 * @module
 */

import { type Connection, type Message, Queue, uuid } from "../../mod.ts";
import { READY_STATES } from "../states.ts";
import { readMeta, type ResultBackend, type ResultMeta, type StoreTarget } from "./base.ts";
import { waitFor } from "./_wait.ts";

/** States kept for tasks nobody waits for yet (the oldest are dropped first). */
const STATES_KEPT = 10_000;

/** Options of the rpc:// backend. */
export interface RpcBackendOptions {
  /** The reply queue's name (default: a new uuid4; the app passes its `oid`). */
  oid?: string;
  /** Ms an unused reply queue lives (Celery's `result_expires`, 1 day); null: forever. */
  expires?: number | null;
  /** Publish states persistent (Celery's `result_persistent`, default false). */
  persistent?: boolean;
}

/** The rpc:// backend over the app's broker connection. */
export class RpcBackend implements ResultBackend {
  /** Always `rpc://`. */
  readonly url = "rpc://";
  /** The reply queue's name (Celery's `oid`). */
  readonly oid: string;
  readonly #connection: Connection;
  readonly #options: RpcBackendOptions;
  readonly #states = new Map<string, ResultMeta>();
  readonly #waiters = new Map<string, Set<(meta: ResultMeta) => void>>();
  #consuming: Promise<unknown> | undefined;
  #consumer: { cancel(): Promise<void> } | undefined;

  /**
   * Makes the backend.
   *
   * @param connection the broker connection (the app's)
   * @param options expiry and persistence
   */
  constructor(connection: Connection, options: RpcBackendOptions = {}) {
    this.#connection = connection;
    this.#options = options;
    this.oid = options.oid ?? uuid();
  }

  /** The reply queue, as Celery's `RPCBackend.binding`. */
  get queue(): Queue {
    const expires = this.#options.expires === undefined ? 86_400_000 : this.#options.expires;
    return new Queue(this.oid, {
      routingKey: this.oid,
      durable: false,
      autoDelete: true,
      ...(expires === null ? {} : { expires }),
    });
  }

  /**
   * Declares and consumes the reply queue (once).
   *
   * @returns the reply queue's name: the `reply_to` of the task
   */
  async prepare(_taskId: string): Promise<string> {
    this.#consuming ??= (async () => {
      const consumer = this.#connection.consumer([this.queue], {
        noAck: true,
        callbacks: [(body, message) => this.#onReply(body, message)],
      });
      await consumer.consume();
      this.#consumer = consumer;
    })();
    try {
      await this.#consuming;
    } catch (error) {
      this.#consuming = undefined;
      throw error;
    }
    return this.oid;
  }

  #onReply(body: unknown, message: Message): void {
    const id = message.correlationId ??
      (body && typeof body === "object" ? (body as { task_id?: string }).task_id : undefined);
    if (typeof id !== "string") return;
    const meta = readMeta(body, id);
    if (meta === undefined) return;
    const waiters = this.#waiters.get(id);
    if (waiters && READY_STATES.has(meta.status)) {
      // Handed over: the AsyncResult keeps it from here.
      this.#waiters.delete(id);
      this.#states.delete(id);
      for (const resolve of waiters) resolve(meta);
      return;
    }
    // Kept for a later get(); the oldest go first past the limit (results nobody asks for).
    this.#states.delete(id);
    this.#states.set(id, meta);
    if (this.#states.size > STATES_KEPT) {
      this.#states.delete(this.#states.keys().next().value!);
    }
  }

  /** Waits for the task's ready state on the reply queue. */
  async wait(
    taskId: string,
    options: { timeout?: number; signal?: AbortSignal } = {},
  ): Promise<ResultMeta> {
    await this.prepare(taskId);
    const known = this.#states.get(taskId);
    if (known && READY_STATES.has(known.status)) return known;
    let resolver!: (meta: ResultMeta) => void;
    const arrived = new Promise<ResultMeta>((resolve) => (resolver = resolve));
    const set = this.#waiters.get(taskId) ?? new Set();
    set.add(resolver);
    this.#waiters.set(taskId, set);
    return await waitFor(arrived, taskId, options, () => set.delete(resolver));
  }

  /** The latest state received for the task. */
  meta(taskId: string): Promise<ResultMeta | undefined> {
    return Promise.resolve(this.#states.get(taskId));
  }

  /** Drops the cached state. */
  forget(taskId: string): Promise<void> {
    this.#states.delete(taskId);
    return Promise.resolve();
  }

  /** Publishes a state to the task's `reply_to` (nothing when it has none, as Celery). */
  async store(meta: ResultMeta, target: StoreTarget): Promise<void> {
    if (!target.replyTo) return;
    const { date_done: _d, group_id: _g, parent_id: _p, ...body } = meta;
    await this.#connection.producer().publish(body, {
      exchange: "",
      routingKey: target.replyTo,
      correlationId: target.correlationId ?? meta.task_id,
      serializer: "json",
      deliveryMode: this.#options.persistent ? 2 : 1,
      retry: true,
    });
  }

  /** Cancels the reply consumer (the broker then deletes the queue). */
  async close(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    this.#consuming = undefined;
    await consumer?.cancel().catch(() => undefined);
  }
}
