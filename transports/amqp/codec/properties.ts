/**
 * The content header frame of class `basic`: body size, property flags and properties.
 *
 * Property flags, from bit 15 down: content-type, content-encoding, headers, delivery-mode,
 * priority, correlation-id, reply-to, expiration, message-id, timestamp, type, user-id, app-id,
 * cluster-id. Only present properties are on the wire; absent ones stay absent when decoded.
 *
 * @module
 */

import { ProtocolError } from "../../../src/errors.ts";
import type { MessageProperties } from "../../../src/transport.ts";
import type { Decoder, Writer } from "./buffer.ts";
import { decodeTable, encodeTable } from "./field_table.ts";
import { FRAME_END, FRAME_HEADER } from "./frame.ts";
import { CLASS } from "./ids.ts";

const F_CONTENT_TYPE = 0x8000;
const F_CONTENT_ENCODING = 0x4000;
const F_HEADERS = 0x2000;
const F_DELIVERY_MODE = 0x1000;
const F_PRIORITY = 0x0800;
const F_CORRELATION_ID = 0x0400;
const F_REPLY_TO = 0x0200;
const F_EXPIRATION = 0x0100;
const F_MESSAGE_ID = 0x0080;
const F_TIMESTAMP = 0x0040;
const F_TYPE = 0x0020;
const F_USER_ID = 0x0010;
const F_APP_ID = 0x0008;
const F_CLUSTER_ID = 0x0004;

/** Class id of `basic`, the only class with content (`CLASS.BASIC` in `ids.ts`). */
export const CLASS_BASIC: 60 = CLASS.BASIC;

/**
 * Writes the properties (flags first) of a content header.
 *
 * @param w the writer
 * @param p the properties; `undefined` members are left out
 * @throws {ConfigurationError} when a string is too long or a header value cannot be encoded
 */
export function encodeProperties(w: Writer, p: MessageProperties): void {
  w.ensure(2);
  const flagsAt = w.pos;
  w.pos += 2;
  let flags = 0;
  if (p.contentType !== undefined) {
    flags |= F_CONTENT_TYPE;
    w.shortStr(p.contentType, "content type");
  }
  if (p.contentEncoding !== undefined) {
    flags |= F_CONTENT_ENCODING;
    w.shortStr(p.contentEncoding, "content encoding");
  }
  if (p.headers !== undefined) {
    flags |= F_HEADERS;
    encodeTable(w, p.headers);
  }
  w.ensure(2);
  if (p.deliveryMode !== undefined) {
    flags |= F_DELIVERY_MODE;
    w.u8(p.deliveryMode);
  }
  if (p.priority !== undefined) {
    flags |= F_PRIORITY;
    w.u8(p.priority);
  }
  if (p.correlationId !== undefined) {
    flags |= F_CORRELATION_ID;
    w.shortStr(p.correlationId, "correlation id");
  }
  if (p.replyTo !== undefined) {
    flags |= F_REPLY_TO;
    w.shortStr(p.replyTo, "reply-to");
  }
  if (p.expiration !== undefined) {
    flags |= F_EXPIRATION;
    w.shortStr(p.expiration, "expiration");
  }
  if (p.messageId !== undefined) {
    flags |= F_MESSAGE_ID;
    w.shortStr(p.messageId, "message id");
  }
  if (p.timestamp !== undefined) {
    flags |= F_TIMESTAMP;
    w.ensure(8);
    w.u64(Math.max(0, Math.floor(p.timestamp)));
  }
  if (p.type !== undefined) {
    flags |= F_TYPE;
    w.shortStr(p.type, "type");
  }
  if (p.userId !== undefined) {
    flags |= F_USER_ID;
    w.shortStr(p.userId, "user id");
  }
  if (p.appId !== undefined) {
    flags |= F_APP_ID;
    w.shortStr(p.appId, "app id");
  }
  if (p.clusterId !== undefined) {
    flags |= F_CLUSTER_ID;
    w.shortStr(p.clusterId, "cluster id");
  }
  w.buf[flagsAt] = flags >>> 8;
  w.buf[flagsAt + 1] = flags & 0xff;
}

/**
 * Writes a whole content header frame.
 *
 * @param w the writer
 * @param channel channel number
 * @param bodySize size of the body that follows
 * @param p the properties
 * @throws {ConfigurationError} when a property cannot be encoded
 */
export function encodeHeaderFrame(
  w: Writer,
  channel: number,
  bodySize: number,
  p: MessageProperties,
): void {
  const start = w.pos;
  w.ensure(19);
  w.u8(FRAME_HEADER);
  w.u16(channel);
  w.pos += 4;
  w.u16(CLASS_BASIC);
  w.u16(0);
  w.u64(bodySize);
  try {
    encodeProperties(w, p);
  } catch (e) {
    w.pos = start;
    throw e;
  }
  const end = w.pos;
  w.pos = start + 3;
  w.u32(end - start - 7);
  w.pos = end;
  w.ensure(1);
  w.u8(FRAME_END);
}

/**
 * Reads the properties (flags first) of a content header.
 *
 * @param d the reader, at the property flags
 * @returns the present properties
 * @throws {ProtocolError} when the header is malformed
 */
export function decodeProperties(d: Decoder): MessageProperties {
  const flags = d.u16();
  if ((flags & 1) !== 0) {
    throw new ProtocolError("Cannot decode content header: continued property flags");
  }
  const p: MessageProperties = {};
  if (flags === 0) return p;
  if (flags & F_CONTENT_TYPE) p.contentType = d.shortStr();
  if (flags & F_CONTENT_ENCODING) p.contentEncoding = d.shortStr();
  if (flags & F_HEADERS) p.headers = decodeTable(d);
  if (flags & F_DELIVERY_MODE) p.deliveryMode = d.u8();
  if (flags & F_PRIORITY) p.priority = d.u8();
  if (flags & F_CORRELATION_ID) p.correlationId = d.shortStr();
  if (flags & F_REPLY_TO) p.replyTo = d.shortStr();
  if (flags & F_EXPIRATION) p.expiration = d.shortStr();
  if (flags & F_MESSAGE_ID) p.messageId = d.shortStr();
  if (flags & F_TIMESTAMP) p.timestamp = d.u64();
  if (flags & F_TYPE) p.type = d.shortStr();
  if (flags & F_USER_ID) p.userId = d.shortStr();
  if (flags & F_APP_ID) p.appId = d.shortStr();
  if (flags & F_CLUSTER_ID) p.clusterId = d.shortStr();
  return p;
}

/** The fixed part of a content header. */
export interface ContentHeader {
  /** Class id (60 for basic). */
  classId: number;
  /** Size of the body that follows. */
  bodySize: number;
  /** The properties. */
  properties: MessageProperties;
}

/**
 * Reads a content header frame payload.
 *
 * @param d the reader over the payload
 * @returns class id, body size and properties
 * @throws {ProtocolError} when the header is malformed
 */
export function decodeHeader(d: Decoder): ContentHeader {
  const classId = d.u16();
  d.u16(); // weight, always 0
  const bodySize = d.u64();
  return { classId, bodySize, properties: decodeProperties(d) };
}
