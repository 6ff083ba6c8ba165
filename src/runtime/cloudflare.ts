/**
 * The Cloudflare Workers socket adapter: `connect()` of `cloudflare:sockets`, which already has
 * the {@link Socket} shape. TLS is Cloudflare's (`secureTransport: "on"`): public CAs only, the
 * host name verified, no client certificates, no unix sockets; asking for more throws instead
 * of connecting with weaker settings.
 *
 * @module
 */

import type { Socket, SocketOptions } from "../socket.ts";
import { ConfigurationError } from "../errors.ts";
import { importHidden } from "../_import.ts";

/** The part of a `cloudflare:sockets` socket this adapter uses. */
export interface CloudflareRawSocket {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves once connected; rejects when connecting fails. */
  readonly opened: Promise<unknown>;
  /** Closes the socket. */
  close(): Promise<void>;
}

/** `connect` of `cloudflare:sockets`. */
export type CloudflareConnect = (
  address: { hostname: string; port: number },
  options: { secureTransport: "on" | "off"; allowHalfOpen: boolean },
) => CloudflareRawSocket;

/** A `cloudflare:sockets` socket seen as a {@link Socket} (close made idempotent). */
export class CloudflareSocket implements Socket {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  #raw: CloudflareRawSocket;
  #closing: Promise<void> | undefined;

  /**
   * Wraps an opened socket.
   *
   * @param raw the socket `connect()` returned, after `opened` resolved
   */
  constructor(raw: CloudflareRawSocket) {
    this.#raw = raw;
    this.readable = raw.readable;
    this.writable = raw.writable;
  }

  /**
   * Closes both directions; safe to call twice.
   *
   * @returns a promise that resolves once the socket is closed
   */
  close(): Promise<void> {
    this.#closing ??= this.#raw.close().catch(() => undefined);
    return this.#closing;
  }
}

/**
 * Connects with a given `cloudflare:sockets` `connect` (the seam {@link connectCloudflare} uses;
 * exported for tests).
 *
 * @param connect the `connect` function of `cloudflare:sockets`
 * @param options where and how to connect
 * @returns the opened socket
 * @throws {ConfigurationError} for unix paths and TLS settings Workers cannot honour
 * @throws {Error} the runtime's error when opening fails (the caller wraps it)
 */
export async function connectCloudflareWith(
  connect: CloudflareConnect,
  options: SocketOptions,
): Promise<Socket> {
  const where = `${options.hostname}:${options.port}`;
  if (options.path !== undefined) {
    throw new ConfigurationError(`Cannot connect to "${options.path}": no unix sockets on Workers`);
  }
  const tls = options.tls;
  if (typeof tls === "object") {
    const refused = tls.caFile !== undefined || tls.certFile !== undefined ||
        tls.keyFile !== undefined
      ? "TLS files (ssl_ca_certs, ssl_certfile, ssl_keyfile: Workers cannot read files)"
      : tls.ca !== undefined
      ? "tls.ca (custom CAs)"
      : tls.cert !== undefined || tls.key !== undefined
      ? "tls.cert/tls.key (client certificates)"
      : tls.rejectUnauthorized === false
      ? "tls.rejectUnauthorized false"
      : tls.serverName !== undefined && tls.serverName !== options.hostname
      ? `tls.serverName "${tls.serverName}"`
      : undefined;
    if (refused !== undefined) {
      throw new ConfigurationError(
        `Cannot connect to ${where}: Workers sockets do not support ${refused}`,
      );
    }
  }
  if (options.signal?.aborted) throw options.signal.reason;
  const raw = connect(
    { hostname: options.hostname, port: options.port },
    { secureTransport: tls === undefined || tls === false ? "off" : "on", allowHalfOpen: false },
  );
  const onAbort = (): void => void raw.close().catch(() => undefined);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await raw.opened;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  return new CloudflareSocket(raw);
}

/**
 * Connects with `cloudflare:sockets`, loaded on first use.
 *
 * @param options where and how to connect
 * @returns the opened socket
 * @throws {ConfigurationError} for unix paths and TLS settings Workers cannot honour
 * @throws {Error} the runtime's error when opening fails (the caller wraps it)
 */
export async function connectCloudflare(options: SocketOptions): Promise<Socket> {
  // Hidden from type checkers and bundlers: only workerd resolves it.
  const module = await importHidden<{ connect: CloudflareConnect }>("cloudflare:sockets");
  return await connectCloudflareWith(module.connect, options);
}
