/**
 * The options of the etcd transport, read in one place. Kombu's etcd transport has no
 * transport options of its own (its channel's `prefix`, `timeout` and `lock_ttl` are class
 * attributes); wakame reads the same names where they mean the same thing: Kombu's snake_case
 * in Kombu's units (seconds), camelCase in milliseconds.
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import type { EtcdFetch } from "./client.ts";

/** Kombu's etcd port. */
export const ETCD_DEFAULT_PORT = 2379;

/**
 * `transportOptions` of `etcd://` (camelCase in ms; the snake_case names in seconds are read
 * too: `visibility_timeout`, `timeout`, `polling_interval`).
 */
export interface EtcdTransportOptions {
  /** Directory of the queues (Kombu's channel attribute `prefix`, `kombu`). */
  prefix?: string;
  /**
   * Milliseconds a delivered, unacknowledged message stays in wakame's `unacked` record before
   * any wakame consumer puts it back in its queue (default 1 800 000, 30 min; renewed while the
   * consumer lives). 0 keeps Kombu's behaviour: a delivered message exists only in the
   * consumer's memory.
   */
  visibilityTimeout?: number;
  /** Where the `unacked` records live (default `wakame.unacked`; outside Kombu's `prefix`). */
  unackedPrefix?: string;
  /** Milliseconds a request may take (Kombu's channel `timeout`, 10 s). */
  requestTimeout?: number;
  /** Attempts of a read when etcd cannot be reached or answers 5xx (default 3). */
  readAttempts?: number;
  /** Use https (default false; Kombu's etcd speaks http). */
  isSecure?: boolean;
  /** The `fetch` to send requests with (default: the global one). */
  fetch?: EtcdFetch;
}

/** The options with their defaults. */
export interface EtcdSettings {
  /** `http://host:port`. */
  readonly baseUrl: string;
  /** Queue directory, no slashes around it. */
  readonly prefix: string;
  /** Unacked directory, no slashes around it. */
  readonly unackedPrefix: string;
  /** Visibility timeout, ms; 0 for none. */
  readonly visibilityTimeout: number;
  /** Request timeout, ms. */
  readonly requestTimeout: number;
  /** Read attempts. */
  readonly readAttempts: number;
  /** The fetch. */
  readonly fetch?: EtcdFetch;
  /** Basic credentials of the URL. */
  readonly auth?: { readonly user: string; readonly password: string };
}

function duration(
  options: Record<string, unknown>,
  camel: string,
  snake: string,
  fallback: number,
): number {
  const ms = options[camel];
  const seconds = options[snake];
  const value = ms !== undefined
    ? Number(ms)
    : seconds !== undefined
    ? Number(seconds) * 1000
    : fallback;
  if (!Number.isFinite(value) || value < 0) {
    const given = ms !== undefined ? `${camel}: ${String(ms)}` : `${snake}: ${String(seconds)}`;
    throw new ConfigurationError(
      `Invalid etcd transport option ${given}: expected a duration >= 0`,
    );
  }
  return value;
}

function path(options: Record<string, unknown>, name: string, fallback: string): string {
  const value = options[name] ?? fallback;
  const trimmed = typeof value === "string" ? value.replace(/^\/+|\/+$/g, "") : "";
  if (trimmed === "") {
    throw new ConfigurationError(`Invalid etcd transport option ${name}: expected a key path`);
  }
  return trimmed;
}

/**
 * Reads the settings of one connection from its URL (`etcd://host:port`, Kombu's form;
 * default `localhost:2379`) and `transportOptions`.
 *
 * @param params the connection parameters
 * @returns the settings
 * @throws {ConfigurationError} for an invalid option
 */
export function readEtcdSettings(params: ConnectionParams): EtcdSettings {
  const o = params.transportOptions;
  const host = params.hostname || "localhost";
  const port = params.port ?? ETCD_DEFAULT_PORT;
  const secure = o.isSecure === true || o.is_secure === true;
  const fetchOption = o.fetch;
  if (fetchOption !== undefined && typeof fetchOption !== "function") {
    throw new ConfigurationError("Invalid etcd transport option fetch: expected a function");
  }
  const attempts = Number(o.readAttempts ?? 3);
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new ConfigurationError("Invalid etcd transport option readAttempts: expected >= 1");
  }
  return {
    baseUrl: `${secure ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`,
    prefix: path(o, "prefix", "kombu"),
    unackedPrefix: path(o, "unackedPrefix", "wakame.unacked"),
    visibilityTimeout: duration(o, "visibilityTimeout", "visibility_timeout", 1_800_000),
    requestTimeout: duration(o, "requestTimeout", "timeout", 10_000) || 10_000,
    readAttempts: attempts,
    fetch: fetchOption as EtcdFetch | undefined,
    auth: params.userid ? { user: params.userid, password: params.password ?? "" } : undefined,
  };
}
