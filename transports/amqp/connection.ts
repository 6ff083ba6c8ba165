/**
 * One AMQP 0-9-1 connection over a {@link Socket}: the handshake, the frame loop and the
 * connection's own methods. The coalescing writer is in `_writer.ts`, heartbeats in
 * `_heartbeat.ts`, the handshake's negotiation in `_handshake.ts`, the channel table (and what
 * channels see of the connection) in `_channels.ts`; channels are reached through
 * {@link ChannelPort}, never through their public class.
 *
 * @module
 */

import {
  ConfigurationError,
  ConnectionError,
  KombuError,
  ProtocolError,
} from "../../src/errors.ts";
import type { Socket } from "../../src/socket.ts";
import type { FieldTable, TransportConnection, TransportEvent } from "../../src/transport.ts";
import { Decoder } from "./codec/buffer.ts";
import {
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  FrameReader,
  PROTOCOL_HEADER,
} from "./codec/frame.ts";
import { CHANNEL, CLASS } from "./codec/ids.ts";
import {
  decodeMethod,
  type Method,
  type MethodArgs,
  type MethodDef,
  METHODS,
} from "./codec/methods.ts";
import { type AmqpChannel, newChannel } from "./channel.ts";
import { ChannelTable } from "./_channels.ts";
import { startOk, tune } from "./_handshake.ts";
import {
  type AmqpConnectionOptions,
  DEFAULT_FRAME_MAX,
  DEFAULT_MAX_MESSAGE_SIZE,
} from "./options.ts";
import { Heartbeat } from "./_heartbeat.ts";
import { FrameWriter, unref } from "./_writer.ts";

export {
  type AmqpConnectionOptions,
  type AuthMechanism,
  DEFAULT_MAX_MESSAGE_SIZE,
} from "./options.ts";

const CLOSE_TIMEOUT = 3000;

type State = "handshake" | "open" | "closing" | "closed";

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * An open AMQP 0-9-1 connection (the native transport's {@link TransportConnection}).
 *
 * Open it with `AmqpTransport.connect`. A server `connection.close` ends it with a
 * {@link ConnectionError} carrying the reply code; malformed input ends it with a
 * {@link ProtocolError}; either way `closed` resolves with the error and every pending call of
 * every channel rejects.
 */
export class AmqpConnection implements TransportConnection {
  /** Receives `blocked` / `unblocked` (RabbitMQ's connection.blocked). */
  onEvent: ((event: TransportEvent) => void) | undefined;
  /** Resolves when the connection is gone, with the error when it failed. */
  readonly closed: Promise<Error | undefined>;
  /** Negotiated heartbeat interval in seconds (0 = off). */
  heartbeat: number = 0;
  /** Largest incoming message body accepted. */
  readonly maxMessageSize: number;
  /** The broker's `connection.start` properties. */
  serverProperties: FieldTable = {};

  #socket: Socket;
  #options: AmqpConnectionOptions;
  #peer: string;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #frames: FrameReader;
  #decoder = new Decoder();
  #writer: FrameWriter;
  #heartbeat: Heartbeat;
  #channels: ChannelTable;
  #state: State = "handshake";
  #error: Error | undefined;
  #resolveClosed!: (error: Error | undefined) => void;
  #ready: Waiter | undefined;
  #closeOk: (() => void) | undefined;
  #secretWaiter: Waiter | undefined;

  /**
   * Wraps a connected socket; call {@link AmqpConnection.handshake} next.
   *
   * @param socket the connected socket
   * @param options credentials and tuning
   */
  constructor(socket: Socket, options: AmqpConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#peer = options.peer ?? "the broker";
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#writer = new FrameWriter(socket.writable.getWriter(), this.#writeFailed);
    this.#reader = socket.readable.getReader();
    this.#frames = new FrameReader(
      this.#onFrame,
      Math.max(FRAME_MIN_SIZE, options.frameMax || DEFAULT_FRAME_MAX),
    );
    this.#heartbeat = new Heartbeat(
      this.#writer,
      () => this.#state === "open" || this.#state === "closing",
      () =>
        this.#fail(
          new ConnectionError(
            `Connection to ${this.#peer} lost: no heartbeat for ${2 * this.heartbeat} s`,
          ),
        ),
    );
    this.#channels = new ChannelTable(
      this.#writer,
      this.#decoder,
      this.maxMessageSize,
      this.closed,
      (action) => this.#closedError(action),
    );
  }

  /** True until the connection closes or fails. */
  get isOpen(): boolean {
    return this.#state === "open";
  }

  /** Negotiated frame_max (bytes, header and end included). */
  get frameMax(): number {
    return this.#channels.frameMax;
  }

  /** Negotiated channel_max. */
  get channelMax(): number {
    return this.#channels.channelMax;
  }

  /**
   * Runs the handshake: protocol header, start / start-ok, tune / tune-ok, open / open-ok.
   *
   * @returns a promise that resolves once the connection is open
   * @throws {ConnectionError} when the broker refuses (bad credentials, unknown vhost) or the
   *   socket fails or the handshake times out
   * @throws {ProtocolError} when the broker sends malformed bytes
   */
  handshake(): Promise<void> {
    const timeout = this.#options.handshakeTimeout ?? 30000;
    const opened = new Promise<void>((resolve, reject) => {
      this.#ready = { resolve, reject };
    });
    const timer = setTimeout(() => {
      this.#fail(
        new ConnectionError(
          `Cannot open AMQP connection to ${this.#peer}: timed out after ${timeout} ms`,
        ),
      );
    }, timeout);
    unref(timer);
    this.#writer.send(PROTOCOL_HEADER);
    this.#writer.flushSoon(true);
    void this.#readLoop();
    return opened.finally(() => clearTimeout(timer));
  }

  /**
   * Opens a channel.
   *
   * @returns the open channel
   * @throws {ConnectionError} when the connection is closed
   * @throws {LimitExceededError} when channel_max channels are open
   */
  async createChannel(): Promise<AmqpChannel> {
    if (this.#state !== "open") throw this.#closedError("open a channel");
    const id = this.#channels.allocate();
    const made = newChannel(this.#channels, id);
    this.#channels.add(id, made.port);
    await made.open();
    if (this.#options.confirmPublish) await made.channel.confirmSelect();
    return made.channel;
  }

  /**
   * Closes the connection and its channels (connection.close, then the socket).
   *
   * @returns a promise that resolves once the socket is closed
   */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    if (this.#state === "handshake") {
      this.#finish(undefined, new ConnectionError("Cannot finish handshake: connection closed"));
      return;
    }
    if (this.#state === "open") {
      this.#writer.drainAcks();
      this.#state = "closing";
      const gone = new ConnectionError(`Cannot use connection to ${this.#peer}: it was closed`);
      this.#channels.terminateAll(gone, false);
      const ok = new Promise<void>((resolve) => (this.#closeOk = resolve));
      this.#writer.sendMethod(0, METHODS.connectionClose, {
        replyCode: 200,
        replyText: "Goodbye",
        classId: 0,
        methodId: 0,
      });
      const timer = setTimeout(() => this.#closeOk?.(), CLOSE_TIMEOUT);
      await Promise.race([ok, this.closed]);
      clearTimeout(timer);
    }
    await this.#finish(undefined, undefined);
    await this.closed;
  }

  /**
   * Replaces the password or token of an open connection (RabbitMQ's
   * `connection.update-secret`, for expiring OAuth 2 tokens).
   *
   * @param newSecret the new secret
   * @param reason why, shown in the broker's log
   * @returns a promise that resolves when the broker accepted it
   * @throws {ConnectionError} when the connection is closed or the broker refuses
   */
  updateSecret(newSecret: string, reason: string): Promise<void> {
    if (this.#state !== "open") return Promise.reject(this.#closedError("update the secret"));
    if (this.#secretWaiter) {
      return Promise.reject(
        new ConfigurationError("Cannot update the secret: an update is already running"),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#secretWaiter = { resolve, reject };
      this.#writer.sendMethod(0, METHODS.connectionUpdateSecret, { newSecret, reason });
    });
  }

  /** The error for an operation on a connection that is not open. */
  #closedError(action: string): Error {
    const cause = this.#error;
    if (cause === undefined) {
      return new ConnectionError(`Cannot ${action}: the connection to ${this.#peer} is closed`);
    }
    return new ConnectionError(
      `Cannot ${action}: the connection to ${this.#peer} is closed (${cause.message})`,
      { cause, replyCode: cause instanceof ConnectionError ? cause.replyCode : undefined },
    );
  }

  #writeFailed = (error: unknown): void => {
    if (this.#state === "closed") return;
    this.#fail(
      new ConnectionError(`Cannot write to ${this.#peer}: ${describe(error)}`, { cause: error }),
    );
  };

  // ---- reading ----------------------------------------------------------------------------

  async #readLoop(): Promise<void> {
    let first = true;
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        if (this.#state === "closed") return;
        if (first && value.length > 0) {
          first = false;
          if (value[0] === 0x41) {
            throw new ConnectionError(
              `Cannot open AMQP connection to ${this.#peer}: the broker does not speak AMQP 0-9-1`,
            );
          }
        }
        this.#heartbeat.received = true;
        this.#frames.push(value);
      }
      if (this.#state === "closed") return;
      if (this.#state === "closing") {
        this.#closeOk?.();
        return;
      }
      this.#fail(
        new ConnectionError(
          this.#state === "handshake"
            ? `Cannot open AMQP connection to ${this.#peer}: the broker closed the socket during the handshake (check the credentials and the virtual host)`
            : `Connection to ${this.#peer} lost: the socket was closed by the peer`,
        ),
      );
    } catch (error) {
      if (this.#state === "closed") return;
      if (error instanceof KombuError) this.#fail(error);
      else {
        this.#fail(
          new ConnectionError(`Connection to ${this.#peer} lost: ${describe(error)}`, {
            cause: error,
          }),
        );
      }
    }
  }

  #onFrame = (type: number, channel: number, bytes: Uint8Array, start: number, size: number) => {
    if (type === FRAME_HEARTBEAT) return;
    if (channel === 0) {
      if (type !== FRAME_METHOD) {
        throw new ProtocolError(`Cannot read frame: content frame of type ${type} on channel 0`);
      }
      this.#onConnectionMethod(decodeMethod(this.#decoder.reset(bytes, start, start + size)));
      return;
    }
    const port = this.#channels.get(channel);
    if (port === undefined) {
      // When both sides close a channel at once, RabbitMQ answers our channel.close with a
      // close-ok after we released the number: harmless.
      if (
        type === FRAME_METHOD && size >= 4 && bytes[start] === 0 &&
        bytes[start + 1] === CLASS.CHANNEL && bytes[start + 2] === 0 &&
        bytes[start + 3] === CHANNEL.CLOSE_OK
      ) return;
      throw new ProtocolError(`Cannot read frame: channel ${channel} is not open`);
    }
    if (type === FRAME_METHOD) port.method(bytes, start, size);
    else if (type === FRAME_HEADER) port.header(bytes, start, size);
    else if (type === FRAME_BODY) port.body(bytes, start, size);
  };

  #onConnectionMethod(method: Method): void {
    const { def, args } = method;
    if (def === METHODS.connectionClose) {
      this.#writer.sendMethod(0, METHODS.connectionCloseOk);
      const code = args.replyCode as number;
      const text = args.replyText as string;
      const during = this.#state === "handshake"
        ? "refused the connection"
        : "closed the connection";
      this.#fail(
        new ConnectionError(
          `Connection to ${this.#peer} lost: the broker ${during} (${code} ${text})`,
          {
            replyCode: code,
          },
        ),
      );
      return;
    }
    switch (this.#state) {
      case "handshake":
        this.#onHandshake(def, args);
        return;
      case "closing":
        if (def === METHODS.connectionCloseOk) this.#closeOk?.();
        return;
      case "open":
        break;
      default:
        return;
    }
    if (def === METHODS.connectionBlocked) {
      this.#emit({ type: "blocked", reason: args.reason as string });
    } else if (def === METHODS.connectionUnblocked) {
      this.#emit({ type: "unblocked" });
    } else if (def === METHODS.connectionUpdateSecretOk && this.#secretWaiter) {
      const waiter = this.#secretWaiter;
      this.#secretWaiter = undefined;
      waiter.resolve();
    } else {
      throw new ProtocolError(`Cannot handle ${def.name} on an open connection`);
    }
  }

  #emit(event: TransportEvent): void {
    const handler = this.onEvent;
    if (handler === undefined) return;
    try {
      handler(event);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  #onHandshake(def: MethodDef, args: MethodArgs): void {
    if (def === METHODS.connectionStart) {
      this.serverProperties = args.serverProperties as FieldTable;
      this.#writer.sendMethod(
        0,
        METHODS.connectionStartOk,
        startOk(args, this.#options, this.#peer),
      );
    } else if (def === METHODS.connectionSecure) {
      throw new ConnectionError(
        `Cannot log in to ${this.#peer}: the broker sent a SASL challenge, which is not supported`,
      );
    } else if (def === METHODS.connectionTune) {
      const tuned = tune(args, this.#options);
      this.#channels.channelMax = tuned.channelMax;
      this.#channels.frameMax = tuned.frameMax;
      this.heartbeat = tuned.heartbeat;
      this.#frames.frameMax = tuned.frameMax;
      this.#writer.sendMethod(0, METHODS.connectionTuneOk, { ...tuned });
      this.#writer.sendMethod(0, METHODS.connectionOpen, {
        virtualHost: this.#options.virtualHost ?? "/",
      });
      this.#heartbeat.start(tuned.heartbeat);
    } else if (def === METHODS.connectionOpenOk) {
      this.#state = "open";
      const ready = this.#ready;
      this.#ready = undefined;
      ready?.resolve();
    } else {
      throw new ProtocolError(`Cannot open AMQP connection: unexpected ${def.name}`);
    }
  }

  // ---- ending -----------------------------------------------------------------------------

  #fail(error: Error): void {
    if (this.#state === "closed") return;
    if (error instanceof ProtocolError && this.#state !== "handshake") {
      try {
        this.#writer.sendMethod(0, METHODS.connectionClose, {
          replyCode: 501,
          replyText: error.message.slice(0, 200),
          classId: 0,
          methodId: 0,
        });
        this.#writer.flush();
      } catch {
        // The connection is going away anyway.
      }
    }
    void this.#finish(error, error);
  }

  async #finish(error: Error | undefined, reason: Error | undefined): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#error = error;
    this.#heartbeat.stop();
    const gone = this.#closedError("continue");
    const channelError = reason instanceof ConnectionError
      ? reason
      : new ConnectionError(gone.message, { cause: reason ?? gone });
    this.#writer.stop(channelError);
    this.#channels.terminateAll(channelError, true);
    const ready = this.#ready;
    this.#ready = undefined;
    ready?.reject(reason ?? gone);
    this.#secretWaiter?.reject(channelError);
    this.#secretWaiter = undefined;
    this.#closeOk?.();
    await this.#writer.lastWords();
    try {
      await this.#socket.close();
    } catch {
      // Closing a failed socket may fail again; it is closed either way.
    }
    this.#resolveClosed(error);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
