/**
 * One AMQP 0-9-1 connection over a {@link Socket}: the handshake, the frame loop, heartbeats,
 * the coalescing writer, and channel bookkeeping.
 *
 * Writing: every frame is encoded straight into one growable buffer. A batch is handed to the
 * socket once per macrotask (or at once when it passes 64 KiB, or on the next microtask for a
 * synchronous method), so the publishes and acks of a busy turn leave in one write. While a
 * write is in flight, frames gather for the next one.
 *
 * @module
 */

import {
  ConfigurationError,
  ConnectionError,
  KombuError,
  LimitExceededError,
  ProtocolError,
} from "../../src/errors.ts";
import type { Socket } from "../../src/socket.ts";
import type { FieldTable, TransportConnection, TransportEvent } from "../../src/transport.ts";
import { Decoder, Writer } from "./codec/buffer.ts";
import { encodeTable } from "./codec/field_table.ts";
import {
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  FrameReader,
  HEARTBEAT_FRAME,
  PROTOCOL_HEADER,
} from "./codec/frame.ts";
import {
  decodeMethod,
  encodeMethodFrame,
  type Method,
  type MethodArgs,
  type MethodDef,
  METHODS,
} from "./codec/methods.ts";
import { AmqpChannel } from "./channel.ts";

/** SASL mechanisms the client speaks. */
export type AuthMechanism = "PLAIN" | "AMQPLAIN" | "EXTERNAL";

/** Everything needed to open an AMQP connection over a connected socket. */
export interface AmqpConnectionOptions {
  /** Login name (default `guest`). */
  username?: string;
  /** Password (default `guest`); never logged nor put in an error. */
  password?: string;
  /** Virtual host (default `/`). */
  virtualHost?: string;
  /** Heartbeat interval asked for, in seconds as in Kombu (0 = off, the default). */
  heartbeat?: number;
  /** Largest frame asked for, in bytes (default 131072, also for 0; the broker may lower it). */
  frameMax?: number;
  /** Most channels asked for (default 2047; the broker may lower it). */
  channelMax?: number;
  /** Largest incoming message body accepted, in bytes (default 128 MiB). */
  maxMessageSize?: number;
  /** SASL mechanism (default PLAIN, else AMQPLAIN when the broker lacks PLAIN). */
  authMechanism?: AuthMechanism;
  /** Name shown by the broker's management tools (client property `connection_name`). */
  connectionName?: string;
  /** Extra client properties. */
  clientProperties?: FieldTable;
  /**
   * Put every channel in publisher-confirm mode when it opens (Kombu's `confirm_publish`
   * transport option): each publish then resolves once the broker has the message.
   */
  confirmPublish?: boolean;
  /** Milliseconds the handshake may take (default 30000). */
  handshakeTimeout?: number;
  /** Used in error messages, such as `127.0.0.1:5672`. */
  peer?: string;
}

/** Default largest incoming message body: 128 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 128 * 1024 * 1024;
const DEFAULT_FRAME_MAX = 131072;
const DEFAULT_CHANNEL_MAX = 2047;
/** A batch this big is written at once instead of at the end of the turn. */
const FLUSH_BYTES = 64 * 1024;
/** Publishers wait when this much is queued for the socket. */
const HIGH_WATER_BYTES = 1024 * 1024;
const CLOSE_TIMEOUT = 3000;
/** A write buffer grown past this is replaced by a small one once flushed. */
const SHRINK_BYTES = 4 * 1024 * 1024;
/** Heartbeat ticks (half an interval each) without any byte in before the peer is dead. */
const MISSED_TICKS = 4;

const RESOLVED: Promise<void> = Promise.resolve();
const later: (fn: () => void) => void = typeof setImmediate === "function"
  ? (fn) => void setImmediate(fn)
  : (fn) => void setTimeout(fn, 0);

function unref(timer: unknown): void {
  if (typeof timer === "object" && timer !== null && "unref" in timer) {
    (timer as { unref(): void }).unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno;
  if (typeof timer === "number" && deno?.unrefTimer) deno.unrefTimer(timer);
}

function negotiate(server: number, client: number): number {
  if (server === 0) return client;
  if (client === 0) return server;
  return Math.min(server, client);
}

type State = "handshake" | "open" | "closing" | "closed";

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * An open AMQP 0-9-1 connection (the native transport's {@link TransportConnection}).
 *
 * Open it with {@link openAmqpConnection}. A server `connection.close` ends it with a
 * {@link ConnectionError} carrying the reply code; malformed input ends it with a
 * {@link ProtocolError}; either way `closed` resolves with the error and every pending call of
 * every channel rejects.
 */
export class AmqpConnection implements TransportConnection {
  /** Receives `blocked` / `unblocked` (RabbitMQ's connection.blocked). */
  onEvent: ((event: TransportEvent) => void) | undefined;
  /** Resolves when the connection is gone, with the error when it failed. */
  readonly closed: Promise<Error | undefined>;

  /** Negotiated frame_max (bytes, header and end included). */
  frameMax: number = FRAME_MIN_SIZE;
  /** Negotiated channel_max. */
  channelMax: number = 0;
  /** Negotiated heartbeat interval in seconds (0 = off). */
  heartbeat: number = 0;
  /** Largest incoming message body accepted. */
  readonly maxMessageSize: number;
  /** The broker's `connection.start` properties. */
  serverProperties: FieldTable = {};
  /** The shared reader, reset per frame. */
  readonly decoder: Decoder = new Decoder();

  #socket: Socket;
  #options: AmqpConnectionOptions;
  #peer: string;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #frames: FrameReader;
  #state: State = "handshake";
  #error: Error | undefined;
  #resolveClosed!: (error: Error | undefined) => void;
  #ready: Waiter | undefined;
  #closeOk: (() => void) | undefined;
  #secretWaiter: Waiter | undefined;

  #out = new Writer(64 * 1024);
  #writing = false;
  #writeBroken = false;
  #inFlight = 0;
  #scheduled = false;
  #urgent = false;
  #microtask = false;
  #drainWaiters: Waiter[] = [];

  #channels: (AmqpChannel | undefined)[] = [];
  #ackers: AmqpChannel[] = [];
  #nextChannel = 1;
  #timer: unknown;
  #receivedSinceTick = false;
  #sentSinceTick = false;
  #missedTicks = 0;

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
    this.#writer = socket.writable.getWriter();
    this.#reader = socket.readable.getReader();
    this.#frames = new FrameReader(
      this.#onFrame,
      Math.max(FRAME_MIN_SIZE, options.frameMax || DEFAULT_FRAME_MAX),
    );
  }

  /** True until the connection closes or fails. */
  get isOpen(): boolean {
    return this.#state === "open";
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
    this.#send(PROTOCOL_HEADER);
    this.#flushSoon(true);
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
    if (this.#state !== "open") throw this.closedError("open a channel");
    const id = this.#allocateChannel();
    const channel = new AmqpChannel(this, id);
    this.#channels[id] = channel;
    await channel.open();
    if (this.#options.confirmPublish) await channel.confirmSelect();
    return channel;
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
      this.#drainAcks();
      this.#state = "closing";
      const gone = new ConnectionError(`Cannot use connection to ${this.#peer}: it was closed`);
      for (const channel of this.#channels) channel?.terminate(gone, false);
      const ok = new Promise<void>((resolve) => (this.#closeOk = resolve));
      this.sendMethod(0, METHODS.connectionClose, {
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
    if (this.#state !== "open") return Promise.reject(this.closedError("update the secret"));
    if (this.#secretWaiter) {
      return Promise.reject(
        new ConfigurationError("Cannot update the secret: an update is already running"),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#secretWaiter = { resolve, reject };
      this.sendMethod(0, METHODS.connectionUpdateSecret, { newSecret, reason });
    });
  }

  // ---- used by channels -------------------------------------------------------------------

  /** The buffer frames are encoded into; read it again after every flush. */
  get out(): Writer {
    return this.#out;
  }

  /**
   * Encodes and queues one method frame.
   *
   * @param channel channel number
   * @param def the method
   * @param args its arguments
   * @param urgent flush on the next microtask (a synchronous request)
   * @throws {ConfigurationError} when an argument cannot be encoded
   */
  sendMethod(channel: number, def: MethodDef, args: Partial<MethodArgs> = {}, urgent = true): void {
    encodeMethodFrame(this.#out, channel, def, args);
    this.#flushSoon(urgent);
  }

  /**
   * Tells the writer that frames were added to {@link AmqpConnection.out}.
   *
   * @param urgent flush on the next microtask rather than at the end of the turn
   * @returns a promise that resolves at once, or when the socket has drained enough
   */
  wrote(urgent: boolean): Promise<void> {
    this.#flushSoon(urgent);
    if (this.#out.pos + this.#inFlight < HIGH_WATER_BYTES) return RESOLVED;
    return new Promise<void>((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /**
   * Asks to be called (`flushAcks`) right before the next write, so a channel's acks of one
   * turn can be coalesced.
   *
   * @param channel a channel with acks waiting
   */
  deferAcks(channel: AmqpChannel): void {
    this.#ackers.push(channel);
  }

  /**
   * Frees a channel number once its close handshake is over.
   *
   * @param id the channel number
   */
  releaseChannel(id: number): void {
    this.#channels[id] = undefined;
  }

  /**
   * The error for an operation on a connection that is not open.
   *
   * @param action what was attempted, such as `publish`
   * @returns a `ConnectionError` whose cause is the failure, if any
   */
  closedError(action: string): Error {
    const cause = this.#error;
    if (cause === undefined) {
      return new ConnectionError(`Cannot ${action}: the connection to ${this.#peer} is closed`);
    }
    return new ConnectionError(
      `Cannot ${action}: the connection to ${this.#peer} is closed (${cause.message})`,
      { cause, replyCode: cause instanceof ConnectionError ? cause.replyCode : undefined },
    );
  }

  // ---- writing ----------------------------------------------------------------------------

  #send(bytes: Uint8Array): void {
    this.#out.bytes(bytes);
  }

  #flushSoon(urgent: boolean): void {
    if (this.#out.pos >= FLUSH_BYTES) {
      this.#flush();
      return;
    }
    if (urgent && !this.#urgent) {
      this.#urgent = true;
      if (!this.#microtask) {
        this.#microtask = true;
        queueMicrotask(this.#flushUrgent);
      }
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      later(this.#flushLater);
    }
  }

  #flushUrgent = (): void => {
    this.#microtask = false;
    this.#flush();
  };

  #drainAcks(): void {
    const ackers = this.#ackers;
    this.#ackers = [];
    for (const channel of ackers) channel.flushAcks();
  }

  #flushLater = (): void => {
    this.#scheduled = false;
    this.#flush();
  };

  /** Hands the gathered frames to the socket, unless a write is in flight (then it waits). */
  #flush = (): void => {
    if (this.#writing || this.#state === "closed") return;
    if (this.#ackers.length > 0) this.#drainAcks();
    if (this.#out.pos === 0) return;
    this.#urgent = false;
    const chunk = this.#out.buf.slice(0, this.#out.pos);
    // After a big message, give the memory back instead of keeping the peak forever.
    if (this.#out.buf.length > SHRINK_BYTES) this.#out = new Writer(64 * 1024);
    else this.#out.reset();
    this.#writing = true;
    this.#inFlight = chunk.length;
    this.#sentSinceTick = true;
    this.#writer.write(chunk).then(this.#written, this.#writeFailed);
  };

  /**
   * A write finished. Frames gathered meanwhile go now only when a synchronous method waits
   * or a full batch is ready; otherwise at the end of the turn, so a busy publisher fills big
   * batches instead of ping-ponging small writes.
   */
  #written = (): void => {
    this.#writing = false;
    this.#inFlight = 0;
    if (this.#out.pos > 0 || this.#ackers.length > 0) {
      if (this.#urgent || this.#out.pos >= FLUSH_BYTES) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        later(this.#flushLater);
      }
    }
    if (this.#drainWaiters.length > 0 && this.#out.pos + this.#inFlight < HIGH_WATER_BYTES) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w.resolve();
    }
  };

  #writeFailed = (error: unknown): void => {
    this.#writing = false;
    this.#writeBroken = true;
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
        this.#receivedSinceTick = true;
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
      this.#onConnectionMethod(decodeMethod(this.decoder.reset(bytes, start, start + size)));
      return;
    }
    const ch = this.#channels[channel];
    if (ch === undefined) {
      // When both sides close a channel at once, RabbitMQ answers our channel.close with a
      // close-ok after we released the number: harmless.
      if (
        type === FRAME_METHOD && size >= 4 && bytes[start + 1] === 20 && bytes[start + 3] === 41 &&
        bytes[start] === 0 && bytes[start + 2] === 0
      ) return;
      throw new ProtocolError(`Cannot read frame: channel ${channel} is not open`);
    }
    if (type === FRAME_METHOD) ch.onMethod(bytes, start, size);
    else if (type === FRAME_HEADER) ch.onHeader(bytes, start, size);
    else if (type === FRAME_BODY) ch.onBody(bytes, start, size);
  };

  #onConnectionMethod(method: Method): void {
    const { def, args } = method;
    if (def === METHODS.connectionClose) {
      this.sendMethod(0, METHODS.connectionCloseOk);
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
      if (args.versionMajor !== 0 || args.versionMinor !== 9) {
        throw new ProtocolError(
          `Cannot open AMQP connection: the broker speaks ${args.versionMajor}-${args.versionMinor}, not 0-9`,
        );
      }
      this.serverProperties = args.serverProperties as FieldTable;
      const offered = String(args.mechanisms).split(" ").filter((s) => s.length > 0);
      const mechanism = this.#options.authMechanism ??
        (offered.includes("PLAIN") || !offered.includes("AMQPLAIN") ? "PLAIN" : "AMQPLAIN");
      if (!offered.includes(mechanism)) {
        throw new ConnectionError(
          `Cannot log in to ${this.#peer}: the broker offers "${
            offered.join(" ")
          }", not "${mechanism}"`,
        );
      }
      this.sendMethod(0, METHODS.connectionStartOk, {
        clientProperties: this.#clientProperties(),
        mechanism,
        response: this.#saslResponse(mechanism),
        locale: "en_US",
      });
    } else if (def === METHODS.connectionSecure) {
      throw new ConnectionError(
        `Cannot log in to ${this.#peer}: the broker sent a SASL challenge, which is not supported`,
      );
    } else if (def === METHODS.connectionTune) {
      const o = this.#options;
      this.channelMax = negotiate(args.channelMax as number, o.channelMax ?? DEFAULT_CHANNEL_MAX) ||
        65535;
      this.frameMax = Math.max(
        FRAME_MIN_SIZE,
        negotiate(args.frameMax as number, o.frameMax || DEFAULT_FRAME_MAX),
      );
      const asked = Math.max(0, Math.floor(o.heartbeat ?? 0));
      this.heartbeat = asked === 0 ? 0 : negotiate(args.heartbeat as number, asked);
      this.#frames.frameMax = this.frameMax;
      this.sendMethod(0, METHODS.connectionTuneOk, {
        channelMax: this.channelMax,
        frameMax: this.frameMax,
        heartbeat: this.heartbeat,
      });
      this.sendMethod(0, METHODS.connectionOpen, { virtualHost: o.virtualHost ?? "/" });
      this.#startHeartbeat();
    } else if (def === METHODS.connectionOpenOk) {
      this.#state = "open";
      const ready = this.#ready;
      this.#ready = undefined;
      ready?.resolve();
    } else {
      throw new ProtocolError(`Cannot open AMQP connection: unexpected ${def.name}`);
    }
  }

  #clientProperties(): FieldTable {
    const o = this.#options;
    const props: FieldTable = {
      product: "wakame",
      platform: "TypeScript",
      information: "https://jsr.io/@wakame/wakame",
      capabilities: {
        publisher_confirms: true,
        exchange_exchange_bindings: true,
        "basic.nack": true,
        consumer_cancel_notify: true,
        "connection.blocked": true,
        authentication_failure_close: true,
        per_consumer_qos: true,
      },
      ...o.clientProperties,
    };
    if (o.connectionName !== undefined) props.connection_name = o.connectionName;
    return props;
  }

  #saslResponse(mechanism: string): Uint8Array {
    const user = this.#options.username ?? "guest";
    const pass = this.#options.password ?? "guest";
    const w = new Writer(256);
    if (mechanism === "PLAIN") {
      w.ensure(1);
      w.u8(0);
      w.utf8(user);
      w.ensure(1);
      w.u8(0);
      w.utf8(pass);
    } else if (mechanism === "AMQPLAIN") {
      encodeTable(w, { LOGIN: user, PASSWORD: pass });
      return w.buf.slice(4, w.pos);
    } else if (mechanism !== "EXTERNAL") {
      throw new ConfigurationError(`Cannot log in with mechanism "${mechanism}": not supported`);
    }
    return w.buf.slice(0, w.pos);
  }

  // ---- heartbeats -------------------------------------------------------------------------

  #startHeartbeat(): void {
    if (this.heartbeat === 0) return;
    const tick = (this.heartbeat * 1000) / 2;
    const timer = setInterval(this.#onTick, tick);
    unref(timer);
    this.#timer = timer;
  }

  /**
   * Counts ticks, not elapsed time: a callback that blocks the event loop delays the tick and
   * the reads alike, so it cannot make a live peer look dead, and a dead peer is found after
   * {@link MISSED_TICKS} half-intervals (two intervals) without a byte.
   */
  #onTick = (): void => {
    if (this.#state !== "open" && this.#state !== "closing") return;
    if (this.#receivedSinceTick) {
      this.#receivedSinceTick = false;
      this.#missedTicks = 0;
    } else if (++this.#missedTicks >= MISSED_TICKS) {
      this.#fail(
        new ConnectionError(
          `Connection to ${this.#peer} lost: no heartbeat for ${2 * this.heartbeat} s`,
        ),
      );
      return;
    }
    if (!this.#sentSinceTick && !this.#writing) {
      this.#send(HEARTBEAT_FRAME);
      this.#flush();
    }
    this.#sentSinceTick = false;
  };

  // ---- ending -----------------------------------------------------------------------------

  #allocateChannel(): number {
    const max = this.channelMax;
    for (let i = 0; i < max; i++) {
      const id = ((this.#nextChannel - 1 + i) % max) + 1;
      if (this.#channels[id] === undefined) {
        this.#nextChannel = (id % max) + 1;
        return id;
      }
    }
    throw new LimitExceededError(`Cannot open a channel: all ${max} channels are in use`);
  }

  #fail(error: Error): void {
    if (this.#state === "closed") return;
    if (error instanceof ProtocolError && this.#state !== "handshake") {
      try {
        this.sendMethod(0, METHODS.connectionClose, {
          replyCode: 501,
          replyText: error.message.slice(0, 200),
          classId: 0,
          methodId: 0,
        });
        this.#flush();
      } catch {
        // The connection is going away anyway.
      }
    }
    void this.#finish(error, error);
  }

  /** Writes what is still queued (a close-ok, a close 501), waiting at most a second. */
  async #lastWords(): Promise<void> {
    if (this.#out.pos === 0 || this.#writeBroken) return;
    const chunk = this.#out.buf.slice(0, this.#out.pos);
    this.#out.reset();
    let timer: unknown;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
      unref(timer);
    });
    await Promise.race([this.#writer.write(chunk).catch(() => undefined), timeout]);
    clearTimeout(timer as number);
  }

  async #finish(error: Error | undefined, reason: Error | undefined): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#error = error;
    if (this.#timer !== undefined) clearInterval(this.#timer as number);
    const gone = this.closedError("continue");
    const channelError = reason instanceof ConnectionError
      ? reason
      : new ConnectionError(gone.message, { cause: reason ?? gone });
    for (const channel of this.#channels) channel?.terminate(channelError, false);
    this.#channels = [];
    const ready = this.#ready;
    this.#ready = undefined;
    ready?.reject(reason ?? gone);
    this.#secretWaiter?.reject(channelError);
    this.#secretWaiter = undefined;
    for (const waiter of this.#drainWaiters.splice(0)) waiter.reject(channelError);
    this.#closeOk?.();
    await this.#lastWords();
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
