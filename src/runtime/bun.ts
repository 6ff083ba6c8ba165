/**
 * The Bun socket adapter: Bun's own `Bun.connect` (not its `node:net` layer) turned into a
 * {@link Socket} of Web Streams, in this one place.
 *
 * Backpressure: Bun's `write()` takes what the kernel accepts and returns that count; the rest
 * is kept here and written on `drain`, and the writable's promise resolves only when every byte
 * of the chunk is out. On the reading side the socket is paused while the readable's queue is
 * full and resumed when the consumer pulls.
 *
 * @module
 */

import type { Socket, SocketOptions } from "../socket.ts";
import { ConfigurationError } from "../errors.ts";
import type { TlsOptions } from "../transport.ts";
import { tlsSettings } from "./_tls.ts";

/** Bytes the readable side buffers before pausing the socket. */
const READ_HIGH_WATER_MARK = 256 * 1024;

/** The part of Bun's socket this adapter uses. */
interface BunTcpSocket {
  write(data: Uint8Array): number;
  pause?(): void;
  resume?(): void;
  setNoDelay?(noDelay?: boolean): boolean;
  terminate(): void;
  end(): void;
  readonly authorized?: boolean;
}

interface BunHandlers {
  binaryType: "uint8array";
  open(socket: BunTcpSocket): void;
  handshake?(socket: BunTcpSocket, success: boolean, authorizationError: Error | null): void;
  data(socket: BunTcpSocket, data: Uint8Array): void;
  drain(socket: BunTcpSocket): void;
  end(socket: BunTcpSocket): void;
  close(socket: BunTcpSocket, error?: Error): void;
  error(socket: BunTcpSocket, error: Error): void;
  connectError(socket: BunTcpSocket, error: Error): void;
}

interface BunConnectOptions {
  hostname?: string;
  port?: number;
  unix?: string;
  tls?: Record<string, unknown>;
  socket: BunHandlers;
}

interface BunGlobal {
  connect(options: BunConnectOptions): Promise<BunTcpSocket>;
}

/** A write waiting for `drain`: the bytes not yet taken and who to tell. */
interface PendingWrite {
  rest: Uint8Array;
  resolve(): void;
  reject(error: Error): void;
}

/** A Bun TCP/TLS socket seen as a {@link Socket}. */
export class BunSocket implements Socket {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  #socket: BunTcpSocket | undefined;
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #readDone = false;
  #paused = false;
  #pending: PendingWrite | undefined;
  #failure: Error | undefined;
  #closed = false;
  #gone = false;
  #onGone: (() => void)[] = [];

  /** Makes the streams; the socket is attached once `Bun.connect` opens it. */
  constructor() {
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#readController = controller;
        },
        pull: () => {
          if (this.#paused && this.#socket !== undefined) {
            this.#paused = false;
            this.#socket.resume?.();
          }
        },
        cancel: () => {
          this.#readDone = true;
          void this.close();
        },
      },
      { highWaterMark: READ_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    );
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
      close: () => this.close(),
      abort: () => this.close(),
    });
  }

  #attach(socket: BunTcpSocket): void {
    this.#socket = socket;
  }

  #onData(chunk: Uint8Array): void {
    if (this.#readDone) return;
    this.#readController.enqueue(chunk);
    if ((this.#readController.desiredSize ?? 1) <= 0 && this.#socket?.pause !== undefined) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #onEnd(): void {
    if (this.#readDone) return;
    this.#readDone = true;
    this.#readController.close();
  }

  #onError(error: Error): void {
    this.#failure ??= error;
    if (!this.#readDone) {
      this.#readDone = true;
      this.#readController.error(error);
    }
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(error);
  }

  #onClose(error?: Error): void {
    if (error !== undefined && !this.#closed) this.#onError(error);
    this.#gone = true;
    if (!this.#readDone) {
      this.#readDone = true;
      this.#readController.close();
    }
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(this.#failure ?? new Error("Socket is closed"));
    for (const notify of this.#onGone.splice(0)) notify();
  }

  #onDrain(): void {
    const pending = this.#pending;
    if (pending === undefined || this.#socket === undefined) return;
    const written = this.#socket.write(pending.rest);
    if (written < 0) {
      this.#pending = undefined;
      pending.reject(this.#failure ?? new Error("Socket is closed"));
    } else if (written >= pending.rest.byteLength) {
      this.#pending = undefined;
      pending.resolve();
    } else {
      pending.rest = pending.rest.subarray(written);
    }
  }

  #write(chunk: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const socket = this.#socket;
    if (socket === undefined || this.#closed || this.#gone) {
      return Promise.reject(new Error("Socket is closed"));
    }
    const written = socket.write(chunk);
    if (written < 0) return Promise.reject(new Error("Socket is closed"));
    if (written >= chunk.byteLength) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#pending = { rest: chunk.subarray(written), resolve, reject };
    });
  }

  /**
   * Closes both directions at once; safe to call twice.
   *
   * @returns a promise that resolves once Bun reports the socket closed
   */
  close(): Promise<void> {
    if (this.#gone) return Promise.resolve();
    const gone = new Promise<void>((resolve) => this.#onGone.push(resolve));
    if (!this.#closed) {
      this.#closed = true;
      this.#socket?.terminate();
    }
    return gone;
  }

  /**
   * Opens a Bun socket; see {@link connectBun}.
   *
   * @param options where and how to connect
   * @returns the connected socket
   */
  static connect(options: SocketOptions): Promise<Socket> {
    const bun = (globalThis as { Bun?: BunGlobal }).Bun;
    if (bun === undefined) return Promise.reject(new ConfigurationError("Bun.connect is missing"));
    let settings: TlsOptions | undefined;
    try {
      settings = tlsSettings(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const wrapper = new BunSocket();
    return new Promise<Socket>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown, socket?: BunTcpSocket): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        socket?.terminate();
        reject(error);
      };
      const succeed = (socket: BunTcpSocket): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        if (options.path === undefined) socket.setNoDelay?.(options.noDelay ?? true);
        resolve(wrapper);
      };
      let opened: BunTcpSocket | undefined;
      const onAbort = (): void => fail(signal?.reason, opened);
      signal?.addEventListener("abort", onAbort, { once: true });
      const handlers: BunHandlers = {
        binaryType: "uint8array",
        open(socket) {
          opened = socket;
          wrapper.#attach(socket);
          if (settings === undefined) succeed(socket);
        },
        handshake(socket, success, authorizationError) {
          if (settings === undefined) return;
          const verify = settings.rejectUnauthorized ?? true;
          if (verify && (!success || authorizationError !== null)) {
            fail(authorizationError ?? new Error("TLS handshake failed"), socket);
          } else succeed(socket);
        },
        data(_socket, data) {
          wrapper.#onData(data);
        },
        drain() {
          wrapper.#onDrain();
        },
        end() {
          wrapper.#onEnd();
        },
        close(_socket, error) {
          if (!settled) fail(error ?? new Error("Connection closed while connecting"));
          wrapper.#onClose(error);
        },
        error(socket, error) {
          if (!settled) fail(error, socket);
          wrapper.#onError(error);
        },
        connectError(_socket, error) {
          fail(error);
        },
      };
      const connectOptions: BunConnectOptions = options.path !== undefined
        ? { unix: options.path, socket: handlers }
        : { hostname: options.hostname, port: options.port, socket: handlers };
      if (settings !== undefined) connectOptions.tls = bunTlsOptions(options, settings);
      bun.connect(connectOptions).catch((error: unknown) => fail(error));
    });
  }
}

function bunTlsOptions(options: SocketOptions, settings: TlsOptions): Record<string, unknown> {
  const result: Record<string, unknown> = {
    rejectUnauthorized: settings.rejectUnauthorized ?? true,
    serverName: settings.serverName ?? options.hostname,
  };
  if (settings.ca !== undefined) result.ca = settings.ca;
  if (settings.cert !== undefined) result.cert = settings.cert;
  if (settings.key !== undefined) result.key = settings.key;
  return result;
}

/**
 * Connects with `Bun.connect`: TCP, TLS (`tls` with `ca`, `cert`, `key`, `serverName`; the
 * certificate and host name are verified unless `tls.rejectUnauthorized` is false) or a unix
 * socket (`options.path`). With TLS, it resolves after a successful handshake only.
 *
 * @param options where and how to connect; `signal` aborts the attempt
 * @returns the connected socket
 * @throws {ConfigurationError} when TLS is asked for a unix socket
 * @throws {Error} Bun's error when connecting or the TLS handshake fails (the caller wraps it)
 */
export function connectBun(options: SocketOptions): Promise<Socket> {
  return BunSocket.connect(options);
}
