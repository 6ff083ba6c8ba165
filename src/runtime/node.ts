/**
 * The Node.js socket adapter: `node:net` and `node:tls` turned into a {@link Socket} of Web
 * Streams, with backpressure both ways.
 *
 * Reading: the socket is paused whenever the readable side's queue is full (`desiredSize <= 0`)
 * and resumed when the consumer pulls again. Writing: a chunk that fits in the socket's buffer
 * resolves at once; one that fills it resolves when the runtime has flushed it (its write
 * callback), so a fast producer waits for the network instead of growing memory.
 *
 * `node:net` and `node:tls` are imported when connecting, not at load time, so a bundler
 * (wrangler, esbuild without code splitting) that inlines this module into an edge bundle does
 * not turn them into static imports the edge runtime cannot resolve.
 *
 * @module
 */

import type * as net from "node:net";
import type * as tls from "node:tls";
import type { Socket, SocketOptions } from "../socket.ts";
import { importHidden } from "../_import.ts";
import type { TlsOptions } from "../transport.ts";
import { tlsSettings } from "./_tls.ts";

/** Bytes the readable side buffers before pausing the socket. */
const READ_HIGH_WATER_MARK = 256 * 1024;

/** A node:net / node:tls socket seen as a {@link Socket}. */
export class NodeSocket implements Socket {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  #socket: net.Socket;
  #closed = false;

  /**
   * Wraps a connected socket.
   *
   * @param socket a connected `net.Socket` or `tls.TLSSocket`
   */
  constructor(socket: net.Socket) {
    this.#socket = socket;
    const readable = duplexToReadable(socket);
    this.readable = readable;
    this.writable = duplexToWritable(socket);
  }

  /**
   * Closes both directions at once (pending unflushed bytes are dropped); safe to call twice.
   *
   * @returns a promise that resolves when the socket is closed
   */
  close(): Promise<void> {
    const socket = this.#socket;
    if (this.#closed || socket.destroyed) {
      this.#closed = true;
      return Promise.resolve();
    }
    this.#closed = true;
    return new Promise((resolve) => {
      socket.once("close", () => resolve());
      socket.destroy();
    });
  }
}

function asBytes(chunk: Uint8Array): Uint8Array {
  // A Buffer is a Uint8Array already; hand out a plain view so consumers see one type everywhere.
  return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function duplexToReadable(socket: net.Socket): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        socket.on("data", (chunk: Uint8Array) => {
          if (done) return;
          controller.enqueue(asBytes(chunk));
          if ((controller.desiredSize ?? 1) <= 0) socket.pause();
        });
        socket.once("end", () => {
          if (done) return;
          done = true;
          controller.close();
        });
        socket.on("error", (error: Error) => {
          if (done) return;
          done = true;
          controller.error(error);
        });
        // A local destroy() emits "close" without "end": the stream ends without an error.
        socket.once("close", () => {
          if (done) return;
          done = true;
          controller.close();
        });
      },
      pull() {
        if (socket.isPaused()) socket.resume();
      },
      cancel() {
        done = true;
        socket.destroy();
      },
    },
    { highWaterMark: READ_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
  );
}

function duplexToWritable(socket: net.Socket): WritableStream<Uint8Array> {
  let failure: Error | undefined;
  socket.on("error", (error: Error) => {
    failure ??= error;
  });
  return new WritableStream<Uint8Array>({
    write(chunk) {
      if (failure !== undefined) return Promise.reject(failure);
      if (socket.destroyed || socket.writableEnded) {
        return Promise.reject(new Error("Socket is closed"));
      }
      return new Promise<void>((resolve, reject) => {
        let settled = false;
        const fits = socket.write(chunk, (error) => {
          if (settled) return;
          settled = true;
          if (error) reject(error);
          else resolve();
        });
        // Below the high water mark the bytes are queued in the runtime; later failures surface
        // through the next write and through `readable`.
        if (fits && !settled) {
          settled = true;
          resolve();
        }
      });
    },
    close() {
      if (socket.destroyed || socket.writableEnded) return;
      return new Promise<void>((resolve) => {
        socket.end(() => resolve());
      });
    },
    abort() {
      socket.destroy();
    },
  });
}

function tlsConnectOptions(
  netModule: typeof net,
  tlsModule: typeof tls,
  options: SocketOptions,
  settings: TlsOptions,
): tls.ConnectionOptions {
  const result: tls.ConnectionOptions = {
    rejectUnauthorized: settings.rejectUnauthorized ?? true,
  };
  const serverName = settings.serverName ?? options.hostname;
  // SNI takes host names only; an IP literal is still checked against the certificate.
  if (netModule.isIP(serverName) === 0) result.servername = serverName;
  if (settings.serverName !== undefined) {
    const expected = settings.serverName;
    result.checkServerIdentity = (_host, cert) => tlsModule.checkServerIdentity(expected, cert);
  }
  if (settings.ca !== undefined) result.ca = settings.ca;
  if (settings.cert !== undefined) result.cert = settings.cert;
  if (settings.key !== undefined) result.key = settings.key;
  return result;
}

/**
 * Connects with `node:net` (or `node:tls` when `options.tls` is set).
 *
 * Certificates and the host name are verified unless `tls.rejectUnauthorized` is false; the
 * name checked is `tls.serverName`, else `hostname`. Unix sockets go by `options.path`.
 *
 * @param options where and how to connect; `signal` aborts the attempt
 * @returns the connected socket
 * @throws {ConfigurationError} when TLS is asked for a unix socket path
 * @throws {Error} the runtime's error when connecting fails (the caller wraps it)
 */
export async function connectNode(options: SocketOptions): Promise<Socket> {
  const settings = tlsSettings(options);
  const netModule = await importHidden<typeof net>("node:net");
  const tlsModule = settings === undefined ? undefined : await importHidden<typeof tls>("node:tls");
  return await new Promise<Socket>((resolve, reject) => {
    const signal = options.signal;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const ready = settings === undefined ? "connect" : "secureConnect";
    const socket: net.Socket = settings === undefined || tlsModule === undefined
      ? options.path !== undefined
        ? netModule.connect({ path: options.path })
        : netModule.connect({ host: options.hostname, port: options.port })
      : tlsModule.connect({
        host: options.hostname,
        port: options.port,
        ...tlsConnectOptions(netModule, tlsModule, options, settings),
      });
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(signal?.reason);
    };
    const onError = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onReady = (): void => {
      cleanup();
      if (options.path === undefined) socket.setNoDelay(options.noDelay ?? true);
      resolve(new NodeSocket(socket));
    };
    const cleanup = (): void => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      socket.off(ready, onReady);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once(ready, onReady);
  });
}
