/**
 * Helpers of the AMQP codec tests: the recorded session's bytes, frame collection and a decoder
 * that turns any frame into a comparable value.
 */
import { Decoder } from "../../../transports/amqp/codec/buffer.ts";
import {
  FRAME_BODY,
  FRAME_HEADER,
  FRAME_METHOD,
  FrameReader,
} from "../../../transports/amqp/codec/frame.ts";
import { decodeMethod } from "../../../transports/amqp/codec/methods.ts";
import { decodeHeader } from "../../../transports/amqp/codec/properties.ts";
import { RECORDED_SESSION_BASE64 } from "./_recorded.ts";

/** One frame, copied out of the reader's buffer. */
export interface RawFrame {
  type: number;
  channel: number;
  payload: Uint8Array;
}

/** Decodes base64 with `atob` (every runtime has it). */
export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The bytes RabbitMQ sent in the recorded session. */
export const RECORDED: Uint8Array = fromBase64(RECORDED_SESSION_BASE64);

/** Feeds chunks through one frame reader and returns the frames, payloads copied. */
export function collectFrames(chunks: Iterable<Uint8Array>, frameMax = 131072): RawFrame[] {
  const frames: RawFrame[] = [];
  const reader = new FrameReader((type, channel, bytes, start, size) => {
    frames.push({ type, channel, payload: bytes.slice(start, start + size) });
  }, frameMax);
  for (const chunk of chunks) reader.push(chunk);
  return frames;
}

/** Cuts bytes at the given offsets (sorted, deduplicated, in range). */
export function cut(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...new Set(offsets.filter((o) => o > 0 && o < bytes.length))].sort((a, b) =>
    a - b
  );
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

/** Decodes a frame into a plain value with the generic codec. */
export function decodeFrame(frame: RawFrame): unknown {
  const d = new Decoder().reset(frame.payload, 0, frame.payload.length);
  switch (frame.type) {
    case FRAME_METHOD: {
      const m = decodeMethod(d);
      return { channel: frame.channel, method: m.def.name, args: m.args };
    }
    case FRAME_HEADER:
      return { channel: frame.channel, header: decodeHeader(d) };
    case FRAME_BODY:
      return { channel: frame.channel, body: frame.payload };
    default:
      return { channel: frame.channel, heartbeat: true };
  }
}
