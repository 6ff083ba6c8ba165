/**
 * `AsyncResult` (Celery's `celery.result.AsyncResult`): the handle of a sent task.
 *
 * @module
 */

import type { ResultBackend, ResultMeta, WaitOptions } from "./backends/base.ts";
import { type ExceptionMeta, TaskError } from "./errors.ts";
import { PROPAGATE_STATES, READY_STATES, type TaskState } from "./states.ts";

function asException(result: unknown): ExceptionMeta {
  if (result && typeof result === "object" && "exc_type" in result) {
    return result as ExceptionMeta;
  }
  return { exc_type: "Exception", exc_message: [result] };
}

/**
 * The value of a ready meta, or the error it holds.
 *
 * @param meta a ready meta
 * @returns the task's return value
 * @throws {TaskError} when the task failed or was revoked
 */
export function valueOf(meta: ResultMeta): unknown {
  if (PROPAGATE_STATES.has(meta.status)) {
    throw new TaskError(meta.task_id, meta.status, asException(meta.result), meta.traceback);
  }
  return meta.result;
}

/** The result of one task, read through the app's result backend. */
export class AsyncResult {
  /** The task id. */
  readonly id: string;
  readonly #backend: ResultBackend | undefined;
  #meta: ResultMeta | undefined;

  /**
   * Makes a handle (`app.asyncResult(id)` is the usual way).
   *
   * @param id the task id
   * @param backend the result backend (none: `get()` rejects)
   */
  constructor(id: string, backend: ResultBackend | undefined) {
    this.id = id;
    this.#backend = backend;
  }

  #need(): ResultBackend {
    if (this.#backend === undefined) {
      throw new TaskError(this.id, "PENDING", {
        exc_type: "NotImplementedError",
        exc_message: ["No result backend is configured"],
      });
    }
    return this.#backend;
  }

  /**
   * Waits for the task and returns its value (Celery's `get`; `timeout` in ms).
   *
   * @param options timeout and abort signal
   * @returns the task's return value
   * @throws {TaskError} when the task failed or was revoked (with `excType`, `excMessage`,
   *   `traceback`)
   * @throws {TimeoutError} when the timeout passed first
   */
  async get(options: WaitOptions = {}): Promise<unknown> {
    if (!this.#meta || !READY_STATES.has(this.#meta.status)) {
      this.#meta = await this.#need().wait(this.id, options);
    }
    return valueOf(this.#meta);
  }

  /** The latest meta (refreshed from the backend). */
  async meta(): Promise<ResultMeta | undefined> {
    if (this.#meta && READY_STATES.has(this.#meta.status)) return this.#meta;
    const meta = await this.#need().meta(this.id);
    if (meta) this.#meta = meta;
    return this.#meta;
  }

  /** The task's state (`PENDING` until the backend knows it). */
  async status(): Promise<TaskState> {
    return (await this.meta())?.status ?? "PENDING";
  }

  /** True once the task succeeded, failed or was revoked. */
  async ready(): Promise<boolean> {
    return READY_STATES.has(await this.status());
  }

  /** True when the task succeeded. */
  async successful(): Promise<boolean> {
    return (await this.status()) === "SUCCESS";
  }

  /** True when the task failed. */
  async failed(): Promise<boolean> {
    return (await this.status()) === "FAILURE";
  }

  /** Forgets the result in the backend. */
  async forget(): Promise<void> {
    this.#meta = undefined;
    await this.#need().forget(this.id);
  }

  /** The task id. */
  toString(): string {
    return this.id;
  }
}
