/**
 * Pyro4's message framing (`Pyro4/message.py`, protocol version 48, Pyro4 4.8x): a 24-byte
 * big-endian header (`!4sHHHHiHHHH`: `PYRO`, version, type, flags, sequence, data length,
 * serializer id, annotations length, reserved, checksum), the annotation chunks (4-byte ASCII
 * id, 2-byte length, bytes), then the serialized payload.
 *
 * @module
 */

/** Pyro4 4.8x's protocol version. */
export const PYRO_PROTOCOL_VERSION = 48;
/** Size of a message header. */
export const PYRO_HEADER_SIZE = 24;
/** Serpent's serializer id. */
export const SERPENT_SERIALIZER_ID = 1;

/** Message types. */
export const MSG_CONNECT = 1;
/** The daemon accepted the connection. */
export const MSG_CONNECTOK = 2;
/** The daemon refused the connection. */
export const MSG_CONNECTFAIL = 3;
/** A method call. */
export const MSG_INVOKE = 4;
/** The answer to a call. */
export const MSG_RESULT = 5;
/** A ping. */
export const MSG_PING = 6;

/** The payload is a serialized exception. */
export const FLAGS_EXCEPTION = 1 << 0;
/** The payload is zlib-compressed. */
export const FLAGS_COMPRESSED = 1 << 1;
/** No answer is wanted. */
export const FLAGS_ONEWAY = 1 << 2;
/** The connect answer carries the object's metadata. */
export const FLAGS_META_ON_CONNECT = 1 << 4;

const CHECKSUM_MAGIC = 0x34e9;

/** A Pyro message header. */
export interface PyroHeader {
  /** Message type (`MSG_*`). */
  type: number;
  /** Flags (`FLAGS_*`). */
  flags: number;
  /** Sequence number (16 bits), echoed by the answer. */
  seq: number;
  /** Payload length. */
  dataSize: number;
  /** Serializer id of the payload. */
  serializerId: number;
  /** Total length of the annotation chunks. */
  annotationsSize: number;
}

/** A framing error: not a Pyro header, a wrong version or checksum. */
export class PyroProtocolError extends Error {
  /**
   * Makes the error.
   *
   * @param message what is wrong
   */
  constructor(message: string) {
    super(message);
    this.name = "PyroProtocolError";
  }
}

function checksum(h: PyroHeader): number {
  return (h.type + PYRO_PROTOCOL_VERSION + h.dataSize + h.annotationsSize + h.serializerId +
    h.flags + h.seq + CHECKSUM_MAGIC) & 0xffff;
}

/**
 * Frames a message: header, annotations, payload.
 *
 * @param type message type
 * @param flags flags
 * @param seq sequence number (taken modulo 2^16)
 * @param data the serialized payload
 * @param annotations 4-letter ids and their bytes
 * @returns the bytes to send
 */
export function encodePyroMessage(
  type: number,
  flags: number,
  seq: number,
  data: Uint8Array,
  annotations: Readonly<Record<string, Uint8Array>> = {},
): Uint8Array {
  const chunks = Object.entries(annotations);
  let annotationsSize = 0;
  for (const [id, bytes] of chunks) {
    if (!/^[\x20-\x7e]{4}$/.test(id)) {
      throw new PyroProtocolError(`Pyro annotation id must be 4 ASCII letters: ${id}`);
    }
    annotationsSize += 6 + bytes.length;
  }
  const header: PyroHeader = {
    type,
    flags,
    seq: seq & 0xffff,
    dataSize: data.length,
    serializerId: SERPENT_SERIALIZER_ID,
    annotationsSize,
  };
  const out = new Uint8Array(PYRO_HEADER_SIZE + annotationsSize + data.length);
  const view = new DataView(out.buffer);
  out.set([0x50, 0x59, 0x52, 0x4f]);
  view.setUint16(4, PYRO_PROTOCOL_VERSION);
  view.setUint16(6, type);
  view.setUint16(8, flags);
  view.setUint16(10, header.seq);
  view.setInt32(12, data.length);
  view.setUint16(16, SERPENT_SERIALIZER_ID);
  view.setUint16(18, annotationsSize);
  view.setUint16(20, 0);
  view.setUint16(22, checksum(header));
  let at = PYRO_HEADER_SIZE;
  for (const [id, bytes] of chunks) {
    for (let i = 0; i < 4; i++) out[at + i] = id.charCodeAt(i);
    view.setUint16(at + 4, bytes.length);
    out.set(bytes, at + 6);
    at += 6 + bytes.length;
  }
  out.set(data, at);
  return out;
}

/**
 * Reads a message header.
 *
 * @param bytes at least {@link PYRO_HEADER_SIZE} bytes
 * @returns the header
 * @throws {PyroProtocolError} when it is not a valid Pyro 4.8x header
 */
export function decodePyroHeader(bytes: Uint8Array): PyroHeader {
  if (bytes.length < PYRO_HEADER_SIZE) throw new PyroProtocolError("Pyro header too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, PYRO_HEADER_SIZE);
  if (String.fromCharCode(...bytes.subarray(0, 4)) !== "PYRO") {
    throw new PyroProtocolError("not a Pyro message (no PYRO tag)");
  }
  const version = view.getUint16(4);
  if (version !== PYRO_PROTOCOL_VERSION) {
    throw new PyroProtocolError(
      `Pyro protocol version ${version}; wakame speaks ${PYRO_PROTOCOL_VERSION} (Pyro4 4.8x)`,
    );
  }
  const header: PyroHeader = {
    type: view.getUint16(6),
    flags: view.getUint16(8),
    seq: view.getUint16(10),
    dataSize: view.getInt32(12),
    serializerId: view.getUint16(16),
    annotationsSize: view.getUint16(18),
  };
  if (header.dataSize < 0) throw new PyroProtocolError("Pyro message with a negative size");
  if (view.getUint16(22) !== checksum(header)) {
    throw new PyroProtocolError("Pyro header checksum mismatch");
  }
  return header;
}

/**
 * Splits annotation chunks.
 *
 * @param bytes the chunks
 * @returns id to bytes
 * @throws {PyroProtocolError} for a chunk running past the end
 */
export function decodePyroAnnotations(bytes: Uint8Array): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = 0;
  while (at < bytes.length) {
    if (at + 6 > bytes.length) throw new PyroProtocolError("truncated Pyro annotation");
    const id = String.fromCharCode(...bytes.subarray(at, at + 4));
    const size = view.getUint16(at + 4);
    if (at + 6 + size > bytes.length) throw new PyroProtocolError("truncated Pyro annotation");
    Object.defineProperty(out, id, {
      value: bytes.slice(at + 6, at + 6 + size),
      enumerable: true,
    });
    at += 6 + size;
  }
  return out;
}
