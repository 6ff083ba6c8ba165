/**
 * The Deno socket adapter: `Deno.connect`, `Deno.startTls` / `Deno.connectTls`, and unix
 * sockets. Deno's `Conn` already speaks Web Streams; this adapter only adds TLS settings,
 * `noDelay` and an orderly end of `readable` on a local close.
 *
 * @module
 */

import type { Socket, SocketOptions } from "../socket.ts";
import { ConfigurationError } from "../errors.ts";
import type { TlsOptions } from "../transport.ts";
import { tlsSettings } from "./_tls.ts";
import { endOnLocalClose } from "./_streams.ts";

/** A Deno `Conn` seen as a {@link Socket}. */
export class DenoSocket implements Socket {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  #conn: Deno.Conn;
  #closed = false;

  /**
   * Wraps a connected `Deno.Conn`.
   *
   * @param conn a TCP, TLS or unix connection
   */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.readable = endOnLocalClose(conn.readable, () => this.#closed);
    this.writable = conn.writable;
  }

  /**
   * Closes both directions; safe to call twice.
   *
   * @returns a promise that resolves once the connection is closed
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Closing the writable already released the connection.
    }
    return Promise.resolve();
  }
}

function caList(ca: string | string[] | undefined): string[] | undefined {
  if (ca === undefined) return undefined;
  return Array.isArray(ca) ? ca : [ca];
}

async function connectSecure(options: SocketOptions, settings: TlsOptions): Promise<Deno.Conn> {
  const where = `${options.hostname}:${options.port}`;
  if (settings.rejectUnauthorized === false) {
    throw new ConfigurationError(
      `Cannot connect to ${where}: Deno cannot skip certificate checks per connection ` +
        `(run with --unsafely-ignore-certificate-errors, or pass tls.ca)`,
    );
  }
  const caCerts = caList(settings.ca);
  const serverName = settings.serverName ?? options.hostname;
  if (settings.cert !== undefined || settings.key !== undefined) {
    if (settings.cert === undefined || settings.key === undefined) {
      throw new ConfigurationError(`Cannot connect to ${where}: tls.cert needs tls.key`);
    }
    if (serverName !== options.hostname) {
      throw new ConfigurationError(
        `Cannot connect to ${where}: Deno cannot combine a client certificate with ` +
          `tls.serverName "${serverName}"`,
      );
    }
    const conn = await Deno.connectTls({
      hostname: options.hostname,
      port: options.port,
      cert: settings.cert,
      key: settings.key,
      ...(caCerts === undefined ? {} : { caCerts }),
    });
    await handshakeOrClose(conn);
    return conn;
  }
  // Plain TCP first, so noDelay can be set and the verified name can differ from the address.
  const tcp = await Deno.connect({ hostname: options.hostname, port: options.port });
  tcp.setNoDelay(options.noDelay ?? true);
  const conn = await Deno.startTls(tcp, {
    hostname: serverName,
    ...(caCerts === undefined ? {} : { caCerts }),
  });
  await handshakeOrClose(conn);
  return conn;
}

async function handshakeOrClose(conn: Deno.TlsConn): Promise<void> {
  try {
    // Certificate and name errors surface here, at connect time, not on the first read.
    await conn.handshake();
  } catch (error) {
    try {
      conn.close();
    } catch {
      // Already gone.
    }
    throw error;
  }
}

/**
 * Connects with Deno's own APIs: `Deno.connect` (TCP or `transport: "unix"`), and
 * `Deno.startTls` / `Deno.connectTls` for TLS with `tls.ca` as extra roots and the host name
 * (or `tls.serverName`) verified. The TLS handshake completes before this resolves.
 *
 * @param options where and how to connect
 * @returns the connected socket
 * @throws {ConfigurationError} for TLS settings Deno cannot honour (`rejectUnauthorized: false`,
 *   a client certificate with another server name, TLS over a unix socket)
 * @throws {Error} Deno's error when connecting fails (the caller wraps it)
 */
export async function connectDeno(options: SocketOptions): Promise<Socket> {
  const settings = tlsSettings(options);
  if (options.path !== undefined) {
    return new DenoSocket(await Deno.connect({ transport: "unix", path: options.path }));
  }
  if (settings !== undefined) return new DenoSocket(await connectSecure(options, settings));
  const conn = await Deno.connect({ hostname: options.hostname, port: options.port });
  conn.setNoDelay(options.noDelay ?? true);
  return new DenoSocket(conn);
}
