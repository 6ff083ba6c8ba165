/**
 * TLS settings from {@link SocketOptions}, the same for every runtime adapter.
 *
 * @module
 */

import { ConfigurationError } from "../errors.ts";
import type { SocketOptions } from "../socket.ts";
import type { TlsOptions } from "../transport.ts";

/**
 * The TLS settings of a connection: `tls: true` means verified TLS with the defaults, `false`
 * or absent means none.
 *
 * @param options the socket options
 * @returns the settings, or `undefined` for plain TCP or a unix socket
 * @throws {ConfigurationError} when TLS is asked for a unix socket path
 */
export function tlsSettings(options: SocketOptions): TlsOptions | undefined {
  const settings = options.tls === true
    ? {}
    : options.tls === false || options.tls === undefined
    ? undefined
    : options.tls;
  if (settings !== undefined && options.path !== undefined) {
    throw new ConfigurationError(`Cannot connect to "${options.path}": TLS over unix sockets`);
  }
  return settings;
}
