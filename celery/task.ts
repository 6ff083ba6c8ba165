/**
 * What a task handler is given and may set: its arguments, its request context (id, retries,
 * an `AbortSignal` for time limits and revokes, `retry()`), and its options.
 *
 * @module
 */

import type { Celery } from "./app.ts";

/** Options of `context.retry()` (Celery's `Task.retry`; durations in ms). */
export interface RetryOptions {
  /** Wait this many ms (default: the task's `defaultRetryDelay`, 180 000 as Celery). */
  countdown?: number;
  /** Run at this time instead (a Date or ms since the epoch). */
  eta?: Date | number;
  /** Most retries (default: the task's `maxRetries`, 3 as Celery; null: no limit). */
  maxRetries?: number | null;
  /** The error being retried: thrown instead of `MaxRetriesExceededError` at the limit. */
  exc?: unknown;
  /** New positional arguments (default: the same). */
  args?: unknown[];
  /** New keyword arguments (default: the same). */
  kwargs?: Record<string, unknown>;
}

/** The request context of a running task (Celery's `self.request` with `bind=True`). */
export interface TaskContext {
  /** The task id. */
  id: string;
  /** The task name. */
  name: string;
  /** How often it was retried. */
  retries: number;
  /** The root task id. */
  rootId: string;
  /** The parent task id. */
  parentId: string | undefined;
  /** The group id. */
  group: string | undefined;
  /** The position in the group. */
  groupIndex: number | undefined;
  /** The worker's node name (`celery@host`). */
  hostname: string;
  /** `reply_to` and `correlation_id` of the message. */
  replyTo: string | undefined;
  /** Exchange and routing key the message came through. */
  deliveryInfo: { exchange: string; routingKey: string };
  /**
   * Aborted at the soft time limit (reason `SoftTimeLimitExceeded`), the hard time limit
   * (`TimeLimitExceeded`), or a revoke with `terminate` (`TaskRevokedError`). JavaScript cannot
   * stop a function from outside: pass it on to what the handler awaits.
   */
  signal: AbortSignal;
  /** The app. */
  app: Celery;
  /**
   * Sends the task again (same id, `retries + 1`) and rejects with `Retry`: let it propagate
   * (`return ctx.retry(...)` or `await ctx.retry(...)`). At the limit it rejects with `exc`, or
   * `MaxRetriesExceededError`.
   */
  retry(options?: RetryOptions): Promise<never>;
}

/**
 * A decoded JSON value as a handler receives it: typed loosely, as Python's, so that
 * `([a, b]) => a + b` needs no casts.
 */
// deno-lint-ignore no-explicit-any
export type Json = any;

/**
 * A task handler: positional arguments, keyword arguments, the request context; returns the
 * result (a JSON value) or throws. A `CeleryError` stores its Python `exc_type`; another error
 * stores its `name`.
 */
export type TaskHandler = (
  args: Json[],
  kwargs: Record<string, Json>,
  context: TaskContext,
) => unknown;

/** Options of a registered task (Celery's task attributes; durations in ms). */
export interface TaskOptions {
  /** Acknowledge after the handler ends rather than before it starts (Celery's `acks_late`). */
  acksLate?: boolean;
  /** Hard time limit (when the message has none). */
  timeLimit?: number;
  /** Soft time limit (when the message has none). */
  softTimeLimit?: number;
  /** Most retries of `context.retry()` (Celery's `max_retries`, 3; null: no limit). */
  maxRetries?: number | null;
  /** Delay of `context.retry()` (Celery's `default_retry_delay`, 180 000). */
  defaultRetryDelay?: number;
  /** Do not store results (Celery's `ignore_result`). */
  ignoreResult?: boolean;
  /** Store `STARTED` when the handler starts (Celery's `track_started`). */
  trackStarted?: boolean;
}
