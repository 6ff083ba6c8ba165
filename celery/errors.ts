/**
 * The errors of the Celery module: a failed task as Celery stores it (`exc_type`, `exc_message`,
 * `exc_module`, traceback), and the errors a worker raises into a task (time limits, retry).
 *
 * @module
 */

import { KombuError } from "../mod.ts";

/** What Celery stores for an exception (`Backend.prepare_exception` with a JSON serializer). */
export interface ExceptionMeta {
  /** The exception class name (`__qualname__`), such as `ValueError`. */
  exc_type: string;
  /** The exception arguments (`exc.args`): a list, or a single value from older writers. */
  exc_message: unknown;
  /** The module of the class, such as `builtins`. */
  exc_module?: string;
}

/**
 * A task that failed (or was revoked) in a worker, read from the result backend: Python's
 * `AsyncResult.get()` raises the re-created exception; here `get()` rejects with this.
 */
export class TaskError extends KombuError {
  /** The task's id. */
  readonly taskId: string;
  /** The final state: `FAILURE` or `REVOKED`. */
  readonly state: string;
  /** Celery's `exc_type`, such as `ValueError` or `TimeLimitExceeded`. */
  readonly excType: string;
  /** Celery's `exc_message`: the exception's arguments. */
  readonly excMessage: unknown;
  /** Celery's `exc_module`, such as `builtins` or `celery.exceptions`. */
  readonly excModule: string | undefined;
  /** The traceback text the worker stored, if any. */
  readonly traceback: string | undefined;

  /**
   * Makes a TaskError.
   *
   * @param taskId the task's id
   * @param state the state the backend holds
   * @param meta the stored exception
   * @param traceback the stored traceback text
   */
  constructor(taskId: string, state: string, meta: ExceptionMeta, traceback?: string | null) {
    const args = Array.isArray(meta.exc_message) ? meta.exc_message : [meta.exc_message];
    const text = args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(", ");
    super(`Task "${taskId}" ended in ${state}: ${meta.exc_type}(${text})`);
    this.name = "TaskError";
    this.taskId = taskId;
    this.state = state;
    this.excType = meta.exc_type;
    this.excMessage = meta.exc_message;
    this.excModule = meta.exc_module;
    this.traceback = traceback ?? undefined;
  }
}

/**
 * An error a worker reports with a Python exception type: thrown by a handler (or made by the
 * worker) to store `exc_type` / `exc_module` other than the JavaScript class name.
 */
export class CeleryError extends KombuError {
  /** The `exc_type` to store. */
  readonly excType: string;
  /** The `exc_module` to store. */
  readonly excModule: string;
  /** The `exc_message` (arguments) to store. */
  readonly args: unknown[];

  /**
   * Makes a CeleryError.
   *
   * @param excType the Python class name, such as `ValueError`
   * @param args the exception arguments (the first one, a text, is the message)
   * @param excModule the Python module (default `builtins`)
   */
  constructor(excType: string, args: unknown[] = [], excModule = "builtins") {
    super(args.length > 0 ? String(args[0]) : excType);
    this.name = excType;
    this.excType = excType;
    this.excModule = excModule;
    this.args = args;
  }
}

/** The soft time limit passed (Celery's `SoftTimeLimitExceeded`): the handler's signal's reason. */
export class SoftTimeLimitExceeded extends CeleryError {
  /**
   * Makes the error.
   *
   * @param seconds the limit, in seconds as Celery reports it
   */
  constructor(seconds: number) {
    // billiard raises it without arguments; the limit is in the JavaScript message only.
    super("SoftTimeLimitExceeded", [], "billiard.exceptions");
    this.message = `Soft time limit (${seconds}s) exceeded`;
  }
}

/** The hard time limit passed (Celery's `TimeLimitExceeded`): stored as the task's failure. */
export class TimeLimitExceeded extends CeleryError {
  /**
   * Makes the error.
   *
   * @param seconds the limit, in seconds as Celery reports it
   */
  constructor(seconds: number) {
    super("TimeLimitExceeded", [seconds], "billiard.exceptions");
  }
}

/** The task was revoked (Celery's `TaskRevokedError`); `reason` is `revoked`, `expired`... */
export class TaskRevokedError extends CeleryError {
  /**
   * Makes the error.
   *
   * @param reason why
   */
  constructor(reason: string) {
    super("TaskRevokedError", [reason], "celery.exceptions");
  }
}

/**
 * Thrown by `context.retry()` (Celery's `Retry`): the worker has sent the task again and stores
 * the state `RETRY`. A handler should let it propagate.
 */
export class Retry extends CeleryError {
  /** The error the retry is for, if any. */
  readonly exc: unknown;
  /** When the retry runs (ms since the epoch). */
  readonly when: number | undefined;

  /**
   * Makes the error.
   *
   * @param message what to say
   * @param exc the error being retried
   * @param when when the retry runs (ms since the epoch)
   */
  constructor(message: string, exc?: unknown, when?: number) {
    super("Retry", [message], "celery.exceptions");
    this.exc = exc;
    this.when = when;
  }
}

/** `retry()` was called once too often (Celery's `MaxRetriesExceededError`). */
export class MaxRetriesExceededError extends CeleryError {
  /**
   * Makes the error.
   *
   * @param message what to say
   */
  constructor(message: string) {
    super("MaxRetriesExceededError", [message], "celery.exceptions");
  }
}

/** The task name is not registered in this worker (Celery's `NotRegistered`). */
export class NotRegistered extends CeleryError {
  /**
   * Makes the error.
   *
   * @param name the task name
   */
  constructor(name: string) {
    super("NotRegistered", [name], "celery.exceptions");
  }
}
