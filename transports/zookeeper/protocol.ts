/**
 * ZooKeeper's client protocol (3.x): the handshake, the operations the transport uses, their
 * answers, watch events and error codes. Every message is a frame: a 4-byte big-endian length
 * and a jute record.
 *
 * @module
 */

import { OperationalError } from "../../src/errors.ts";
import { JuteReader, JuteWriter, readStat, type Stat } from "./jute.ts";

/** Operation codes. */
export const OP = {
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  getChildren2: 12,
  check: 13,
  multi: 14,
  ping: 11,
  closeSession: -11,
} as const;

/** Reserved xids. */
export const XID = { watch: -1, ping: -2 } as const;

/** ZooKeeper's error codes the transport acts on. */
export const ZK_ERROR = {
  ok: 0,
  connectionLoss: -4,
  noNode: -101,
  badVersion: -103,
  nodeExists: -110,
  notEmpty: -111,
  sessionExpired: -112,
} as const;

/** Create modes. */
export const CREATE_MODE = { persistent: 0, ephemeral: 1, sequential: 2 } as const;

/** Watch event types. */
export const EVENT = { nodeChildrenChanged: 4 } as const;

/** An error answer of ZooKeeper, with its code. */
export class ZooKeeperError extends OperationalError {
  /** ZooKeeper's error code (see {@link ZK_ERROR}). */
  readonly code: number;
  /** The path acted on. */
  readonly path: string;

  /**
   * Makes the error of an answer.
   *
   * @param action what failed
   * @param path the path
   * @param code ZooKeeper's code
   */
  constructor(action: string, path: string, code: number) {
    super(`ZooKeeper refused ${action} "${path}": error ${code}`);
    this.name = "ZooKeeperError";
    this.code = code;
    this.path = path;
  }
}

/**
 * Tells whether `error` is a ZooKeeper answer with one of `codes`.
 *
 * @param error what was thrown
 * @param codes the codes looked for
 * @returns true when it is
 */
export function isZkError(error: unknown, ...codes: number[]): error is ZooKeeperError {
  return error instanceof ZooKeeperError && codes.includes(error.code);
}

/** The world-readable, world-writable ACL (`world:anyone`, all permissions), as kazoo's. */
function openAcl(writer: JuteWriter): void {
  writer.int(1).int(31).ustring("world").ustring("anyone");
}

/** What the session handshake sends. */
export interface ConnectRequest {
  /** Last zxid seen (0 for a new session). */
  readonly lastZxidSeen: bigint;
  /** Requested session timeout, ms. */
  readonly timeout: number;
  /** Session to resume, 0n for a new one. */
  readonly sessionId: bigint;
  /** Its password (16 zero bytes for a new session). */
  readonly password: Uint8Array;
}

/** What the handshake answers. */
export interface ConnectResponse {
  /** Negotiated timeout, ms; 0 or less when the session asked for has expired. */
  readonly timeout: number;
  /** The session's id. */
  readonly sessionId: bigint;
  /** The session's password. */
  readonly password: Uint8Array;
}

/**
 * Encodes the handshake.
 *
 * @param request the session wanted
 * @returns the record
 */
export function encodeConnect(request: ConnectRequest): Uint8Array {
  return new JuteWriter().int(0).long(request.lastZxidSeen).int(request.timeout)
    .long(request.sessionId).buffer(request.password).bool(false).bytes();
}

/**
 * Decodes the handshake's answer.
 *
 * @param record the record
 * @returns the session
 */
export function decodeConnect(record: Uint8Array): ConnectResponse {
  const reader = new JuteReader(record);
  reader.int(); // protocol version
  const timeout = reader.int();
  const sessionId = reader.long();
  const password = reader.buffer() ?? new Uint8Array(16);
  return { timeout, sessionId, password };
}

/** One operation, ready to send. */
export type Operation =
  | { op: "create"; path: string; data: Uint8Array; mode: number }
  | { op: "delete"; path: string; version: number }
  | { op: "exists"; path: string; watch: boolean }
  | { op: "getData"; path: string; watch: boolean }
  | { op: "getChildren"; path: string; watch: boolean }
  | { op: "multi"; ops: (Operation & { op: "create" | "delete" })[] };

/** What an operation answers. */
export type Answer =
  | { op: "create"; path: string }
  | { op: "delete" }
  | { op: "exists"; stat: Stat }
  | { op: "getData"; data: Uint8Array; stat: Stat }
  | { op: "getChildren"; children: string[]; stat: Stat }
  | { op: "multi" };

function opCode(operation: Operation): number {
  switch (operation.op) {
    case "create":
      return OP.create;
    case "delete":
      return OP.delete;
    case "exists":
      return OP.exists;
    case "getData":
      return OP.getData;
    case "getChildren":
      return OP.getChildren2;
    case "multi":
      return OP.multi;
  }
}

function writeBody(writer: JuteWriter, operation: Operation): void {
  switch (operation.op) {
    case "create":
      writer.ustring(operation.path).buffer(operation.data);
      openAcl(writer);
      writer.int(operation.mode);
      return;
    case "delete":
      writer.ustring(operation.path).int(operation.version);
      return;
    case "exists":
    case "getData":
    case "getChildren":
      writer.ustring(operation.path).bool(operation.watch);
      return;
    case "multi":
      for (const sub of operation.ops) {
        writer.int(opCode(sub)).bool(false).int(-1);
        writeBody(writer, sub);
      }
      writer.int(-1).bool(true).int(-1);
      return;
  }
}

/**
 * Encodes a request: header (xid, op code) and body.
 *
 * @param xid the request's id
 * @param operation what to do
 * @returns the record
 */
export function encodeRequest(xid: number, operation: Operation): Uint8Array {
  const writer = new JuteWriter().int(xid).int(opCode(operation));
  writeBody(writer, operation);
  return writer.bytes();
}

/**
 * Encodes a request that is only a header (a ping, the end of a session).
 *
 * @param xid the request's id ({@link XID.ping} for a ping)
 * @param type the op code
 * @returns the record
 */
export function encodeHeaderOnly(xid: number, type: number): Uint8Array {
  return new JuteWriter().int(xid).int(type).bytes();
}

/** The header of every answer. */
export interface ReplyHeader {
  /** The request's id (-1 a watch event, -2 a ping). */
  readonly xid: number;
  /** The server's zxid when it answered. */
  readonly zxid: bigint;
  /** 0 or an error code. */
  readonly err: number;
}

/**
 * Reads an answer's header.
 *
 * @param reader at the start of the record
 * @returns the header
 */
export function readReplyHeader(reader: JuteReader): ReplyHeader {
  return { xid: reader.int(), zxid: reader.long(), err: reader.int() };
}

/**
 * Reads an answer's body (after a header whose `err` is 0).
 *
 * @param operation the request it answers
 * @param reader after the header
 * @returns the answer
 */
export function readAnswer(operation: Operation, reader: JuteReader): Answer {
  switch (operation.op) {
    case "create":
      return { op: "create", path: reader.ustring() };
    case "delete":
      return { op: "delete" };
    case "exists":
      return { op: "exists", stat: readStat(reader) };
    case "getData":
      return { op: "getData", data: reader.buffer() ?? new Uint8Array(), stat: readStat(reader) };
    case "getChildren":
      return { op: "getChildren", children: reader.ustrings(), stat: readStat(reader) };
    case "multi":
      return readMultiAnswer(operation, reader);
  }
}

/**
 * Reads the results of a transaction. A failed one still has a reply header without error:
 * each operation answers in turn, the failed one (and those cancelled with it, code -2) with an
 * error result.
 *
 * @throws {ZooKeeperError} with the failed operation's code when the transaction failed
 */
function readMultiAnswer(operation: Operation & { op: "multi" }, reader: JuteReader): Answer {
  let failure = 0;
  for (;;) {
    const type = reader.int();
    const done = reader.bool();
    const err = reader.int();
    if (done) break;
    if (type === -1) {
      const code = reader.int();
      if (code !== 0 && (failure === 0 || failure === -2)) failure = code;
    } else if (type === OP.create) {
      reader.ustring();
    } else if (err !== 0 && failure === 0) {
      failure = err;
    }
  }
  if (failure !== 0) {
    throw new ZooKeeperError("multi", operation.ops.map((o) => o.path).join(", "), failure);
  }
  return { op: "multi" };
}

/** A watch notification. */
export interface WatchEvent {
  /** Event type (4: children changed). */
  readonly type: number;
  /** Session state. */
  readonly state: number;
  /** The watched path. */
  readonly path: string;
}

/**
 * Reads a watch notification (after its header, xid -1).
 *
 * @param reader after the header
 * @returns the event
 */
export function readWatchEvent(reader: JuteReader): WatchEvent {
  return { type: reader.int(), state: reader.int(), path: reader.ustring() };
}

/**
 * Frames a record: its 4-byte big-endian length, then the record.
 *
 * @param record the record
 * @returns the frame
 */
export function frame(record: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + record.length);
  new DataView(out.buffer).setInt32(0, record.length);
  out.set(record, 4);
  return out;
}

/** Cuts a byte stream into frames, whatever the chunking. */
export class FrameReader {
  #pending = new Uint8Array(0);
  readonly #maxFrame: number;

  /**
   * Makes a reader.
   *
   * @param maxFrame largest record accepted (ZooKeeper's `jute.maxbuffer`, 1 MiB by default,
   *   plus room for the header)
   */
  constructor(maxFrame = 4 * 1024 * 1024) {
    this.#maxFrame = maxFrame;
  }

  /**
   * Adds bytes; returns the records completed by them.
   *
   * @param chunk bytes from the socket
   * @returns whole records, in order
   */
  push(chunk: Uint8Array): Uint8Array[] {
    let data = chunk;
    if (this.#pending.length > 0) {
      data = new Uint8Array(this.#pending.length + chunk.length);
      data.set(this.#pending);
      data.set(chunk, this.#pending.length);
    }
    const out: Uint8Array[] = [];
    let offset = 0;
    while (data.length - offset >= 4) {
      const length = new DataView(data.buffer, data.byteOffset + offset, 4).getInt32(0);
      if (length < 0 || length > this.#maxFrame) {
        throw new OperationalError(`ZooKeeper sent a frame of ${length} bytes`);
      }
      if (data.length - offset - 4 < length) break;
      out.push(data.slice(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    this.#pending = data.slice(offset);
    return out;
  }
}
