/**
 * A ZooKeeper client session on wakame's {@link Socket} seam (Deno, Bun, Node; a TCP protocol,
 * so not Workers without sockets): the handshake, requests answered in order, pings, watch
 * events, and reconnection that resumes the session (so ephemeral nodes and the session's
 * records live through a server restart shorter than the session timeout).
 *
 * @module
 */

import { ConnectionError } from "../../src/errors.ts";
import type { Socket, SocketFactory } from "../../src/socket.ts";
import { sleep } from "../../src/utils/sleep.ts";
import { JuteReader } from "./jute.ts";
import {
  type Answer,
  decodeConnect,
  encodeConnect,
  encodeHeaderOnly,
  encodeRequest,
  frame,
  FrameReader,
  OP,
  type Operation,
  readAnswer,
  readReplyHeader,
  readWatchEvent,
  type WatchEvent,
  XID,
  ZK_ERROR,
  ZooKeeperError,
} from "./protocol.ts";

/** How to reach ZooKeeper. */
export interface ZkClientSettings {
  /** Servers, tried in turn. */
  readonly hosts: readonly { readonly hostname: string; readonly port: number }[];
  /** Session timeout asked for, ms. */
  readonly sessionTimeout: number;
  /** Milliseconds to open a connection. */
  readonly connectTimeout: number;
  /** Opens sockets. */
  readonly socketFactory: SocketFactory;
  /** Where survived failures go. */
  readonly warn: (message: string, error?: unknown) => void;
}

interface Pending {
  readonly operation: Operation;
  readonly resolve: (answer: Answer) => void;
  readonly reject: (error: Error) => void;
}

function describe(operation: Operation): [string, string] {
  return operation.op === "multi"
    ? ["multi", operation.ops.map((o) => o.path).join(", ")]
    : [operation.op, operation.path];
}

/** One ZooKeeper session, reconnected as needed. */
export class ZkClient {
  readonly #settings: ZkClientSettings;
  readonly #pending = new Map<number, Pending>();
  readonly #watchers = new Set<(event: WatchEvent) => void>();
  readonly #sessionListeners = new Set<() => void>();
  #socket?: Socket;
  #writer?: WritableStreamDefaultWriter<Uint8Array>;
  #sessionId = 0n;
  #password: Uint8Array = new Uint8Array(16);
  #lastZxid = 0n;
  #timeout = 0;
  #xid = 1;
  #closed = false;
  #connected?: Promise<void>;
  #lastHeard = 0;
  #pinger?: ReturnType<typeof setInterval>;
  #hostIndex = 0;

  /**
   * Makes a client; {@link ZkClient.start} connects it.
   *
   * @param settings where and how
   */
  constructor(settings: ZkClientSettings) {
    this.#settings = settings;
  }

  /** The session's id (0n before the first handshake). */
  get sessionId(): bigint {
    return this.#sessionId;
  }

  /** Connects and opens the session. */
  async start(): Promise<void> {
    this.#connected = this.#connect();
    await this.#connected;
  }

  /**
   * Calls `listener` on every watch notification.
   *
   * @param listener the callback
   */
  onWatch(listener: (event: WatchEvent) => void): void {
    this.#watchers.add(listener);
  }

  /**
   * Calls `listener` when a new session replaced one that expired.
   *
   * @param listener the callback
   */
  onNewSession(listener: () => void): void {
    this.#sessionListeners.add(listener);
  }

  /**
   * Sends one operation and waits for its answer (after a reconnection if one is under way).
   *
   * @param operation what to do
   * @returns the answer
   * @throws {ZooKeeperError} for an error answer or a connection lost meanwhile
   */
  async call(operation: Operation): Promise<Answer> {
    if (this.#closed) throw new ConnectionError("The ZooKeeper client is closed");
    if (!this.#writer) await this.#reconnected(operation);
    const writer = this.#writer;
    if (!writer) throw new ZooKeeperError(...describe(operation), ZK_ERROR.connectionLoss);
    const xid = this.#xid++;
    if (this.#xid > 0x7fff_0000) this.#xid = 1;
    const answer = new Promise<Answer>((resolve, reject) => {
      this.#pending.set(xid, { operation, resolve, reject });
    });
    writer.write(frame(encodeRequest(xid, operation))).catch(() => this.#lost(writer));
    return await answer;
  }

  /** Waits for a reconnection, at most one session timeout (the session is gone by then). */
  async #reconnected(operation: Operation): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<void>((_, reject) => {
      timer = setTimeout(
        () => reject(new ZooKeeperError(...describe(operation), ZK_ERROR.connectionLoss)),
        this.#settings.sessionTimeout,
      );
    });
    try {
      await Promise.race([this.#connected, gaveUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #connect(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      const host = this.#settings.hosts[this.#hostIndex++ % this.#settings.hosts.length];
      try {
        await this.#handshake(host.hostname, host.port);
        return;
      } catch (error) {
        if (this.#closed) return;
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          this.#settings.warn(
            `Cannot connect to ZooKeeper at ${host.hostname}:${host.port}; retrying`,
            error,
          );
        }
        await sleep(Math.min(100 * failures, 1000));
      }
    }
  }

  async #handshake(hostname: string, port: number): Promise<void> {
    const socket = await this.#settings.socketFactory({
      hostname,
      port,
      timeout: this.#settings.connectTimeout,
    });
    const reader = socket.readable.getReader();
    const writer = socket.writable.getWriter();
    const frames = new FrameReader();
    try {
      await writer.write(frame(encodeConnect({
        lastZxidSeen: this.#lastZxid,
        timeout: this.#settings.sessionTimeout,
        sessionId: this.#sessionId,
        password: this.#password,
      })));
      let first: Uint8Array | undefined;
      const rest: Uint8Array[] = [];
      const deadline = AbortSignal.timeout(this.#settings.connectTimeout);
      while (!first) {
        if (deadline.aborted) throw new ConnectionError("ZooKeeper did not answer the handshake");
        const { value, done } = await reader.read();
        if (done) throw new ConnectionError("ZooKeeper closed the connection in the handshake");
        const got = frames.push(value);
        if (got.length > 0) {
          first = got[0];
          rest.push(...got.slice(1));
        }
      }
      const session = decodeConnect(first);
      if (session.timeout <= 0) {
        // The session asked for expired: the next handshake opens a new one.
        const hadSession = this.#sessionId !== 0n;
        this.#sessionId = 0n;
        this.#password = new Uint8Array(16);
        this.#lastZxid = 0n;
        if (hadSession) this.#settings.warn("The ZooKeeper session expired; opening a new one");
        throw new ConnectionError("ZooKeeper session expired");
      }
      const renewed = this.#sessionId !== 0n && this.#sessionId !== session.sessionId;
      this.#sessionId = session.sessionId;
      this.#password = session.password;
      this.#timeout = session.timeout;
      this.#socket = socket;
      this.#writer = writer;
      this.#lastHeard = Date.now();
      this.#startPings(writer);
      for (const record of rest) this.#dispatch(record);
      void this.#readLoop(reader, frames, writer);
      if (renewed) { for (const listener of this.#sessionListeners) listener(); }
    } catch (error) {
      reader.releaseLock();
      writer.releaseLock();
      await socket.close().catch(() => {});
      throw error;
    }
  }

  #startPings(writer: WritableStreamDefaultWriter<Uint8Array>): void {
    clearInterval(this.#pinger);
    const every = Math.max(100, Math.floor(this.#timeout / 3));
    this.#pinger = setInterval(() => {
      if (Date.now() - this.#lastHeard > (this.#timeout * 2) / 3) {
        this.#settings.warn("ZooKeeper went silent; reconnecting");
        this.#lost(writer);
        return;
      }
      writer.write(frame(encodeHeaderOnly(XID.ping, OP.ping))).catch(() => this.#lost(writer));
    }, every);
  }

  async #readLoop(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    frames: FrameReader,
    writer: WritableStreamDefaultWriter<Uint8Array>,
  ): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.#lastHeard = Date.now();
        for (const record of frames.push(value)) this.#dispatch(record);
      }
    } catch {
      // The socket failed: handled below like a close.
    }
    this.#lost(writer);
  }

  #dispatch(record: Uint8Array): void {
    const reader = new JuteReader(record);
    const header = readReplyHeader(reader);
    if (header.zxid > 0n) this.#lastZxid = header.zxid;
    if (header.xid === XID.ping) return;
    if (header.xid === XID.watch) {
      const event = readWatchEvent(reader);
      for (const watcher of this.#watchers) watcher(event);
      return;
    }
    const pending = this.#pending.get(header.xid);
    if (!pending) return;
    this.#pending.delete(header.xid);
    if (header.err !== ZK_ERROR.ok) {
      pending.reject(new ZooKeeperError(...describe(pending.operation), header.err));
      return;
    }
    try {
      pending.resolve(readAnswer(pending.operation, reader));
    } catch (error) {
      pending.reject(error as Error);
    }
  }

  /** The connection of `writer` is gone: fail what waits on it, reconnect. */
  #lost(writer: WritableStreamDefaultWriter<Uint8Array>): void {
    if (this.#writer !== writer) return;
    this.#writer = undefined;
    clearInterval(this.#pinger);
    const socket = this.#socket;
    this.#socket = undefined;
    void socket?.close().catch(() => {});
    for (const [xid, pending] of this.#pending) {
      this.#pending.delete(xid);
      pending.reject(new ZooKeeperError(...describe(pending.operation), ZK_ERROR.connectionLoss));
    }
    // Watches die with the connection: wake every watcher so it asks again.
    for (const watcher of this.#watchers) watcher({ type: -1, state: 0, path: "" });
    if (!this.#closed) this.#connected = this.#connect();
  }

  /** Ends the session (its ephemeral nodes go) and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const writer = this.#writer;
    if (writer) {
      const bye = new Promise<void>((resolve) => {
        const xid = this.#xid++;
        this.#pending.set(xid, {
          operation: { op: "delete", path: "", version: -1 },
          resolve: () => resolve(),
          reject: () => resolve(),
        });
        writer.write(frame(encodeHeaderOnly(xid, OP.closeSession))).catch(() => resolve());
      });
      await Promise.race([bye, sleep(1000)]);
    }
    this.#closed = true;
    clearInterval(this.#pinger);
    if (writer) this.#lost(writer);
    await this.#socket?.close().catch(() => {});
  }
}
