/**
 * The hot frames of class `basic`, encoded by hand straight into the connection's write
 * buffer: basic.publish with its content header and body frames, and basic.ack / reject /
 * nack. The generic encoder in `methods.ts` writes the same bytes (the tests check it); these
 * skip its table walk and argument object.
 *
 * @module
 */

import type { BasicPublishOptions, OutgoingMessage } from "../../../src/transport.ts";
import { bodyBytes } from "../../../src/body.ts";
import type { Writer } from "./buffer.ts";
import { FRAME_BODY, FRAME_END, FRAME_METHOD, FRAME_OVERHEAD } from "./frame.ts";
import { BASIC, CLASS } from "./ids.ts";
import { encodeHeaderFrame } from "./properties.ts";

const EMPTY = new Uint8Array(0);

/**
 * Writes basic.publish, its content header and its body frames.
 *
 * @param w the connection's writer
 * @param channel the channel number
 * @param frameMax the negotiated frame_max
 * @param exchange the exchange
 * @param routingKey the routing key
 * @param message body and properties
 * @param options mandatory / immediate
 * @throws {ConfigurationError} when a name or a property cannot be encoded (nothing is
 *   written then)
 */
export function writePublish(
  w: Writer,
  channel: number,
  frameMax: number,
  exchange: string,
  routingKey: string,
  message: OutgoingMessage,
  options: BasicPublishOptions | undefined,
): void {
  const start = w.pos;
  const max = frameMax - FRAME_OVERHEAD;
  const text = typeof message.body === "string" && message.body.length > 0 &&
      message.body.length * 3 <= max
    ? message.body
    : undefined;
  const body = text === undefined ? bodyBytes(message.body) : EMPTY;
  let header = 0;
  try {
    w.ensure(13);
    w.u8(FRAME_METHOD);
    w.u16(channel);
    w.pos += 4;
    w.u16(CLASS.BASIC);
    w.u16(BASIC.PUBLISH);
    w.u16(0);
    w.shortStr(exchange, "exchange name");
    w.shortStr(routingKey, "routing key");
    w.ensure(2);
    w.u8((options?.mandatory ? 1 : 0) | (options?.immediate ? 2 : 0));
    const end = w.pos;
    w.pos = start + 3;
    w.u32(end - start - 7);
    w.pos = end;
    w.u8(FRAME_END);
    header = w.pos;
    encodeHeaderFrame(w, channel, text === undefined ? body.length : 0, message.properties);
  } catch (error) {
    w.pos = start;
    throw error;
  }
  if (text !== undefined) writeTextBody(w, channel, text, header);
  const len = body.length;
  for (let off = 0; off < len; off += max) {
    const n = len - off < max ? len - off : max;
    w.ensure(n + FRAME_OVERHEAD);
    w.u8(FRAME_BODY);
    w.u16(channel);
    w.u32(n);
    w.buf.set(n === len ? body : body.subarray(off, off + n), w.pos);
    w.pos += n;
    w.u8(FRAME_END);
  }
}

/**
 * Writes basic.ack, basic.reject or basic.nack for one tag: the three share one layout
 * (delivery tag, then one octet of bits).
 *
 * @param w the connection's writer
 * @param channel the channel number
 * @param methodId `BASIC.ACK`, `BASIC.REJECT` or `BASIC.NACK`
 * @param tag the delivery tag
 * @param bits multiple = 1, requeue = 2 (nack); requeue = 1 (reject)
 */
export function writeTagFrame(
  w: Writer,
  channel: number,
  methodId: number,
  tag: number,
  bits: number,
): void {
  w.ensure(22);
  w.u8(FRAME_METHOD);
  w.u16(channel);
  w.u32(13);
  w.u16(CLASS.BASIC);
  w.u16(methodId);
  w.u64(tag);
  w.u8(bits);
  w.u8(FRAME_END);
}

/**
 * Writes a text body that fits one frame, UTF-8 encoded straight into the write buffer (no
 * intermediate bytes), then patches its size into the body frame and the content header.
 *
 * @param w the connection's writer, just after the content header
 * @param channel the channel id
 * @param text the body (at most a third of the frame payload in UTF-16 units)
 * @param header where the content header frame starts
 */
function writeTextBody(w: Writer, channel: number, text: string, header: number): void {
  w.ensure(FRAME_OVERHEAD + text.length * 3);
  w.u8(FRAME_BODY);
  w.u16(channel);
  const sizeAt = w.pos;
  w.pos += 4;
  const size = w.utf8(text);
  w.u8(FRAME_END);
  const end = w.pos;
  w.pos = sizeAt;
  w.u32(size);
  // The content header's body size is a 64-bit field 11 bytes in; its low word is 4 further.
  w.pos = header + 15;
  w.u32(size);
  w.pos = end;
}
