/**
 * Broker-free tests of the AMQP codec: field tables (every RabbitMQ type code), every method,
 * content header properties; round trips with fast-check and fixed byte layouts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ConfigurationError, ProtocolError } from "../../../src/errors.ts";
import type { FieldTable, FieldValue, MessageProperties } from "../../../src/transport.ts";
import { Decoder, Writer } from "../../../transports/amqp/codec/buffer.ts";
import {
  decodeTable,
  decodeValue,
  encodeTable,
} from "../../../transports/amqp/codec/field_table.ts";
import {
  ALL_METHODS,
  type ArgType,
  type ArgValue,
  decodeMethod,
  encodeMethodFrame,
  methodById,
  METHODS,
} from "../../../transports/amqp/codec/methods.ts";
import { decodeHeader, encodeHeaderFrame } from "../../../transports/amqp/codec/properties.ts";
import { collectFrames } from "./_frames.ts";

const SAFE = Number.MAX_SAFE_INTEGER;

function decoderOf(w: Writer): Decoder {
  return new Decoder().reset(w.buf, 0, w.pos);
}

/** What a value becomes after a trip through the wire. */
function normalize(v: FieldValue): FieldValue {
  if (v === undefined) return null;
  if (typeof v === "bigint") return v >= -SAFE && v <= SAFE ? Number(v) : v;
  if (v instanceof Date) return new Date(Math.floor(v.getTime() / 1000) * 1000);
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === "object") {
    const out: FieldTable = {};
    for (const [k, x] of Object.entries(v)) out[k] = normalize(x);
    return out;
  }
  return v;
}

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 20 }));
const key = fc.string({ maxLength: 30 }).filter((k) => k !== "__proto__");
const scalar: fc.Arbitrary<FieldValue> = fc.oneof(
  text,
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.integer({ min: -2_000_000_000, max: 4_000_000_000 }).map((s) => new Date(s * 1000 + 123)),
  fc.uint8Array({ maxLength: 20 }),
);
const { value: fieldValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("value") as fc.Arbitrary<FieldValue>, { maxLength: 4 }),
    fc.dictionary(key, tie("value") as fc.Arbitrary<FieldValue>, { maxKeys: 4 }),
  ),
}));
const table: fc.Arbitrary<FieldTable> = fc.dictionary(key, fieldValue, { maxKeys: 6 });

describe("AMQP field tables", () => {
  it("round-trip any table of every encodable type", () => {
    fc.assert(
      fc.property(table, (t) => {
        const w = new Writer(16);
        encodeTable(w, t);
        const d = decoderOf(w);
        assert.deepStrictEqual(decodeTable(d), normalize(t));
        assert.equal(d.pos, w.pos);
      }),
      { numRuns: 300 },
    );
  });

  it("decode every type code of RabbitMQ's errata table", () => {
    const w = new Writer(16);
    const cases: [string, (w: Writer) => void, FieldValue][] = [
      ["t", (w) => w.u8(1), true],
      ["b", (w) => w.u8(0xfe), -2],
      ["B", (w) => w.u8(0xfe), 254],
      ["s", (w) => w.u16(0xfffe), -2], // RabbitMQ: 's' is a signed short int, not a short string
      ["u", (w) => w.u16(0xfffe), 65534],
      ["I", (w) => w.u32(0xfffffffe), -2],
      ["i", (w) => w.u32(0xfffffffe), 4294967294],
      ["l", (w) => w.i64(-5n), -5],
      ["l", (w) => w.i64(2n ** 62n), 2n ** 62n],
      ["D", (w) => {
        w.u8(2);
        w.u32(12345);
      }, 123.45],
      ["f", (w) => w.f32(1.5), 1.5],
      ["d", (w) => w.f64(-0.25), -0.25],
      ["S", (w) => w.longStr("h\u00e9"), "h\u00e9"],
      ["x", (w) => w.longStr(new Uint8Array([0, 255])), new Uint8Array([0, 255])],
      ["T", (w) => w.i64(1700000000n), new Date(1700000000000)],
      ["V", () => {}, null],
      ["A", (w) => {
        w.u32(6);
        w.u8(0x42);
        w.u8(7);
        w.u8(0x74);
        w.u8(0);
        w.u8(0x56);
        w.u8(0x56);
      }, [7, false, null, null]],
      ["F", (w) => {
        w.u32(3);
        w.u8(1);
        w.u8(0x6b);
        w.u8(0x56);
      }, { k: null }],
    ];
    for (const [code, write, expected] of cases) {
      w.reset();
      w.ensure(64);
      w.u8(code.charCodeAt(0));
      write(w);
      const d = decoderOf(w);
      assert.deepStrictEqual(decodeValue(d), expected, `type code ${code}`);
      assert.equal(d.pos, w.pos, `type code ${code} consumed its bytes`);
    }
  });

  it("picks the wire type like py-amqp: I for 32-bit, l for 64-bit, d for others", () => {
    const codes = (v: FieldValue): string => {
      const w = new Writer(16);
      encodeTable(w, { v });
      return String.fromCharCode(w.buf[4 + 2]);
    };
    assert.equal(codes(42), "I");
    assert.equal(codes(-(2 ** 31)), "I");
    assert.equal(codes(2 ** 31), "l");
    assert.equal(codes(2n), "l");
    assert.equal(codes(0.5), "d");
    assert.equal(codes(-0), "d");
    assert.equal(codes("s"), "S");
    assert.equal(codes(new Uint8Array(1)), "x");
    assert.equal(codes(new Date(0)), "T");
    assert.equal(codes(null), "V");
    assert.equal(codes(true), "t");
    assert.equal(codes([1]), "A");
    assert.equal(codes({}), "F");
  });

  it("keep a __proto__ key as data", () => {
    const t = JSON.parse('{"__proto__": {"polluted": 1}}') as FieldTable;
    const w = new Writer(16);
    encodeTable(w, t);
    const decoded = decodeTable(decoderOf(w));
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    assert.deepStrictEqual(Object.keys(decoded), ["__proto__"]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("refuse unknown type codes and short tables with ProtocolError", () => {
    const bytes = new Uint8Array([0, 0, 0, 3, 1, 0x6b, 0x5a]); // key "k", type 'Z'
    assert.throws(() => decodeTable(new Decoder().reset(bytes, 0, bytes.length)), ProtocolError);
    const short = new Uint8Array([0, 0, 0, 9, 1, 0x6b, 0x49, 0]);
    assert.throws(() => decodeTable(new Decoder().reset(short, 0, short.length)), ProtocolError);
  });

  it("refuse keys over 255 bytes and bigints over 64 bits with ConfigurationError", () => {
    assert.throws(() => encodeTable(new Writer(16), { ["k".repeat(256)]: 1 }), ConfigurationError);
    assert.throws(() => encodeTable(new Writer(16), { k: 2n ** 64n }), ConfigurationError);
  });
});

function argArbitrary(type: ArgType): fc.Arbitrary<ArgValue> {
  switch (type) {
    case "octet":
      return fc.integer({ min: 0, max: 255 });
    case "short":
      return fc.integer({ min: 0, max: 65535 });
    case "long":
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case "longlong":
    case "timestamp":
      return fc.maxSafeNat();
    case "shortstr":
      return fc.oneof(
        fc.string({ maxLength: 255 }),
        fc.string({ unit: "grapheme", maxLength: 30 }).filter((t) =>
          new TextEncoder().encode(t).length <= 255
        ),
      );
    case "longstr":
      return fc.string({ maxLength: 300 });
    case "bit":
      return fc.boolean();
    case "table":
      return table.map((t) => normalize(t) as FieldTable);
  }
}

describe("AMQP methods", () => {
  it("cover 0-9-1 and RabbitMQ's extensions", () => {
    const names = new Set(ALL_METHODS.map((m) => m.name));
    for (
      const name of [
        "confirm.select",
        "confirm.select-ok",
        "basic.nack",
        "exchange.bind",
        "exchange.unbind-ok",
        "connection.blocked",
        "connection.unblocked",
        "connection.update-secret",
        "connection.update-secret-ok",
        "basic.recover-async",
        "tx.rollback-ok",
      ]
    ) assert.ok(names.has(name), name);
    assert.equal(ALL_METHODS.length, 64);
    assert.equal(methodById(40, 51), METHODS.exchangeUnbindOk);
    assert.equal(methodById(60, 120), METHODS.basicNack);
  });

  for (const def of ALL_METHODS) {
    it(`round-trip ${def.name}`, () => {
      const record: Record<string, fc.Arbitrary<ArgValue>> = {};
      for (const [name, type] of def.args) record[name] = argArbitrary(type);
      fc.assert(
        fc.property(fc.record(record), fc.integer({ min: 0, max: 65535 }), (args, channel) => {
          const w = new Writer(8);
          encodeMethodFrame(w, channel, def, args);
          const frames = collectFrames([w.view8()]);
          assert.equal(frames.length, 1);
          assert.equal(frames[0].channel, channel);
          const d = new Decoder().reset(frames[0].payload, 0, frames[0].payload.length);
          const m = decodeMethod(d);
          assert.equal(m.def, def);
          assert.deepStrictEqual(m.args, { ...args });
          assert.equal(d.pos, frames[0].payload.length);
        }),
        { numRuns: 40 },
      );
    });
  }

  it("pack consecutive bits into one octet, low bit first", () => {
    const w = new Writer(8);
    encodeMethodFrame(w, 1, METHODS.queueDeclare, {
      queue: "q",
      passive: false,
      durable: true,
      exclusive: false,
      autoDelete: true,
      noWait: false,
    });
    // type(1) ch(2) size(4) class(2) method(2) reserved(2) "q"(2) bits(1) table(4) end(1)
    assert.equal(w.pos, 21);
    assert.equal(w.buf[15], 0b01010);
  });

  it("refuse a short string over 255 bytes and leave the buffer unchanged", () => {
    const w = new Writer(8);
    assert.throws(
      () => encodeMethodFrame(w, 1, METHODS.basicPublish, { routingKey: "r".repeat(256) }),
      ConfigurationError,
    );
    assert.equal(w.pos, 0);
  });

  it("refuse an unknown method with ProtocolError", () => {
    const bytes = new Uint8Array([0, 60, 0, 99]);
    assert.throws(() => decodeMethod(new Decoder().reset(bytes, 0, 4)), ProtocolError);
  });
});

const properties: fc.Arbitrary<MessageProperties> = fc.record(
  {
    contentType: fc.string({ maxLength: 40 }),
    contentEncoding: fc.string({ maxLength: 10 }),
    headers: table.map((t) => normalize(t) as FieldTable),
    deliveryMode: fc.integer({ min: 1, max: 2 }),
    priority: fc.integer({ min: 0, max: 255 }),
    correlationId: fc.string({ maxLength: 40 }),
    replyTo: fc.string({ maxLength: 40 }),
    expiration: fc.nat().map(String),
    messageId: fc.string({ maxLength: 40 }),
    timestamp: fc.integer({ min: 0, max: 2 ** 40 }),
    type: fc.string({ maxLength: 20 }),
    userId: fc.string({ maxLength: 20 }),
    appId: fc.string({ maxLength: 20 }),
    clusterId: fc.string({ maxLength: 20 }),
  },
  { requiredKeys: [] },
);

describe("AMQP content header", () => {
  it("round-trips any set of properties, absent ones staying absent", () => {
    fc.assert(
      fc.property(properties, fc.maxSafeNat(), (p, size) => {
        const w = new Writer(8);
        encodeHeaderFrame(w, 3, size, p);
        const frames = collectFrames([w.view8()]);
        assert.equal(frames[0].type, 2);
        const d = new Decoder().reset(frames[0].payload, 0, frames[0].payload.length);
        assert.deepStrictEqual(decodeHeader(d), {
          classId: 60,
          bodySize: size,
          properties: { ...p },
        });
      }),
      { numRuns: 300 },
    );
  });

  it("sets the property flags from bit 15 down", () => {
    const w = new Writer(8);
    encodeHeaderFrame(w, 1, 0, { contentType: "a", priority: 0, deliveryMode: 2 });
    // header: type ch size | class weight bodysize(8) | flags
    const flags = (w.buf[7 + 12] << 8) | w.buf[7 + 13];
    assert.equal(flags, 0x8000 | 0x1000 | 0x0800);
  });
});
