/**
 * The options of the ZooKeeper transport, read in one place. Kombu's ZooKeeper transport has no
 * transport options of its own (kazoo's defaults: a 10 s session); wakame reads its own in
 * camelCase (ms) and Kombu-style snake_case (seconds).
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import type { SocketFactory } from "../../src/socket.ts";
import type { ConnectionParams } from "../../src/transport.ts";

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
  /** Servers: the URL's host. */
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

function duration(o: Record<string, unknown>, camel: string, snake: string, fallback: number) {
  const value = o[camel] !== undefined
    ? Number(o[camel])
    : o[snake] !== undefined
    ? Number(o[snake]) * 1000
    : fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(
      `Invalid ZooKeeper transport option ${o[camel] !== undefined ? camel : snake}: ` +
        "expected a duration > 0",
    );
  }
  return value;
}

/**
 * Reads the settings of one connection from its URL (`zookeeper://host:port/vhost`) and
 * `transportOptions`.
 *
 * @param params the connection parameters
 * @returns the settings
 * @throws {ConfigurationError} for an invalid option
 */
export function readZooKeeperSettings(params: ConnectionParams): ZooKeeperSettings {
  const o = params.transportOptions;
  const factory = o.socketFactory;
  if (factory !== undefined && typeof factory !== "function") {
    throw new ConfigurationError("Invalid ZooKeeper transport option socketFactory");
  }
  return {
    hosts: [{
      hostname: params.hostname || "localhost",
      port: params.port ?? ZOOKEEPER_DEFAULT_PORT,
    }],
    sessionTimeout: duration(o, "sessionTimeout", "session_timeout", 10_000),
    connectTimeout: duration(o, "connectTimeout", "connect_timeout", 10_000),
    ackEmulation: o.ackEmulation !== false && o.ack_emulation !== false,
    sweepInterval: duration(o, "sweepInterval", "sweep_interval", 5000),
    socketFactory: factory as SocketFactory | undefined,
  };
}
