/**
 * A RESP2/RESP3 connection over the runtime socket seam: pipelining, strict in-order replies,
 * the handshake (AUTH with or without a user name, HELLO 3, CLIENT SETNAME, SELECT), connect and
 * command timeouts, and pub/sub.
 *
 * Every command issued in one tick of the event loop goes out in one write; commands issued while
 * a write is under way go out together in the next. Replies are matched to commands strictly in
 * order: a reply with no command waiting, a malformed reply, or a command timeout destroys the
 * connection and rejects every command in flight, so a reply can never reach the wrong command.
 *
 * @module
 */

import { ConnectionError, ProtocolError, TimeoutError } from "../../../src/errors.ts";
import type { Socket, SocketFactory } from "../../../src/socket.ts";
import type { TlsOptions } from "../../../src/transport.ts";
import { RespEncoder } from "./encoder.ts";
import { RespParser, type RespParserOptions } from "./parser.ts";
import { type RespArg, RespErrorReply, RespPush, type RespValue } from "./types.ts";

/** Where and how a {@link RespConnection} connects. */
export interface RespConnectionOptions {
  /** Host name or address (ignored with `path`). */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Unix socket path, where the runtime has them. */
  path?: string;
  /** TLS (`rediss://`); certificate and host name verified unless told otherwise. */
  tls?: boolean | TlsOptions;
  /** ACL user name (AUTH user password); absent for the password-only AUTH. */
  username?: string;
  /** Password; never appears in an error or a log line. */
  password?: string;
  /** Database number (SELECT); 0 sends nothing. */
  db?: number;
  /** 3 sends `HELLO 3` and speaks RESP3; default 2. */
  protocol?: 2 | 3;
  /** Name given with CLIENT SETNAME (shows in CLIENT LIST, lets tests kill their own). */
  clientName?: string;
  /** Milliseconds to connect and finish the handshake (default 10 000). */
  connectTimeout?: number;
  /** Milliseconds a command may wait for its reply before the connection is destroyed; 0 = none. */
  commandTimeout?: number;
  /** Opens the socket (the runtime's default when absent). */
  socketFactory: SocketFactory;
  /** Parser limits (bulk length, line length, nesting). */
  parser?: RespParserOptions;
  /** Aborts connecting. */
  signal?: AbortSignal;
  /** Receives RESP3 pushes and RESP2 pub/sub messages, as arrays (`["message", ch, data]`). */
  onPush?: (push: RespValue[]) => void;
}

/** Options of one command. */
export interface SendOptions {
  /** Milliseconds to wait for the reply (overrides the connection's); `false` = wait forever. */
  timeout?: number | false;
}

interface Pending {
  resolve(value: RespValue): void;
  reject(error: Error): void;
  /** Replies still expected (several for SUBSCRIBE with several channels). */
  expected: number;
  collected: RespValue[] | undefined;
  /** performance.now() deadline, or 0 for none. */
  deadline: number;
}

const SUBSCRIBE_COMMANDS: ReadonlySet<string> = new Set([
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
]);

const textDecoder = new TextDecoder();

function commandName(arg: RespArg | undefined): string {
  if (arg === undefined) return "";
  return (typeof arg === "string" ? arg : String(arg)).toUpperCase();
}

function text(value: RespValue): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return textDecoder.decode(value);
  return undefined;
}

/** Describes where a connection goes, without credentials. */
export function describeEndpoint(
  options: { hostname: string; port: number; path?: string },
): string {
  return options.path ?? `${options.hostname}:${options.port}`;
}

/**
 * One connection to a Redis server.
 *
 * @example
 * ```ts ignore
 * import { RespConnection } from "./client.ts";
 * import { connectSocket } from "../../../src/runtime/mod.ts";
 * const redis = await RespConnection.connect({ hostname: "127.0.0.1", port: 6379, socketFactory: connectSocket });
 * await redis.send(["SET", "greeting", "hello"]);
 * await redis.close();
 * ```
 */
export class RespConnection {
  /** Resolves (never rejects) when the connection is gone, with the error if it failed. */
  readonly closed: Promise<Error | undefined>;
  /** Where it is connected (host:port or path), for messages. */
  readonly endpoint: string;
  /** Receives pushes and pub/sub messages; may be replaced at any time. */
  onPush: ((push: RespValue[]) => void) | undefined;

  readonly #socket: Socket;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #encoder = new RespEncoder();
  readonly #parser: RespParser;
  readonly #commandTimeout: number;
  #pending: Pending[] = [];
  #head = 0;
  #flushScheduled = false;
  #writing = false;
  #subscribed = false;
  #failure: Error | undefined;
  #isClosed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #resolveClosed!: (error: Error | undefined) => void;

  private constructor(socket: Socket, options: RespConnectionOptions) {
    this.#socket = socket;
    this.#writer = socket.writable.getWriter();
    this.#parser = new RespParser(options.parser);
    this.#commandTimeout = options.commandTimeout ?? 0;
    this.endpoint = describeEndpoint(options);
    this.onPush = options.onPush;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    void this.#readLoop();
  }

  /**
   * Connects, authenticates, selects the database and names the connection.
   *
   * @param options where and how to connect
   * @returns the ready connection
   * @throws {ConnectionError} when the server cannot be reached, refuses the credentials (the
   *   error carries `replyCode` 403 then), or the handshake fails
   * @throws {TimeoutError} when connecting takes longer than `connectTimeout`
   */
  static async connect(options: RespConnectionOptions): Promise<RespConnection> {
    const timeout = options.connectTimeout ?? 10_000;
    const deadline = timeout > 0 ? performance.now() + timeout : Infinity;
    const socket = await options.socketFactory({
      hostname: options.hostname,
      port: options.port,
      path: options.path,
      tls: options.tls,
      timeout: timeout > 0 ? timeout : undefined,
      signal: options.signal,
    });
    const connection = new RespConnection(socket, options);
    const remaining = Math.max(1, deadline - performance.now());
    try {
      await connection.#handshake(options, Number.isFinite(remaining) ? remaining : false);
    } catch (error) {
      connection.destroy(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    return connection;
  }

  async #handshake(options: RespConnectionOptions, timeout: number | false): Promise<void> {
    const endpoint = this.endpoint;
    const steps: [string, Promise<RespValue>][] = [];
    const send = (label: string, args: RespArg[]) =>
      steps.push([label, this.send(args, { timeout })]);
    if (options.protocol === 3) {
      const hello: RespArg[] = ["HELLO", "3"];
      if (options.password !== undefined) {
        hello.push("AUTH", options.username ?? "default", options.password);
      }
      if (options.clientName) hello.push("SETNAME", options.clientName);
      send("HELLO 3", hello);
    } else {
      if (options.password !== undefined) {
        send(
          "AUTH",
          options.username !== undefined
            ? ["AUTH", options.username, options.password]
            : ["AUTH", options.password],
        );
      }
      if (options.clientName) send("CLIENT SETNAME", ["CLIENT", "SETNAME", options.clientName]);
    }
    if (options.db) send("SELECT", ["SELECT", options.db]);
    if (steps.length === 0) return;
    const replies = await Promise.all(steps.map(([, reply]) => reply));
    for (let i = 0; i < replies.length; i++) {
      const reply = replies[i];
      if (!(reply instanceof RespErrorReply)) continue;
      const label = steps[i]![0];
      const refused = label === "AUTH" || reply.code === "WRONGPASS" || reply.code === "NOAUTH" ||
        reply.code === "NOPERM";
      throw new ConnectionError(
        `Cannot open Redis connection to ${endpoint}: ${label} failed: ${reply.message}`,
        {
          cause: reply,
          replyCode: refused ? 403 : undefined,
        },
      );
    }
  }

  /** True until the connection is closed or destroyed. */
  get isOpen(): boolean {
    return !this.#isClosed;
  }

  /** Commands sent and waiting for their replies. */
  get inFlight(): number {
    return this.#pending.length - this.#head;
  }

  /**
   * Sends one command. Error replies of the server resolve as {@link RespErrorReply} values (so a
   * pipeline can look at each reply); only the loss of the connection rejects.
   *
   * @param args the command name and its arguments
   * @param options reply timeout
   * @returns the reply (for SUBSCRIBE-like commands, the array of their confirmations)
   * @throws {ConnectionError} when the connection is or gets closed before the reply
   * @throws {ProtocolError} when the server sends bytes that are not RESP
   * @throws {TimeoutError} when the reply does not come in time (the connection is destroyed)
   */
  send(args: readonly RespArg[], options?: SendOptions): Promise<RespValue> {
    if (this.#isClosed) {
      return Promise.reject(
        this.#failure ??
          new ConnectionError(`Cannot send to Redis at ${this.endpoint}: the connection is closed`),
      );
    }
    let expected = 1;
    const name = commandName(args[0]);
    if (SUBSCRIBE_COMMANDS.has(name)) {
      expected = Math.max(1, args.length - 1);
      if (name.endsWith("SUBSCRIBE") && !name.includes("UN")) this.#subscribed = true;
    }
    const timeout = options?.timeout === undefined ? this.#commandTimeout : options.timeout;
    return new Promise<RespValue>((resolve, reject) => {
      const deadline = timeout === false || timeout <= 0 ? 0 : performance.now() + timeout;
      this.#pending.push({ resolve, reject, expected, collected: undefined, deadline });
      this.#encoder.write(args);
      if (deadline !== 0 && this.#timer === undefined) this.#armTimer(deadline);
      if (!this.#flushScheduled && !this.#writing) {
        this.#flushScheduled = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#isClosed || this.#writing || this.#encoder.length === 0) return;
    const bytes = this.#encoder.take();
    this.#writing = true;
    this.#writer.write(bytes).then(
      () => {
        this.#writing = false;
        if (this.#encoder.length > 0) this.#flush();
      },
      (error) => {
        this.#writing = false;
        this.destroy(
          new ConnectionError(`Cannot write to Redis at ${this.endpoint}: ${describe(error)}`, {
            cause: error,
          }),
        );
      },
    );
  }

  #armTimer(deadline: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#checkTimeouts();
    }, Math.max(1, deadline - performance.now()));
  }

  #checkTimeouts(): void {
    if (this.#isClosed) return;
    const now = performance.now();
    let next = 0;
    for (let i = this.#head; i < this.#pending.length; i++) {
      const deadline = this.#pending[i]!.deadline;
      if (deadline === 0) continue;
      if (deadline <= now) {
        this.destroy(
          new TimeoutError(`Cannot get a reply from Redis at ${this.endpoint}: timed out`),
        );
        return;
      }
      if (next === 0 || deadline < next) next = deadline;
    }
    if (next !== 0) this.#armTimer(next);
  }

  async #readLoop(): Promise<void> {
    const reader = this.#socket.readable.getReader();
    const onReply = (value: RespValue) => this.#onReply(value);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (this.#isClosed) return;
        this.#parser.feed(value, onReply);
      }
      this.destroy(new ConnectionError(`Redis at ${this.endpoint} closed the connection`));
    } catch (error) {
      if (this.#isClosed) return;
      this.destroy(
        error instanceof ProtocolError || error instanceof ConnectionError
          ? error
          : new ConnectionError(`Cannot read from Redis at ${this.endpoint}: ${describe(error)}`, {
            cause: error,
          }),
      );
    } finally {
      try {
        reader.releaseLock();
      } catch {
        // The stream may already be errored; nothing to release then.
      }
    }
  }

  #onReply(value: RespValue): void {
    if (value instanceof RespPush) {
      this.onPush?.(value.data);
      return;
    }
    if (this.#subscribed && Array.isArray(value) && value.length >= 3) {
      const kind = text(value[0]!);
      if (kind === "message" || kind === "pmessage" || kind === "smessage") {
        this.onPush?.(value);
        return;
      }
    }
    const entry = this.#pending[this.#head];
    if (entry === undefined) {
      throw new ProtocolError(
        `Cannot match a Redis reply from ${this.endpoint}: no command is waiting for one`,
      );
    }
    if (entry.expected > 1 || entry.collected !== undefined) {
      (entry.collected ??= []).push(value);
      if (--entry.expected > 0) return;
      value = entry.collected;
    }
    this.#pending[this.#head] = undefined as unknown as Pending;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    } else if (this.#head === this.#pending.length) {
      this.#pending.length = 0;
      this.#head = 0;
    }
    entry.resolve(value);
  }

  /**
   * Destroys the connection at once: every command in flight rejects with `error`.
   *
   * @param error why (a {@link ProtocolError}, a {@link ConnectionError}, a {@link TimeoutError})
   */
  destroy(error: Error): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#failure = error instanceof ConnectionError || error instanceof ProtocolError ||
        error instanceof TimeoutError
      ? error
      : new ConnectionError(`Redis connection to ${this.endpoint} failed: ${error.message}`, {
        cause: error,
      });
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const pending = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    for (const entry of pending) entry.reject(this.#failure);
    this.#socket.close().catch(() => undefined);
    this.#resolveClosed(this.#failure);
  }

  /**
   * Closes the connection; commands in flight reject with a {@link ConnectionError}.
   *
   * @returns when the socket is closed
   */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const pending = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    const error = new ConnectionError(`Redis connection to ${this.endpoint} was closed`);
    for (const entry of pending) entry.reject(error);
    try {
      await this.#socket.close();
    } catch {
      // Already gone.
    }
    this.#resolveClosed(undefined);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
