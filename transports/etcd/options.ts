/**
 * The options of the etcd transport, declared once ({@link ETCD_OPTIONS}). Kombu's etcd
 * transport has no transport options of its own (its channel's `prefix`, `timeout` and
 * `lock_ttl` are class attributes); wakame reads the same names where they mean the same thing:
 * camelCase in milliseconds, Kombu's snake_case in seconds, the URL query in Kombu's names and
 * units (`?visibility_timeout=60`).
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import { declareOptions, type OptionSpec, readOptions } from "../../src/options/declare.ts";
import { VIRTUAL_OPTIONS } from "../../src/virtual/options.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import type { EtcdFetch } from "./client.ts";

/** Kombu's etcd port. */
export const ETCD_DEFAULT_PORT = 2379;

/**
 * `transportOptions` of `etcd://` (camelCase in ms; the snake_case names in seconds are read
 * too: `visibility_timeout`, `timeout`, `polling_interval`), with the virtual base's options.
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

/** Every option of the etcd transport (with the virtual base's), declared once. */
export const ETCD_OPTIONS = declareOptions("etcd", {
  ...VIRTUAL_OPTIONS,
  prefix: {
    kind: "string",
    default: "kombu",
    own: true,
    doc: "Directory of the queues (Kombu's channel attribute `prefix`)",
  },
  visibilityTimeout: {
    kind: "duration",
    default: 1_800_000,
    min: 0,
    own: true,
    doc: "Time a delivered, unacknowledged message is held before it goes back (0: Kombu's way)",
  },
  unackedPrefix: {
    kind: "string",
    default: "wakame.unacked",
    own: true,
    doc: "Directory of the unacknowledged records (outside `prefix`)",
  },
  requestTimeout: {
    kind: "duration",
    kombu: "timeout",
    default: 10_000,
    min: 0,
    own: true,
    doc: "Time a request may take (Kombu's channel attribute `timeout`)",
  },
  readAttempts: {
    kind: "integer",
    default: 3,
    min: 1,
    own: true,
    doc: "Attempts of a read when etcd cannot be reached or answers 5xx",
  },
  isSecure: { kind: "boolean", default: false, own: true, doc: "Use https" },
  fetch: {
    kind: "function",
    own: true,
    doc: "The `fetch` requests are sent with (default: the global one)",
  },
});

// The compiler checks that every option of the public interface is declared.
const _declared: Record<keyof EtcdTransportOptions, OptionSpec> = ETCD_OPTIONS.options;

function path(value: string, name: string): string {
  const trimmed = value.replace(/^\/+|\/+$/g, "");
  if (trimmed === "") {
    throw new ConfigurationError(`Cannot use etcd option "${name}": expected a key path`);
  }
  return trimmed;
}

/**
 * Reads the settings of one connection from its URL (`etcd://host:port`, Kombu's form;
 * default `localhost:2379`) and `transportOptions`.
 *
 * @param params the connection parameters
 * @returns the settings
 * @throws {ConfigurationError} for an invalid or unknown option (naming the closest one)
 */
export function readEtcdSettings(params: ConnectionParams): EtcdSettings {
  const o = readOptions(ETCD_OPTIONS, params);
  const host = params.hostname || "localhost";
  const port = params.port ?? ETCD_DEFAULT_PORT;
  return {
    baseUrl: `${o.isSecure ? "https" : "http"}://${
      host.includes(":") ? `[${host}]` : host
    }:${port}`,
    prefix: path(o.prefix, "prefix"),
    unackedPrefix: path(o.unackedPrefix, "unackedPrefix"),
    visibilityTimeout: o.visibilityTimeout,
    requestTimeout: o.requestTimeout || 10_000,
    readAttempts: o.readAttempts,
    fetch: o.fetch as EtcdFetch | undefined,
    auth: params.userid ? { user: params.userid, password: params.password ?? "" } : undefined,
  };
}
