import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeEnvelope,
  encodeEnvelope,
  envelopeFromObject,
  envelopeToObject,
  pythonJsonDumps,
} from "../../src/envelope.ts";
import { bodyBytes } from "../../src/body.ts";
import { compress, decompress } from "../../src/compression.ts";
import { serializers } from "../../src/serialization.ts";
import { DecodeError, EncodeError } from "../../src/errors.ts";
import { encodeBase64 } from "../../src/_base64.ts";
import type { StoredMessage } from "../../src/virtual/backend.ts";
import type { MessageProperties } from "../../src/transport.ts";
import { kombuFixtureText, runPython } from "../fixtures/python_kombu.ts";
import { kombuSkipReason } from "../_support/python.ts";
import { envSkip } from "../_support/skips.ts";

const enc = new TextEncoder();
// msgpack and yaml load their optional packages on first use; these tests call dumps/loads.
await serializers.load("msgpack", "yaml");
const ALL = serializers.prepareAccept(["json", "msgpack", "yaml"]);

function message(over: Partial<StoredMessage> = {}): StoredMessage {
  return {
    body: enc.encode('{"a": 1}'),
    properties: { contentType: "application/json", contentEncoding: "utf-8", headers: {} },
    exchange: "ex",
    routingKey: "rk",
    tag: "tag-1",
    redelivered: false,
    ...over,
  };
}

describe("encodeEnvelope", () => {
  it("writes Kombu's layout: hyphenated top level, snake_case properties, base64 body", () => {
    const m = message({
      body: new Uint8Array([0, 1, 2, 255]),
      properties: {
        contentType: "application/x-msgpack",
        contentEncoding: "binary",
        headers: { compression: "application/x-gzip", "x-n": 1 },
        deliveryMode: 2,
        priority: 5,
        correlationId: "c",
        replyTo: "r",
        expiration: "1000",
        messageId: "m",
        timestamp: 1700000000,
        type: "t",
        userId: "guest",
        appId: "app",
        clusterId: "cl",
      },
    });
    const o = JSON.parse(encodeEnvelope(m));
    assert.deepEqual(o, {
      body: "AAEC/w==",
      "content-encoding": "binary",
      "content-type": "application/x-msgpack",
      headers: { compression: "application/x-gzip", "x-n": 1 },
      properties: {
        correlation_id: "c",
        reply_to: "r",
        expiration: "1000",
        message_id: "m",
        type: "t",
        user_id: "guest",
        app_id: "app",
        cluster_id: "cl",
        delivery_mode: 2,
        priority: 5,
        timestamp: 1700000000,
        delivery_info: { exchange: "ex", routing_key: "rk" },
        body_encoding: "base64",
        delivery_tag: "tag-1",
      },
    });
  });

  it("formats like Python's json.dumps", () => {
    const text = encodeEnvelope(message({ properties: { headers: { "é": "☃" } } }));
    assert.ok(
      text.startsWith('{"body": "eyJhIjogMX0=", "content-encoding": null, "content-type": null, '),
    );
    assert.ok(text.includes('"headers": {"\\u00e9": "\\u2603"}'));
    assert.ok(/^[\x20-\x7e]*$/.test(text), "ASCII only");
  });

  it("marks a redelivered message with the generic top-level flag", () => {
    assert.equal(JSON.parse(encodeEnvelope(message({ redelivered: true }))).redelivered, true);
    assert.ok(!("redelivered" in JSON.parse(encodeEnvelope(message()))));
  });
});

describe("decodeEnvelope", () => {
  it("reads the envelope Kombu 5.2's virtual channel writes (memory transport)", () => {
    const m = decodeEnvelope(kombuFixtureText("envelope_memory.json"));
    assert.equal(m.exchange, "fixtures");
    assert.equal(m.routingKey, "rk.fixtures");
    assert.match(m.tag, /^[0-9a-f-]{36}$/);
    assert.equal(m.redelivered, false);
    assert.deepEqual(m.properties, {
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers: { "x-trace": "abc", "né": "ü" },
      correlationId: "corr-1",
      replyTo: "replies",
      expiration: "10000",
      messageId: "m-1",
      type: "fixture.type",
      userId: "guest",
      appId: "fixture-app",
      deliveryMode: 2,
      priority: 3,
      timestamp: 1700000000,
    });
    assert.equal(m.envelopeExtras, undefined);
    assert.deepEqual(
      serializers.loads(m.body, m.properties.contentType, m.properties.contentEncoding),
      {
        hello: "world",
        n: 42,
        f: 1.5,
        list: [1, "two", null, true],
        unicode: "café ☃ 😀",
      },
    );
  });

  it("reads a zlib-compressed, a msgpack and a Redis envelope from Kombu 5.2", async () => {
    const z = decodeEnvelope(kombuFixtureText("envelope_memory_zlib.json"));
    const compression = z.properties.headers?.compression;
    assert.equal(compression, "application/x-gzip");
    const body = await decompress(bodyBytes(z.body), compression as string);
    const zv = serializers.loads(body, z.properties.contentType, "utf-8", ALL) as { hello: string };
    assert.equal(zv.hello, "world");

    const mp = decodeEnvelope(kombuFixtureText("envelope_memory_msgpack.json"));
    assert.equal(mp.properties.contentType, "application/x-msgpack");
    const value = serializers.loads(
      mp.body,
      mp.properties.contentType,
      mp.properties.contentEncoding,
      ALL,
    );
    assert.equal((value as { unicode: string }).unicode, "café ☃ 😀");

    const r = decodeEnvelope(kombuFixtureText("envelope_redis.json"));
    assert.equal(r.exchange, "fixtures_redis");
    assert.deepEqual(r.properties.headers, { "x-custom": [1, 2] });
    assert.equal(r.properties.priority, 0);
    assert.deepEqual(serializers.loads(r.body, "application/json", "utf-8"), {
      task: "add",
      args: [2, 2],
    });
  });

  it("re-encodes Kombu's envelope to the same JSON value", () => {
    for (
      const name of ["envelope_memory.json", "envelope_redis.json", "envelope_memory_zlib.json"]
    ) {
      const text = kombuFixtureText(name);
      assert.deepEqual(JSON.parse(encodeEnvelope(decodeEnvelope(text))), JSON.parse(text), name);
    }
  });

  it("accepts a raw text body (body_encoding absent or utf-8)", () => {
    for (const props of ['"body_encoding": "utf-8", ', ""]) {
      const m = decodeEnvelope(
        `{"body": "{\\"x\\": 1}", "content-type": "application/json", "properties": {${props}"delivery_tag": "t"}}`,
      );
      // A text body stays text: it stands for its UTF-8 bytes, read without a round trip.
      assert.equal(m.body, '{"x": 1}');
      assert.deepEqual(bodyBytes(m.body), enc.encode('{"x": 1}'));
      assert.equal(m.exchange, "");
      assert.equal(m.routingKey, "");
    }
  });

  it("reads every redelivery mark: top level, Redis headers, Redis delivery_info", () => {
    const base = (extra: string, headers = "{}", info = "{}") =>
      decodeEnvelope(
        `{"body": "", "headers": ${headers}, ${extra}"properties": {"delivery_tag": "t", "delivery_info": ${info}}}`,
      ).redelivered;
    assert.equal(base(""), false);
    assert.equal(base('"redelivered": true, '), true);
    assert.equal(base("", '{"redelivered": true}'), true);
    assert.equal(base("", "{}", '{"redelivered": true}'), true);
  });

  it("keeps unknown keys for a lossless rewrite", () => {
    const text =
      '{"body": "", "x-top": [1], "properties": {"delivery_tag": "t", "priority": 1, "custom": {"a": 1}, "delivery_info": {"exchange": "e", "routing_key": "k", "consumer_tag": "c"}}}';
    const m = decodeEnvelope(text);
    assert.deepEqual(m.envelopeExtras, {
      "x-top": [1],
      properties: { custom: { a: 1 }, delivery_info: { consumer_tag: "c" } },
    });
    const again = JSON.parse(encodeEnvelope(m));
    assert.deepEqual(again["x-top"], [1]);
    assert.deepEqual(again.properties.custom, { a: 1 });
    assert.deepEqual(again.properties.delivery_info, {
      consumer_tag: "c",
      exchange: "e",
      routing_key: "k",
    });
  });

  it("keeps a __proto__ key as data, without touching any prototype", () => {
    const text =
      '{"body": "", "__proto__": {"polluted": 1}, "properties": {"delivery_tag": "t", "__proto__": {"x": 2}, "delivery_info": {"__proto__": {"y": 3}}}}';
    const m = decodeEnvelope(text);
    const again = JSON.parse(encodeEnvelope(m));
    assert.deepEqual(Object.getOwnPropertyDescriptor(again, "__proto__")?.value, { polluted: 1 });
    assert.deepEqual(Object.getOwnPropertyDescriptor(again.properties, "__proto__")?.value, {
      x: 2,
    });
    const info = again.properties.delivery_info;
    assert.deepEqual(Object.getOwnPropertyDescriptor(info, "__proto__")?.value, { y: 3 });
    assert.equal(Object.getPrototypeOf(m.envelopeExtras), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("decodes Kombu 5.3 tagged values inside headers", () => {
    const m = decodeEnvelope(
      '{"body": "", "headers": {"eta": {"__type__": "datetime", "__value__": "2024-05-01T12:00:00+00:00"}}, "properties": {"delivery_tag": "t"}}',
    );
    assert.deepEqual(m.properties.headers, { eta: new Date(Date.UTC(2024, 4, 1, 12)) });
  });

  it("refuses what is not a Kombu envelope with DecodeError", () => {
    for (
      const text of [
        "",
        "not json",
        "[]",
        "null",
        '"text"',
        "{}",
        '{"body": "", "properties": []}',
        '{"body": "", "properties": {}}',
        '{"body": "", "properties": {"delivery_tag": null}}',
        '{"body": 5, "properties": {"delivery_tag": "t"}}',
        '{"body": "@@@", "properties": {"delivery_tag": "t", "body_encoding": "base64"}}',
        '{"body": "x", "properties": {"delivery_tag": "t", "body_encoding": "rot13"}}',
        '{"body": "", "headers": [1], "properties": {"delivery_tag": "t"}}',
        '{"body": "", "content-type": 1, "properties": {"delivery_tag": "t"}}',
        '{"body": "", "properties": {"delivery_tag": "t", "priority": "high"}}',
        '{"body": "", "properties": {"delivery_tag": "t", "reply_to": 7}}',
        '{"body": "", "properties": {"delivery_tag": "t", "delivery_info": "x"}}',
        '{"body": "", "properties": {"delivery_tag": "t", "delivery_info": {"exchange": 1}}}',
        '{"body": "", "headers": {"x": {"__type__": "pickle", "__value__": ""}}, "properties": {"delivery_tag": "t"}}',
      ]
    ) {
      assert.throws(() => decodeEnvelope(text), DecodeError, text);
    }
  });

  it("decodes only Kombu envelopes from arbitrary strings and JSON (property)", () => {
    const anyText = fc.oneof(
      fc.string({ unit: "binary" }),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify({ body: "", properties: v })),
      fc.jsonValue().map((v) => JSON.stringify({ body: v, properties: { delivery_tag: "t" } })),
    );
    fc.assert(fc.property(anyText, (text) => {
      try {
        const m = decodeEnvelope(text);
        assert.ok(m.body instanceof Uint8Array || typeof m.body === "string");
        assert.equal(typeof m.tag, "string");
      } catch (e) {
        assert.ok(e instanceof DecodeError, `${e} for ${text}`);
      }
    }));
  });
});

describe("envelopeToObject / envelopeFromObject", () => {
  it("are inverse on the object level", () => {
    const m = message({
      properties: { priority: 0, deliveryMode: 2, headers: {} },
      redelivered: true,
    });
    assert.deepEqual(envelopeFromObject(envelopeToObject(m)), m);
  });
});

/** JSON values without -0 (JSON drops it) and without objects that look like Kombu tags. */
const headerValue = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown)
  .filter((v) => !JSON.stringify(v).includes('"__type__"'));

const propertiesArb: fc.Arbitrary<MessageProperties> = fc.record(
  {
    contentType: fc.string(),
    contentEncoding: fc.string(),
    headers: fc.dictionary(
      fc.string().filter((k) => k !== "redelivered"),
      headerValue as fc.Arbitrary<never>,
      { noNullPrototype: true },
    ),
    deliveryMode: fc.constantFrom(1, 2),
    priority: fc.integer({ min: 0, max: 255 }),
    correlationId: fc.string({ unit: "binary" }),
    replyTo: fc.string(),
    expiration: fc.nat().map(String),
    messageId: fc.uuid(),
    timestamp: fc.oneof(fc.nat(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    type: fc.string(),
    userId: fc.string(),
    appId: fc.string(),
    clusterId: fc.string(),
  },
  { requiredKeys: [] },
);

const messageArb: fc.Arbitrary<StoredMessage> = fc.record({
  body: fc.uint8Array({ maxLength: 512 }),
  properties: propertiesArb,
  exchange: fc.string({ unit: "binary" }),
  routingKey: fc.string({ unit: "binary" }),
  tag: fc.oneof(fc.uuid(), fc.string()),
  redelivered: fc.boolean(),
});

describe("round trips (property)", () => {
  it("decodeEnvelope(encodeEnvelope(m)) equals m", () => {
    fc.assert(fc.property(messageArb, (m) => {
      const back = decodeEnvelope(encodeEnvelope(m));
      const expected = {
        ...m,
        properties: { ...m.properties, headers: m.properties.headers ?? {} },
      };
      assert.deepEqual(back, expected);
    }));
  });

  it("pythonJsonDumps parses back with JSON.parse to the same value", () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      assert.deepEqual(JSON.parse(pythonJsonDumps(v)), v);
    }));
  });

  it("pythonJsonDumps output is ASCII and keeps lone surrogates", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => {
      const text = pythonJsonDumps(s);
      assert.ok(/^[\x20-\x7e]*$/.test(text));
      assert.equal(JSON.parse(text), s);
    }));
  });
});

describe("pythonJsonDumps", () => {
  it("matches Python's formatting", () => {
    assert.equal(
      pythonJsonDumps({ a: [1, 2.5, null, true], b: {} }),
      '{"a": [1, 2.5, null, true], "b": {}}',
    );
    assert.equal(
      pythonJsonDumps('é😀\u007f\n\u0001"\\/'),
      '"\\u00e9\\ud83d\\ude00\\u007f\\n\\u0001\\"\\\\/"',
    );
    assert.equal(pythonJsonDumps(1e-7), "1e-07");
    assert.equal(pythonJsonDumps(0.00001), "1e-05");
    assert.equal(pythonJsonDumps(0.0001), "0.0001");
    assert.equal(pythonJsonDumps(-0), "-0.0");
    assert.equal(pythonJsonDumps(2n ** 70n), "1180591620717411303424");
    assert.equal(pythonJsonDumps(new Date(0)), '"1970-01-01T00:00:00.000Z"');
    assert.equal(pythonJsonDumps([undefined, () => 1]), "[null, null]");
    assert.equal(pythonJsonDumps({ u: undefined, v: 1 }), '{"v": 1}');
    assert.equal(
      pythonJsonDumps({ b: new Uint8Array([104, 105]), c: new Uint8Array([255]) }),
      '{"b": {"__type__": "bytes", "__value__": "hi"}, "c": {"__type__": "base64", "__value__": "/w=="}}',
    );
  });

  it("refuses what JSON cannot hold", () => {
    for (const v of [NaN, Infinity, -Infinity, undefined, new Date(NaN), { x: [1, NaN] }]) {
      assert.throws(() => pythonJsonDumps(v), EncodeError, String(v));
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => pythonJsonDumps(cyclic), EncodeError);
  });
});

const skipPython = envSkip(import.meta.url, kombuSkipReason(["msgpack", "yaml"]));

describe("Python Kombu reads our envelopes (live)", () => {
  it(
    "through its virtual Message: properties, delivery info, compression and serializers",
    skipPython.options(),
    async () => {
      const payload = { hello: "wörld ☃ 😀", n: [1, 2.5, null], ok: true };
      const cases: { name: string; envelope: string }[] = [];
      for (
        const [name, serializer, compression] of [
          ["json", "json", undefined],
          ["json-zlib", "json", "zlib"],
          ["msgpack", "msgpack", undefined],
          ["yaml-zlib", "yaml", "gzip"],
        ] as const
      ) {
        const e = serializers.dumps(payload, serializer);
        let body = e.body;
        const headers: Record<string, unknown> = { "x-trace": "é", nested: { a: [1, "b"] } };
        if (compression) {
          const c = await compress(bodyBytes(body), compression);
          body = c.body;
          headers.compression = c.contentType;
        }
        cases.push({
          name,
          envelope: encodeEnvelope({
            body,
            properties: {
              contentType: e.contentType,
              contentEncoding: e.contentEncoding,
              headers: headers as MessageProperties["headers"],
              deliveryMode: 2,
              priority: 7,
              correlationId: "corr",
              replyTo: "replies",
              expiration: "5000",
              messageId: "mid",
              timestamp: 1700000000,
              type: "kind",
              userId: "guest",
              appId: "wakame",
            },
            exchange: "media",
            routingKey: "video",
            tag: "5c9d3f9e-8d0a-4a8e-9d9b-3a1f1f1f1f1f",
            redelivered: name === "msgpack",
          }),
        });
      }
      const out = runPython(
        `
import json, sys
from kombu import Connection
from kombu.transport.virtual.base import Message
from kombu.utils.json import loads
result = {}
with Connection("memory://") as conn:
    channel = conn.default_channel
    for case in json.load(sys.stdin):
        raw = loads(case["envelope"])
        m = Message(raw, channel=channel)
        m.accept = {"application/json", "application/x-msgpack", "application/x-yaml"}
        result[case["name"]] = {
            "payload": m.decode(),
            "content_type": m.content_type,
            "content_encoding": m.content_encoding,
            "headers": m.headers,
            "delivery_tag": m.delivery_tag,
            "delivery_info": m.delivery_info,
            "redelivered": raw.get("redelivered", False),
            "properties": {k: v for k, v in m.properties.items()
                           if k not in ("delivery_info", "body_encoding", "delivery_tag")},
        }
print(json.dumps(result))
`,
        cases,
      ) as Record<string, Record<string, unknown>>;
      for (const c of cases) {
        const got = out[c.name];
        assert.deepEqual(got.payload, payload, c.name);
        assert.equal(got.delivery_tag, "5c9d3f9e-8d0a-4a8e-9d9b-3a1f1f1f1f1f");
        assert.deepEqual(got.delivery_info, { exchange: "media", routing_key: "video" });
        assert.equal(got.redelivered, c.name === "msgpack");
        assert.equal((got.headers as Record<string, unknown>)["x-trace"], "é");
        assert.deepEqual(got.properties, {
          correlation_id: "corr",
          reply_to: "replies",
          expiration: "5000",
          message_id: "mid",
          type: "kind",
          user_id: "guest",
          app_id: "wakame",
          delivery_mode: 2,
          priority: 7,
          timestamp: 1700000000,
        });
      }
    },
  );

  it("our json.dumps is byte-for-byte Python's", skipPython.options(), () => {
    const values = fc.sample(fc.jsonValue(), { numRuns: 200, seed: 42 });
    values.push({ s: "é😀\u007f\u0000", f: [1e-7, 0.1, 123.456, 1e21, -0.5, 2 ** 53] });
    const ours = values.map((v) => pythonJsonDumps(v));
    const theirs = runPython(
      `
import json, sys
print(json.dumps([json.dumps(json.loads(t)) for t in json.load(sys.stdin)]))
`,
      ours,
    ) as string[];
    for (let i = 0; i < ours.length; i++) {
      assert.equal(ours[i], theirs[i], JSON.stringify(values[i]));
    }
  });

  it(
    "Kombu writes back our envelope unchanged (Message.serializable)",
    skipPython.options(),
    () => {
      const text = encodeEnvelope(
        message({ body: enc.encode(encodeBase64(new Uint8Array([1, 2]))) }),
      );
      const out = runPython(
        `
import json, sys
from kombu import Connection
from kombu.transport.virtual.base import Message
from kombu.utils.json import loads, dumps
with Connection("memory://") as conn:
    m = Message(loads(json.load(sys.stdin)), channel=conn.default_channel)
    print(json.dumps(dumps(m.serializable())))
`,
        text,
      ) as string;
      assert.deepEqual(decodeEnvelope(out), decodeEnvelope(text));
    },
  );
});
