import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodePyroAnnotations,
  decodePyroHeader,
  encodePyroMessage,
  FLAGS_EXCEPTION,
  MSG_CONNECT,
  MSG_INVOKE,
  MSG_RESULT,
  PYRO_HEADER_SIZE,
  PyroProtocolError,
} from "../../../transports/pyro/protocol.ts";
import { serpentDumps } from "../../../transports/pyro/serpent.ts";

const hex = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));

// Recorded from Pyro4 4.82's Message(...).to_bytes().
const PY_CONNECT = hex(
  "5059524f00300001000000010000002c0001000000003548232073657270656e74207574662d3820707974686f" +
    "6e332e320a7b2768616e647368616b65273a4e6f6e657d",
);
const PY_INVOKE_HEADER = hex("5059524f00300004000000070000008200010000000035a7");
const PY_RESULT = hex(
  "5059524f003000050001ffff00000005000100160000353a434f52520010303132333435363738396162636465" +
    "667878787878",
);

describe("Pyro message framing", () => {
  it("frames a connect message as Pyro4 does", () => {
    const bytes = encodePyroMessage(MSG_CONNECT, 0, 1, serpentDumps({ handshake: null }));
    assert.deepEqual(bytes, PY_CONNECT);
  });

  it("frames an invoke header as Pyro4 does (seq 7, 130 bytes)", () => {
    const bytes = encodePyroMessage(MSG_INVOKE, 0, 7, new Uint8Array(130));
    assert.deepEqual(bytes.subarray(0, PYRO_HEADER_SIZE), PY_INVOKE_HEADER);
  });

  it("reads a Pyro4 result with flags, the last sequence number and an annotation", () => {
    const header = decodePyroHeader(PY_RESULT);
    assert.deepEqual(header, {
      type: MSG_RESULT,
      flags: FLAGS_EXCEPTION,
      seq: 0xffff,
      dataSize: 5,
      serializerId: 1,
      annotationsSize: 22,
    });
    const annotations = decodePyroAnnotations(PY_RESULT.subarray(24, 24 + 22));
    assert.deepEqual(Object.keys(annotations), ["CORR"]);
    assert.equal(new TextDecoder().decode(annotations.CORR), "0123456789abcdef");
    assert.equal(new TextDecoder().decode(PY_RESULT.subarray(46)), "xxxxx");
  });

  it("reads back every header it writes", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 0x7f }),
      fc.integer({ min: 0, max: 0x1ffff }),
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 16 }),
      (type, flags, seq, data, note) => {
        const bytes = encodePyroMessage(type, flags, seq, data, { NOTE: note });
        const h = decodePyroHeader(bytes);
        assert.deepEqual(h, {
          type,
          flags,
          seq: seq & 0xffff,
          dataSize: data.length,
          serializerId: 1,
          annotationsSize: 6 + note.length,
        });
        const chunks = decodePyroAnnotations(bytes.subarray(24, 24 + h.annotationsSize));
        assert.deepEqual(chunks.NOTE, note);
        assert.deepEqual(bytes.subarray(24 + h.annotationsSize), data);
      },
    ));
  });

  it("refuses a wrong tag, version, checksum or truncated annotation", () => {
    const good = PY_CONNECT.slice(0, 24);
    const tag = good.slice();
    tag[0] = 0x51;
    assert.throws(() => decodePyroHeader(tag), /no PYRO tag/);
    const version = good.slice();
    version[5] = 47;
    assert.throws(() => decodePyroHeader(version), /version 47/);
    const sum = good.slice();
    sum[23] ^= 1;
    assert.throws(() => decodePyroHeader(sum), /checksum/);
    assert.throws(() => decodePyroHeader(good.subarray(0, 10)), PyroProtocolError);
    assert.throws(() => decodePyroAnnotations(Uint8Array.of(65, 66, 67, 68, 0, 9, 1)), /truncated/);
    assert.throws(() =>
      encodePyroMessage(1, 0, 0, new Uint8Array(), { TOOLONG: new Uint8Array() })
    );
  });
});
