/**
 * Telling a promise (any thenable) from a plain value without awaiting it.
 *
 * @module
 */

/** True for a promise or any object with a `then` method. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}
