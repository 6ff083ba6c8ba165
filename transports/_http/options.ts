/**
 * The options the HTTP queues (SQS, Azure Storage Queues) share: how a call is retried and the
 * `fetch` it goes through. Declared once; each transport's declaration spreads them.
 *
 * @module
 */

import type { OptionSpec } from "../../src/options/declare.ts";

/** Retry and `fetch` options of an HTTP queue, by camelCase name (wakame's own). */
export const HTTP_CALL_OPTIONS = {
  maxAttempts: {
    kind: "integer",
    default: 5,
    min: 1,
    max: 100,
    own: true,
    doc: "Attempts per call, first included",
  },
  retryBaseDelay: {
    kind: "duration",
    default: 50,
    min: 0,
    max: 60_000,
    own: true,
    doc: "Upper bound of the first retry wait",
  },
  maxRetryDelay: {
    kind: "duration",
    default: 5000,
    min: 0,
    max: 600_000,
    own: true,
    doc: "Upper bound of any retry wait",
  },
  fetch: { kind: "function", own: true, doc: "The `fetch` requests go through" },
} as const satisfies Record<string, OptionSpec>;
