/**
 * Kombu's pidbox wire format: the request body, the reply shape, and the small conversions
 * between JavaScript values and what Python reads (`repr` of an error, `None`, header numbers).
 *
 * @module
 */

import type { FieldTable } from "../transport.ts";

/** Seconds Kombu keeps an unused reply queue (`REPLY_QUEUE_EXPIRES`), in ms. */
export const REPLY_QUEUE_EXPIRES = 10_000;

/** A reply as it travels: the replying node's hostname mapped to its result. */
export type PidboxReply = Record<string, unknown>;

/** The body of a pidbox request, as Kombu writes it (snake_case: it is wire data). */
export interface PidboxRequest {
  /** The command. */
  method: string;
  /** Its keyword arguments. */
  arguments: Record<string, unknown>;
  /** Hostnames that should run it; `null` for all. */
  destination: string[] | null;
  /** A pattern the hostname must match (with `matcher`), or `null`. */
  pattern: string | null;
  /** The matcher's name (`glob`, `pcre`), or `null`. */
  matcher: string | null;
  /** Present for calls: pairs replies with the request. */
  ticket?: string;
  /** Present for calls: where replies go. */
  reply_to?: { exchange: string; routing_key: string };
}

/** Kombu's `repr(exc)` for the common cases: `KeyError('ping')`. */
export function reprError(error: unknown): string {
  if (error instanceof Error) return `${error.name}(${pyQuote(error.message)})`;
  return `Exception(${pyQuote(String(error))})`;
}

function pyQuote(text: string): string {
  return text.includes("'") && !text.includes('"')
    ? `"${text}"`
    : `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** JSON has no `undefined`: a handler that returns nothing answers `null`, as Python's None. */
export function wireValue(value: unknown): unknown {
  return value === undefined ? null : value;
}

/** A number from a header that Python may have written as an int, a float or a string. */
export function headerNumber(headers: FieldTable | undefined, key: string): number {
  const value = headers?.[key];
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "") return Number(value) || 0;
  return 0;
}
