/**
 * What a result backend does, and the result meta both backends write in Celery's format
 * (`Backend._get_result_meta`, `prepare_exception` with the JSON serializer).
 *
 * @module
 */

import { CeleryError, type ExceptionMeta } from "../errors.ts";
import { EXCEPTION_STATES, READY_STATES } from "../states.ts";

/** A task's state as Celery stores it (`celery-task-meta-<id>`, or an rpc:// reply). */
export interface ResultMeta {
  /** The task id. */
  task_id: string;
  /** The state: `PENDING`, `STARTED`, `RETRY`, `SUCCESS`, `FAILURE`, `REVOKED`... */
  status: string;
  /** The return value, or an {@link ExceptionMeta} in exception states. */
  result: unknown;
  /** The traceback text of a failure. */
  traceback: string | null;
  /** Child results (`[[id, null], null]` tuples); wakame writes `[]`. */
  children: unknown[];
  /** When it became ready: a naive UTC ISO text (redis://; rpc:// has none). */
  date_done?: string | null;
  /** The group id, when the task was in a group. */
  group_id?: string;
  /** The parent task id. */
  parent_id?: string;
}

/** Where the worker stores a result: the parts of the request that decide it. */
export interface StoreTarget {
  /** The rpc:// reply queue (`reply_to`). */
  replyTo?: string;
  /** The `correlation_id` to reply with (default: the task id). */
  correlationId?: string;
  /** The group id. */
  group?: string;
  /** The parent task id. */
  parentId?: string;
}

/** Options of waiting for a result. */
export interface WaitOptions {
  /** Most ms to wait; then it rejects with `TimeoutError`. */
  timeout?: number;
  /** Stops waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** A result backend: the client side (wait, read, forget) and the worker side (store). */
export interface ResultBackend {
  /** The backend's URL, as configured. */
  readonly url: string;
  /**
   * Called before a task is sent: declares what the reply needs.
   *
   * @returns the `reply_to` to send (rpc://: the client's reply queue), or undefined
   */
  prepare(taskId: string): Promise<string | undefined>;
  /** Waits until the task is ready (`SUCCESS`, `FAILURE`, `REVOKED`) and returns its meta. */
  wait(taskId: string, options?: WaitOptions): Promise<ResultMeta>;
  /** The latest meta known, or undefined (pending). */
  meta(taskId: string): Promise<ResultMeta | undefined>;
  /** Forgets a result (deletes the key; rpc:// forgets its cached state). */
  forget(taskId: string): Promise<void>;
  /** Stores a state (worker side). */
  store(meta: ResultMeta, target: StoreTarget): Promise<void>;
  /** Closes links and consumers. */
  close(): Promise<void>;
}

const PYTHON_BUILTINS = new Set([
  "Exception",
  "TypeError",
  "ValueError",
  "KeyError",
  "IndexError",
  "RuntimeError",
  "ZeroDivisionError",
  "NotImplementedError",
  "AttributeError",
  "LookupError",
  "ArithmeticError",
  "AssertionError",
  "OSError",
  "TimeoutError",
]);

/**
 * Celery's `prepare_exception` for an error thrown in a handler: a {@link CeleryError} keeps its
 * Python type, module and arguments; another error becomes `{exc_type: name, exc_message:
 * [message], exc_module}` with `builtins` when Python has a class of that name (`TypeError`),
 * else `wakame` (Python then makes a class of that name).
 *
 * @param error what was thrown
 * @returns the stored form
 */
export function exceptionMeta(error: unknown): ExceptionMeta {
  if (error instanceof CeleryError) {
    return { exc_type: error.excType, exc_message: error.args, exc_module: error.excModule };
  }
  if (error instanceof Error) {
    const name = error.name || "Error";
    return {
      exc_type: name,
      exc_message: [error.message],
      exc_module: PYTHON_BUILTINS.has(name) ? "builtins" : "wakame",
    };
  }
  return { exc_type: "Exception", exc_message: [String(error)], exc_module: "builtins" };
}

/**
 * The traceback text stored with a failure: Python's heading, then the JavaScript stack.
 *
 * @param error what was thrown
 * @returns the text
 */
export function tracebackText(error: unknown): string {
  const stack = error instanceof Error ? error.stack ?? `${error.name}: ${error.message}` : String(
    error,
  );
  return `Traceback (most recent call last):\n${stack}\n`;
}

/** Python's `datetime.utcnow().isoformat()` (naive UTC, microseconds). */
function utcNowIso(): string {
  return new Date().toISOString().slice(0, 23) + "000";
}

/**
 * Celery's result meta for a state.
 *
 * @param taskId the task id
 * @param status the state
 * @param result the value, or the error in exception states
 * @param target group and parent
 * @returns the meta
 */
export function resultMeta(
  taskId: string,
  status: string,
  result: unknown,
  target: StoreTarget = {},
): ResultMeta {
  const failed = EXCEPTION_STATES.has(status) && result !== null && result !== undefined;
  const meta: ResultMeta = {
    status,
    result: failed ? exceptionMeta(result) : result ?? null,
    traceback: failed && status === "FAILURE" ? tracebackText(result) : null,
    children: [],
    date_done: READY_STATES.has(status) ? utcNowIso() : null,
    task_id: taskId,
  };
  if (target.group) meta.group_id = target.group;
  if (target.parentId) meta.parent_id = target.parentId;
  return meta;
}

/**
 * Reads a stored meta (a JSON object), or undefined when it is not one.
 *
 * @param value the decoded value
 * @param taskId the id to fill in when absent
 * @returns the meta
 */
export function readMeta(value: unknown, taskId: string): ResultMeta | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const raw = value as Record<string, unknown>;
  if (typeof raw.status !== "string") return undefined;
  return {
    ...raw,
    task_id: typeof raw.task_id === "string" ? raw.task_id : taskId,
    status: raw.status,
    result: raw.result ?? null,
    traceback: typeof raw.traceback === "string" ? raw.traceback : null,
    children: Array.isArray(raw.children) ? raw.children : [],
  };
}
