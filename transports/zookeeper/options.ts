/**
 * The options of the ZooKeeper transport, declared once ({@link ZOOKEEPER_OPTIONS}). Kombu's
 * ZooKeeper transport has no transport options of its own (kazoo's defaults: a 10 s session);
 * wakame reads its own in camelCase (ms), Kombu-style snake_case (seconds) and the URL query
 * (snake_case, seconds: `?session_timeout=30`).
 *
 * @module
 */

import { declareOptions, type OptionSpec, readOptions } from "../../src/options/declare.ts";
import { VIRTUAL_OPTIONS } from "../../src/virtual/options.ts";
import type { SocketFactory } from "../../src/socket.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import { parseUrl } from "../../src/url.ts";

/** Kombu's ZooKeeper port. */
export const ZOOKEEPER_DEFAULT_PORT = 2181;

/** `transportOptions` of `zookeeper://`. */
export interface ZooKeeperTransportOptions {
  /**
   * Session timeout asked of the server, ms (kazoo's 10 s; `session_timeout` in seconds): how
   * long a silent consumer's deliveries stay held before another takes them back.
   */
  sessionTimeout?: number;
  /** Milliseconds to connect (`connect_timeout` in seconds; default 10 s). */
  connectTimeout?: number;
  /**
   * Keep delivered messages in session records until settled (default true); false is
   * Kombu's behaviour (delete on read, unacked messages only in memory).
   */
  ackEmulation?: boolean;
  /** Milliseconds between sweeps for the records of ended sessions (default 5000). */
  sweepInterval?: number;
  /** Opens sockets (default: the runtime's). */
  socketFactory?: SocketFactory;
}

/** The options with their defaults. */
export interface ZooKeeperSettings {
  /** Servers: the URL's host, then those of the connection's other URLs. */
  readonly hosts: { readonly hostname: string; readonly port: number }[];
  /** Session timeout, ms. */
  readonly sessionTimeout: number;
  /** Connect timeout, ms. */
  readonly connectTimeout: number;
  /** Keep deliveries in records. */
  readonly ackEmulation: boolean;
  /** Sweep interval, ms. */
  readonly sweepInterval: number;
  /** Opens sockets. */
  readonly socketFactory?: SocketFactory;
}

/** Every option of the ZooKeeper transport (with the virtual base's), declared once. */
export const ZOOKEEPER_OPTIONS = declareOptions("ZooKeeper", {
  ...VIRTUAL_OPTIONS,
  sessionTimeout: {
    kind: "duration",
    default: 10_000,
    min: 1,
    own: true,
    doc: "Session timeout asked of the server (kazoo's 10 s): how long a silent consumer's " +
      "deliveries stay held",
  },
  connectTimeout: {
    kind: "duration",
    default: 10_000,
    min: 1,
    own: true,
    doc: "Time to connect to a server",
  },
  ackEmulation: {
    kind: "boolean",
    default: true,
    own: true,
    doc: "Keep delivered messages in session records until settled (false: Kombu's way)",
  },
  sweepInterval: {
    kind: "duration",
    default: 5000,
    min: 1,
    own: true,
    doc: "Time between sweeps for the records of ended sessions",
  },
  socketFactory: {
    kind: "function",
    own: true,
    doc: "Opens sockets (default: the runtime's)",
  },
});

// The compiler checks that every option of the public interface is declared.
const _declared: Record<keyof ZooKeeperTransportOptions, OptionSpec> = ZOOKEEPER_OPTIONS.options;

/**
 * Reads the settings of one connection from its URL (`zookeeper://host:port/vhost`) and
 * `transportOptions`.
 *
 * @param params the connection parameters
 * @returns the settings
 * @throws {ConfigurationError} for an invalid or unknown option (naming the closest one)
 */
export function readZooKeeperSettings(params: ConnectionParams): ZooKeeperSettings {
  const o = readOptions(ZOOKEEPER_OPTIONS, params);
  return {
    hosts: zooKeeperHosts(params),
    sessionTimeout: o.sessionTimeout,
    connectTimeout: o.connectTimeout,
    ackEmulation: o.ackEmulation,
    sweepInterval: o.sweepInterval,
    socketFactory: o.socketFactory as SocketFactory | undefined,
  };
}

/**
 * The servers of one connection, as Kombu gives them to kazoo: the URL's host first, then the
 * hosts of the connection's other URLs (`zookeeper://h1:2181;zookeeper://h2:2181`), each once.
 *
 * @param params the connection parameters
 * @returns host and port of each server
 */
export function zooKeeperHosts(
  params: Pick<ConnectionParams, "hostname" | "port" | "alternates">,
): { hostname: string; port: number }[] {
  const hosts = [{
    hostname: params.hostname || "localhost",
    port: params.port ?? ZOOKEEPER_DEFAULT_PORT,
  }];
  for (const url of params.alternates ?? []) {
    const parts = parseUrl(url);
    const host = {
      hostname: parts.hostname || "localhost",
      port: parts.port ?? ZOOKEEPER_DEFAULT_PORT,
    };
    if (!hosts.some((h) => h.hostname === host.hostname && h.port === host.port)) {
      hosts.push(host);
    }
  }
  return hosts;
}
