/**
 * What a consumer does with a failure: a callback's error goes to `onError` (or the log), an
 * undecodable message to `onDecodeError` (or the log, and a reject without requeue).
 *
 * @module
 */

import { getLogger } from "../logger.ts";
import type { Message } from "../message.ts";

const log = getLogger("consumer");

/** The hooks of a consumer that receive failures. */
export interface FailureHooks<T = unknown> {
  onError: ((error: unknown, message: Message<T> | undefined) => void) | undefined;
  onDecodeError: ((message: Message<T>, error: unknown) => unknown) | undefined;
}

/** Hands an error to `onError`, or logs it (also when `onError` itself throws). */
export function reportError<T>(
  hooks: FailureHooks<T>,
  error: unknown,
  message: Message<T> | undefined,
): void {
  if (hooks.onError) {
    try {
      hooks.onError(error, message);
      return;
    } catch (hookError) {
      error = hookError;
    }
  }
  if (message === undefined) log.error("Consumer:", error);
  else log.error(`Callback failed for message ${message.deliveryTag}:`, error);
}

/** Hands an undecodable message to `onDecodeError`, or logs and rejects it without requeue. */
export async function decodeFailed<T>(
  hooks: FailureHooks<T>,
  message: Message<T>,
  error: unknown,
): Promise<void> {
  if (hooks.onDecodeError) {
    try {
      await hooks.onDecodeError(message, error);
    } catch (hookError) {
      reportError(hooks, hookError, message);
    }
    return;
  }
  log.error(
    `Cannot decode message ${message.deliveryTag} (content type "${message.contentType}"); ` +
      "rejecting it without requeue:",
    error,
  );
  try {
    if (!message.acknowledged) await message.reject({ requeue: false });
  } catch (rejectError) {
    log.warn("Cannot reject an undecodable message:", rejectError);
  }
}

/** Awaits a callback's promise, reporting its failure. */
export async function settled<T>(
  hooks: FailureHooks<T>,
  result: PromiseLike<unknown>,
  message: Message<T>,
): Promise<void> {
  try {
    await result;
  } catch (error) {
    reportError(hooks, error, message);
  }
}
