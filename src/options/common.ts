/**
 * Options every transport declares: Kombu's connection-retry keys, which Celery configurations
 * often put in `broker_transport_options` whatever the broker.
 *
 * @module
 */

import type { OptionSpec } from "./declare.ts";

const RETRY_DOC = "Kombu's retry of the first connect; ignored: wakame's `ensureConnection` and " +
  "`recoveryPolicy` take a retry policy";

/** Kombu's `max_retries`, `interval_start`, `interval_step`, `interval_max`: accepted, ignored. */
export const CONNECT_RETRY_OPTIONS = {
  maxRetries: { kind: "integer", min: 0, ignored: true, doc: RETRY_DOC },
  intervalStart: { kind: "duration", min: 0, ignored: true, doc: RETRY_DOC },
  intervalStep: { kind: "duration", min: 0, ignored: true, doc: RETRY_DOC },
  intervalMax: { kind: "duration", min: 0, ignored: true, doc: RETRY_DOC },
} as const satisfies Record<string, OptionSpec>;
