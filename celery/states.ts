/**
 * Celery's task states (`celery.states`) and the sets it groups them in.
 *
 * @module
 */

/** Celery's task states, as they are written in result metas. */
export const States = {
  PENDING: "PENDING",
  RECEIVED: "RECEIVED",
  STARTED: "STARTED",
  SUCCESS: "SUCCESS",
  FAILURE: "FAILURE",
  REVOKED: "REVOKED",
  REJECTED: "REJECTED",
  RETRY: "RETRY",
  IGNORED: "IGNORED",
} as const;

/** A task state name: one of {@link States}, or a custom state as written. */
export type TaskState = string;

/** States after which a task does not change any more (Celery's `READY_STATES`). */
export const READY_STATES: ReadonlySet<string> = new Set(["SUCCESS", "FAILURE", "REVOKED"]);

/** States whose result is an exception (Celery's `EXCEPTION_STATES`). */
export const EXCEPTION_STATES: ReadonlySet<string> = new Set(["RETRY", "FAILURE", "REVOKED"]);

/** States that end in an error (Celery's `PROPAGATE_STATES`). */
export const PROPAGATE_STATES: ReadonlySet<string> = new Set(["FAILURE", "REVOKED"]);
