/**
 * Broker-free tests of the hand-written hot frames (basic.publish with its content, basic.ack /
 * reject / nack) and of the named ids: both must match the generic codec byte for byte.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigurationError } from "../../../src/errors.ts";
import { Writer } from "../../../transports/amqp/codec/buffer.ts";
import { writePublish, writeTagFrame } from "../../../transports/amqp/codec/basic_frames.ts";
import { BASIC, CHANNEL, CLASS } from "../../../transports/amqp/codec/ids.ts";
import { encodeMethodFrame, METHODS } from "../../../transports/amqp/codec/methods.ts";
import { encodeHeaderFrame } from "../../../transports/amqp/codec/properties.ts";
import { FRAME_BODY, FRAME_END } from "../../../transports/amqp/codec/frame.ts";

const bytes = (w: Writer): Uint8Array => w.buf.slice(0, w.pos);

function bodyFrame(channel: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  const v = new DataView(out.buffer);
  out[0] = FRAME_BODY;
  v.setUint16(1, channel);
  v.setUint32(3, body.length);
  out.set(body, 7);
  out[7 + body.length] = FRAME_END;
  return out;
}

describe("AMQP named ids", () => {
  it("agree with the method table", () => {
    for (const def of Object.values(METHODS)) {
      const cls = Object.entries(CLASS).find(([, id]) => id === def.classId);
      assert.ok(cls, `class of ${def.name}`);
      const table = def.classId === CLASS.BASIC
        ? BASIC
        : def.classId === CLASS.CHANNEL
        ? CHANNEL
        : undefined;
      if (table === undefined) continue;
      const name = def.name.split(".")[1].replaceAll("-", "_").toUpperCase();
      assert.equal((table as Record<string, number>)[name], def.methodId, def.name);
    }
  });
});

describe("AMQP hot frames", () => {
  const properties = { contentType: "application/json", deliveryMode: 2, priority: 0 };

  for (
    const [label, body, frameMax] of [
      ["text body", '{"a":"é"}', 4096],
      ["byte body", new Uint8Array([1, 2, 3]), 4096],
      ["empty body", "", 4096],
      ["byte body over several frames", new Uint8Array(10000).fill(7), 4096],
      ["text body too long for the text path", "x".repeat(2000), 4096],
    ] as const
  ) {
    it(`write basic.publish like the generic codec: ${label}`, () => {
      const fast = new Writer(16);
      writePublish(fast, 3, frameMax, "ex", "rk", { body, properties }, { mandatory: true });
      const slow = new Writer(16);
      encodeMethodFrame(slow, 3, METHODS.basicPublish, {
        exchange: "ex",
        routingKey: "rk",
        mandatory: true,
      });
      const data = typeof body === "string" ? new TextEncoder().encode(body) : body;
      encodeHeaderFrame(slow, 3, data.length, properties);
      const max = frameMax - 8;
      for (let off = 0; off < data.length; off += max) {
        slow.bytes(bodyFrame(3, data.subarray(off, Math.min(off + max, data.length))));
      }
      assert.deepEqual(bytes(fast), bytes(slow));
    });
  }

  it("leave the buffer unchanged when a name cannot be encoded", () => {
    const w = new Writer(16);
    w.bytes(new Uint8Array([9, 9]));
    assert.throws(
      () => writePublish(w, 1, 4096, "x".repeat(256), "rk", { body: "a", properties: {} }, {}),
      ConfigurationError,
    );
    assert.equal(w.pos, 2);
  });

  it("write basic.ack / reject / nack like the generic codec", () => {
    const cases = [
      [BASIC.ACK, 1, METHODS.basicAck, { deliveryTag: 2 ** 40, multiple: true }],
      [BASIC.REJECT, 1, METHODS.basicReject, { deliveryTag: 7, requeue: true }],
      [BASIC.NACK, 3, METHODS.basicNack, { deliveryTag: 9, multiple: true, requeue: true }],
    ] as const;
    for (const [id, bits, def, args] of cases) {
      const fast = new Writer(8);
      writeTagFrame(fast, 5, id, args.deliveryTag, bits);
      const slow = new Writer(8);
      encodeMethodFrame(slow, 5, def, args);
      assert.deepEqual(bytes(fast), bytes(slow), def.name);
    }
  });
});
