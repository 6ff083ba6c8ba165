/**
 * The options of a `Connection` (Kombu's keyword arguments in camelCase; durations in ms).
 *
 * @module
 */

import type { RetryPolicy } from "../retry.ts";
import type { TlsOptions, Transport } from "../transport.ts";
import type { PasswordProvider } from "./credentials.ts";

/** Picks the order in which failover URLs are tried. */
export type FailoverStrategy = (urls: readonly string[]) => Iterator<string>;

/** Options of a {@link Connection} (Kombu's keyword arguments in camelCase; durations in ms). */
export interface ConnectionOptions {
  /** More URLs to fail over to (added after those of the `;`-separated URL). */
  alternates?: string[];
  /** `round-robin` (default), `shuffle`, or a function yielding URLs forever. */
  failoverStrategy?: "round-robin" | "shuffle" | FailoverStrategy;
  /** Use this transport instead of the URL's scheme (a name or a Transport object). */
  transport?: string | Transport;
  /**
   * Options for the transport, over the URL's query: camelCase names in wakame's units
   * (durations in ms) or Kombu's snake_case names in Kombu's units (a Celery
   * `broker_transport_options` dictionary as it is). Unknown names fail with the closest one.
   */
  transportOptions?: Record<string, unknown>;
  /** Milliseconds to wait for one connection attempt (default 4000, Kombu's 4 s). */
  connectTimeout?: number;
  /** Heartbeat interval in milliseconds (sent in whole seconds); 0 = off (default). */
  heartbeat?: number;
  /** TLS: true, or options (certificates are verified unless told otherwise). */
  ssl?: boolean | TlsOptions;
  /** Overrides the URL's user name. */
  userid?: string;
  /**
   * Overrides the URL's password; a function is called at every connect (a rotating password,
   * a short-lived token) and its value never shown (see {@link PasswordProvider}).
   */
  password?: string | PasswordProvider;
  /** Overrides the URL's host. */
  hostname?: string;
  /** Overrides the URL's port. */
  port?: number;
  /** Overrides the URL's virtual host. */
  virtualHost?: string;
  /** How consumers reconnect after a loss (default: forever, 1 s growing to 30 s, jitter). */
  recoveryPolicy?: RetryPolicy;
}
