/**
 * The Pyro transport's options, declared once ({@link PYRO_OPTIONS}). Kombu's Pyro transport
 * has no transport options of its own: wakame adds its call timeout and socket factory, and reads
 * the virtual base's options in Kombu's names and units.
 *
 * @module
 */

import { declareOptions, readOptions } from "../../src/options/declare.ts";
import type { SocketFactory } from "../../src/socket.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import { VIRTUAL_OPTIONS } from "../../src/virtual/options.ts";

/** Kombu's name server port (`kombu.transport.pyro.DEFAULT_PORT`, Pyro's `NS_PORT`). */
export const PYRO_DEFAULT_PORT = 9090;
/** The name Kombu's broker daemon registers (`python3 -m kombu.transport.pyro`). */
export const PYRO_DEFAULT_BROKER_NAME = "kombu.broker";

/** Every option of `pyro://` (with the virtual base's), declared once. */
export const PYRO_OPTIONS = declareOptions("Pyro", {
  ...VIRTUAL_OPTIONS,
  requestTimeout: {
    kind: "duration",
    default: 10_000,
    min: 0,
    own: true,
    doc: "Longest wait to connect and for each call's answer (0: no limit)",
  },
  socketFactory: {
    kind: "function",
    own: true,
    doc: "Opens the TCP sockets (default: the runtime's)",
  },
});

/** The `transportOptions` of `pyro://` (camelCase, ms). */
export interface PyroTransportOptions {
  /** Longest wait to connect and for each call's answer, ms (default 10 000; 0: no limit). */
  requestTimeout?: number;
  /** Opens the TCP sockets (default: the runtime's). */
  socketFactory?: SocketFactory;
}

/** The settings of one connection. */
export interface PyroSettings {
  /** Host of the name server. */
  readonly nameServerHost: string;
  /** Port of the name server. */
  readonly nameServerPort: number;
  /** The name the broker is registered under. */
  readonly brokerName: string;
  /** Call timeout, ms (0: none). */
  readonly requestTimeout: number;
  /** The socket factory, when given. */
  readonly socketFactory?: SocketFactory;
}

/**
 * Reads the settings of one connection: `pyro://host[:port]/name` (Kombu's form; the name
 * server at `host`, port 9090 unless given, `kombu.broker` when the path is empty).
 *
 * @param params the connection parameters
 * @returns the settings
 * @throws {ConfigurationError} for an unknown option or a wrong value
 */
export function readPyroSettings(params: ConnectionParams): PyroSettings {
  const o = readOptions(PYRO_OPTIONS, params);
  const vhost = params.virtualHost.replace(/^\/+/, "");
  return {
    nameServerHost: params.hostname || "localhost",
    nameServerPort: params.port ?? PYRO_DEFAULT_PORT,
    brokerName: vhost === "" ? PYRO_DEFAULT_BROKER_NAME : vhost,
    requestTimeout: o.requestTimeout,
    socketFactory: o.socketFactory as SocketFactory | undefined,
  };
}
