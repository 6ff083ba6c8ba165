/**
 * What a connection connects with (Kombu's `Connection.info()`), the password masked.
 *
 * @module
 */

import type { ConnectionParams, Transport } from "../transport.ts";
import { maskUrl } from "../url.ts";
import type { ConnectionOptions } from "./options.ts";
import { resolveParams } from "./params.ts";

/** The resolved parameters of a connection (Kombu's `info()` keys in camelCase). */
export interface ConnectionInfo {
  /** The transport's name (`amqp`, `redis`, `memory`, ...). */
  transport: string;
  /** Broker host (`localhost` when the URL names none). */
  hostname: string;
  /** Port: the URL's, else the transport's default, else undefined. */
  port: number | undefined;
  /** User name, if any. */
  userid: string | undefined;
  /** `**` when a password is set (Kombu shows it in clear; here it never leaves the connection). */
  password: string | undefined;
  /** Virtual host, database number, folder or prefix; `""` is the transport's default. */
  virtualHost: string;
  /** TLS on, off, or its options. */
  ssl: ConnectionParams["ssl"];
  /** Heartbeat interval in ms; 0 is off. */
  heartbeat: number;
  /** Connect timeout in ms. */
  connectTimeout: number;
  /** The URL's query options (as written: Kombu's names and units) under `transportOptions`. */
  transportOptions: Record<string, unknown>;
  /** `round-robin`, `shuffle` or `custom` (a function). */
  failoverStrategy: string;
  /** Every URL tried, in failover order, passwords masked. */
  alternates: string[];
}

/**
 * Resolves the current URL as a connect would, without connecting.
 *
 * @param url the current URL
 * @param urls every URL of the connection
 * @param options the connection's options
 * @param signal aborts loading the transport
 * @returns the info
 */
export async function connectionInfo(
  url: string,
  urls: readonly string[],
  options: ConnectionOptions,
  signal: AbortSignal,
): Promise<ConnectionInfo> {
  const { transport, params } = await resolveParams(url, options, signal);
  const strategy = options.failoverStrategy ?? "round-robin";
  const defaults = (transport as Transport).defaultConnectionParams ?? {};
  const userid = params.userid || defaults.userid || params.userid;
  return {
    transport: params.transport,
    hostname: params.hostname,
    port: params.port ?? (transport as Transport).defaultPort,
    userid,
    password: params.password || defaults.password || typeof options.password === "function"
      ? "**"
      : undefined,
    virtualHost: params.virtualHost || defaults.virtualHost || params.virtualHost,
    ssl: params.ssl,
    heartbeat: params.heartbeat * 1000,
    connectTimeout: params.connectTimeout,
    transportOptions: { ...params.queryOptions, ...params.transportOptions },
    failoverStrategy: typeof strategy === "function" ? "custom" : strategy,
    alternates: urls.map(maskUrl),
  };
}
