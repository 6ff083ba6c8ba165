/**
 * The runtime seam: a byte stream to a broker, whatever the runtime.
 *
 * Protocol code (AMQP frames, RESP) sits above this seam and is written once. The adapters in
 * `src/runtime/` (Deno, Bun, Node, Cloudflare) each turn their runtime's socket into a
 * {@link Socket}; {@link SocketFactory} picks or injects one per connection.
 *
 * @module
 */

import type { TlsOptions } from "./transport.ts";

/** A connected byte stream (the shape of Deno's `Conn` and `cloudflare:sockets`). */
export interface Socket {
  /** Bytes from the peer. Ends when the peer closes; errors when the socket fails. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes both directions; safe to call twice. */
  close(): Promise<void>;
}

/** Where and how to connect. */
export interface SocketOptions {
  /** Host name or address. */
  hostname: string;
  /** TCP port (ignored with `path`). */
  port: number;
  /** Unix socket path, where the runtime has them. */
  path?: string;
  /** TLS: off when absent or false; certificate and hostname verified unless told otherwise. */
  tls?: boolean | TlsOptions;
  /** Aborts connecting. */
  signal?: AbortSignal;
  /** Milliseconds to wait for the connection. */
  timeout?: number;
  /** Disable Nagle's algorithm (default true). */
  noDelay?: boolean;
}

/** Opens sockets; injectable per connection (`transportOptions.socketFactory`). */
export type SocketFactory = (options: SocketOptions) => Promise<Socket>;
