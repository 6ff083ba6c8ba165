/**
 * Broker-free tests of the streaming frame reader: a session recorded from RabbitMQ replayed
 * split at every byte offset and in random chunks, malformed frames, and mutation fuzzing where
 * the only error allowed is ProtocolError.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ProtocolError } from "../../../src/errors.ts";
import { FrameReader, HEARTBEAT_FRAME } from "../../../transports/amqp/codec/frame.ts";
import { collectFrames, cut, decodeFrame, type RawFrame, RECORDED } from "./_frames.ts";

const WHOLE: RawFrame[] = collectFrames([RECORDED]);

function frame(type: number, channel: number, payload: number[], end = 0xce): Uint8Array {
  const n = payload.length;
  return new Uint8Array([
    type,
    channel >> 8,
    channel & 255,
    n >>> 24,
    (n >>> 16) & 255,
    (n >>> 8) & 255,
    n & 255,
    ...payload,
    end,
  ]);
}

describe("AMQP frame reader on a recorded RabbitMQ session", () => {
  it("reads the whole session and decodes every frame", () => {
    const decoded = WHOLE.map(decodeFrame) as { method?: string; body?: Uint8Array }[];
    const methods = decoded.map((f) => f.method).filter((m) => m !== undefined);
    assert.equal(methods[0], "connection.start");
    assert.equal(methods[1], "connection.tune");
    for (
      const expected of [
        "confirm.select-ok",
        "basic.ack",
        "basic.return",
        "basic.get-ok",
        "basic.deliver",
        "basic.cancel-ok",
        "channel.close",
        "connection.close-ok",
      ]
    ) assert.ok(methods.includes(expected), expected);
    const bodies = decoded.filter((f) => f.body !== undefined).map((f) => f.body!.length);
    assert.ok(bodies.some((n) => n === 4096 - 8), "a body split over frames of frame_max");
  });

  it("gives the same frames for a split at every byte offset", () => {
    for (let at = 1; at < RECORDED.length; at++) {
      const frames = collectFrames(cut(RECORDED, [at]));
      assert.equal(frames.length, WHOLE.length, `split at ${at}`);
      for (let i = 0; i < frames.length; i++) {
        if (
          frames[i].type !== WHOLE[i].type || frames[i].channel !== WHOLE[i].channel ||
          frames[i].payload.length !== WHOLE[i].payload.length
        ) assert.fail(`split at ${at}: frame ${i} differs`);
      }
      assert.deepStrictEqual(frames[frames.length - 1], WHOLE[WHOLE.length - 1]);
    }
  });

  it("gives the same frames for one byte at a time", () => {
    const bytes = [...RECORDED].map((b) => new Uint8Array([b]));
    assert.deepStrictEqual(collectFrames(bytes), WHOLE);
  });

  it("gives the same frames for any random chunking", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: RECORDED.length - 1 }), { maxLength: 60 }),
        (offsets) => {
          assert.deepStrictEqual(collectFrames(cut(RECORDED, offsets)), WHOLE);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("never overwrites a payload view it handed out", () => {
    const kept: { view: Uint8Array; copy: Uint8Array }[] = [];
    const reader = new FrameReader((_t, _c, bytes, start, size) => {
      const view = bytes.subarray(start, start + size);
      kept.push({ view, copy: view.slice() });
    }, 131072);
    for (const chunk of cut(RECORDED, [5, 100, 101, 3000, 7000])) reader.push(chunk);
    for (const { view, copy } of kept) assert.deepStrictEqual(view, copy);
  });
});

describe("AMQP frame reader on malformed input", () => {
  const reader = (frameMax = 4096) => new FrameReader(() => {}, frameMax);

  it("refuses a bad frame end", () => {
    assert.throws(() => reader().push(frame(1, 0, [0, 10, 0, 51], 0xcd)), ProtocolError);
  });

  it("refuses an unknown frame type", () => {
    assert.throws(() => reader().push(frame(7, 0, [])), /unknown frame type 7/);
  });

  it("refuses a heartbeat on a channel other than 0", () => {
    assert.throws(() => reader().push(frame(8, 3, [])), /heartbeat on channel 3/);
    reader().push(HEARTBEAT_FRAME);
  });

  it("refuses a size over frame_max from the header alone, before any payload", () => {
    const r = reader(4096);
    r.push(new Uint8Array([3, 0, 1, 0, 0]));
    assert.throws(() => r.push(new Uint8Array([0x10, 0x01])), /exceeds frame_max 4096/);
    assert.throws(() => reader(4096).push(new Uint8Array([3, 0, 1, 0x7f, 0xff, 0xff, 0xff])));
  });

  it("accepts a frame of exactly frame_max", () => {
    let seen = 0;
    const r = new FrameReader(() => seen++, 4096);
    r.push(frame(3, 1, new Array(4096 - 8).fill(1)));
    assert.equal(seen, 1);
    assert.ok(r.idle);
  });
});

/** Replays bytes through the reader and the generic decoders; returns the error, if any. */
function replay(bytes: Uint8Array, chunkAt: number[]): unknown {
  try {
    for (const f of collectFrames(cut(bytes, chunkAt), 4096)) decodeFrame(f);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe("AMQP codec under mutation fuzzing", () => {
  const mutation = fc.record({
    at: fc.nat({ max: RECORDED.length - 1 }),
    kind: fc.constantFrom("set", "flip", "drop", "insert"),
    byte: fc.integer({ min: 0, max: 255 }),
  });

  it("fails only with ProtocolError, whatever bytes change", () => {
    fc.assert(
      fc.property(
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat({ max: RECORDED.length }), { maxLength: 4 }),
        (mutations, chunkAt) => {
          const bytes = [...RECORDED];
          for (const m of mutations) {
            const at = Math.min(m.at, bytes.length - 1);
            if (m.kind === "set") bytes[at] = m.byte;
            else if (m.kind === "flip") bytes[at] ^= 1 << (m.byte & 7);
            else if (m.kind === "drop") bytes.splice(at, 1);
            else bytes.splice(at, 0, m.byte);
          }
          const error = replay(new Uint8Array(bytes), chunkAt);
          if (error !== undefined && !(error instanceof ProtocolError)) throw error;
        },
      ),
      { numRuns: 400 },
    );
  });

  it("fails only with ProtocolError on the payload bytes of every frame", () => {
    // Target the payloads (tables, strings, lengths) rather than the framing.
    fc.assert(
      fc.property(
        fc.nat({ max: WHOLE.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (index, changes) => {
          const f = WHOLE[index];
          const payload = f.payload.slice();
          if (payload.length === 0) return;
          for (const [at, byte] of changes) payload[at % payload.length] = byte;
          try {
            decodeFrame({ ...f, payload });
          } catch (error) {
            if (!(error instanceof ProtocolError)) throw error;
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
