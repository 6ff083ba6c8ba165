import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ProtocolError } from "../../../src/errors.ts";
import { encodeCommand, RespEncoder, utf8Length } from "../../../transports/redis/resp/encoder.ts";
import { RespParser } from "../../../transports/redis/resp/parser.ts";
import { RespErrorReply, RespPush, type RespValue } from "../../../transports/redis/resp/types.ts";

const enc = new TextEncoder();

/** A reply as a server would write it (the test's own writer, independent of the parser). */
type Reply =
  | { t: "simple"; v: string }
  | { t: "error"; v: string }
  | { t: "int"; v: number }
  | { t: "bulk"; v: Uint8Array }
  | { t: "nullBulk" }
  | { t: "nullArray" }
  | { t: "null3" }
  | { t: "bool"; v: boolean }
  | { t: "double"; v: number }
  | { t: "big"; v: bigint }
  | { t: "verbatim"; v: string }
  | { t: "blobError"; v: string }
  | { t: "array"; v: Reply[] }
  | { t: "set"; v: Reply[] }
  | { t: "push"; v: Reply[] }
  | { t: "map"; v: [string, Reply][] };

function write(reply: Reply): string | Uint8Array[] {
  const parts: Uint8Array[] = [];
  const s = (text: string) => parts.push(enc.encode(text));
  const go = (r: Reply): void => {
    switch (r.t) {
      case "simple":
        return void s(`+${r.v}\r\n`);
      case "error":
        return void s(`-${r.v}\r\n`);
      case "int":
        return void s(`:${r.v}\r\n`);
      case "bulk":
        s(`$${r.v.length}\r\n`);
        parts.push(r.v);
        return void s("\r\n");
      case "nullBulk":
        return void s("$-1\r\n");
      case "nullArray":
        return void s("*-1\r\n");
      case "null3":
        return void s("_\r\n");
      case "bool":
        return void s(`#${r.v ? "t" : "f"}\r\n`);
      case "double":
        return void s(`,${Object.is(r.v, -0) ? "-0" : r.v}\r\n`);
      case "big":
        return void s(`(${r.v}\r\n`);
      case "verbatim": {
        const bytes = enc.encode(`txt:${r.v}`);
        s(`=${bytes.length}\r\n`);
        parts.push(bytes);
        return void s("\r\n");
      }
      case "blobError": {
        const bytes = enc.encode(r.v);
        s(`!${bytes.length}\r\n`);
        parts.push(bytes);
        return void s("\r\n");
      }
      case "array":
      case "set":
      case "push":
        s(`${r.t === "array" ? "*" : r.t === "set" ? "~" : ">"}${r.v.length}\r\n`);
        return r.v.forEach(go);
      case "map":
        s(`%${r.v.length}\r\n`);
        for (const [k, v] of r.v) {
          go({ t: "bulk", v: enc.encode(k) });
          go(v);
        }
        return;
    }
  };
  go(reply);
  return parts;
}

function bytesOf(replies: Reply[]): Uint8Array {
  const parts = replies.flatMap((r) => write(r) as Uint8Array[]);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What the parser should produce for a reply. */
function expected(r: Reply): RespValue {
  switch (r.t) {
    case "simple":
      return r.v;
    case "error":
    case "blobError":
      return new RespErrorReply(r.v);
    case "int":
      return r.v;
    case "bulk":
      return r.v;
    case "nullBulk":
    case "nullArray":
    case "null3":
      return null;
    case "bool":
      return r.v;
    case "double":
      return r.v;
    case "big":
      return r.v;
    case "verbatim":
      return r.v;
    case "array":
    case "set":
      return r.v.map(expected);
    case "push":
      return new RespPush(r.v.map(expected));
    case "map":
      return new Map(r.v.map(([k, v]) => [k, expected(v)]));
  }
}

const line = fc.string({ maxLength: 20 }).filter((t) => !/[\r\n]/.test(t));
const leaf: fc.Arbitrary<Reply> = fc.oneof(
  line.map((v) => ({ t: "simple" as const, v })),
  line.map((v) => ({ t: "error" as const, v: `ERR ${v}` })),
  fc.integer().map((v) => ({ t: "int" as const, v })),
  fc.uint8Array({ maxLength: 64 }).map((v) => ({ t: "bulk" as const, v })),
  fc.constant({ t: "nullBulk" as const }),
  fc.constant({ t: "nullArray" as const }),
  fc.constant({ t: "null3" as const }),
  fc.boolean().map((v) => ({ t: "bool" as const, v })),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => ({ t: "double" as const, v })),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((v) => ({ t: "big" as const, v })),
  fc.string({ maxLength: 20 }).map((v) => ({ t: "verbatim" as const, v })),
  fc.string({ maxLength: 20 }).map((v) => ({ t: "blobError" as const, v })),
);
const reply: fc.Arbitrary<Reply> = fc.letrec<{ r: Reply }>((tie) => ({
  r: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("r"), { maxLength: 4 }).map((v) => ({ t: "array" as const, v })),
    fc.array(tie("r"), { maxLength: 3 }).map((v) => ({ t: "set" as const, v })),
    fc.array(tie("r"), { maxLength: 3 }).map((v) => ({ t: "push" as const, v })),
    fc.uniqueArray(fc.tuple(fc.string({ maxLength: 6 }), tie("r")), {
      maxLength: 3,
      selector: ([k]) => k,
    }).map((v) => ({ t: "map" as const, v })),
  ),
})).r;

function parseChunks(chunks: Uint8Array[]): RespValue[] {
  const parser = new RespParser();
  const out: RespValue[] = [];
  for (const chunk of chunks) parser.feed(chunk, (v) => out.push(v));
  assert.ok(parser.idle, "the parser ends at a reply boundary");
  return out;
}

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    chunks.push(bytes.slice(at, p));
    at = p;
  }
  chunks.push(bytes.slice(at));
  return chunks;
}

describe("RESP parser", () => {
  it("parses every reply type however the bytes are chunked", () => {
    fc.assert(
      fc.property(
        fc.array(reply, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (replies, cuts) => {
          const bytes = bytesOf(replies);
          assert.deepStrictEqual(parseChunks(split(bytes, cuts)), replies.map(expected));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("parses a recorded pipeline split at every byte offset", () => {
    const bytes = enc.encode(
      "+OK\r\n:42\r\n$5\r\nhello\r\n*2\r\n$1\r\na\r\n*-1\r\n-WRONGTYPE bad\r\n$0\r\n\r\n%1\r\n+k\r\n:1\r\n",
    );
    const want = parseChunks([bytes]);
    assert.equal(want.length, 7);
    for (let i = 0; i <= bytes.length; i++) {
      assert.deepStrictEqual(parseChunks([bytes.slice(0, i), bytes.slice(i)]), want, `cut ${i}`);
    }
    // One byte at a time.
    assert.deepStrictEqual(parseChunks([...bytes].map((b) => new Uint8Array([b]))), want);
  });

  it("turns integers past 2^53 into bigints", () => {
    assert.deepStrictEqual(parseChunks([enc.encode(":9007199254740993\r\n")]), [
      9007199254740993n,
    ]);
  });

  it("drops attributes and keeps the reply they describe", () => {
    assert.deepStrictEqual(parseChunks([enc.encode("|1\r\n+ttl\r\n:3\r\n+OK\r\n")]), ["OK"]);
  });

  it("keeps a bulk string whose declared length has not arrived pending, without failing", () => {
    const parser = new RespParser();
    const out: RespValue[] = [];
    // 400 MB declared, 3 bytes sent: nothing is allocated from the length, no reply yet.
    parser.feed(enc.encode("$400000000\r\nabc"), (v) => out.push(v));
    assert.equal(out.length, 0);
    assert.equal(parser.idle, false);
  });

  const malformed: [string, string, object?][] = [
    ["an unknown type byte", "?what\r\n"],
    ["a bad length", "$12x\r\n"],
    ["a negative length other than -1", "$-5\r\n"],
    ["a bulk string without its CRLF", "$3\r\nabcXY"],
    ["a bad integer", ":12a\r\n"],
    ["a bad boolean", "#x\r\n"],
    ["a bad double", ",1.2.3\r\n"],
    ["a line ended by LF alone", "+OK\n"],
    ["a bulk string over the limit", "$2000\r\n", { maxBulkLength: 1000 }],
    ["a line over the limit", `+${"x".repeat(100)}`, { maxLineLength: 50 }],
    ["nesting past the limit", "*1\r\n".repeat(10), { maxDepth: 5 }],
  ];
  for (const [what, text, options] of malformed) {
    it(`fails on ${what} with a ProtocolError, and keeps failing`, () => {
      const parser = new RespParser(options);
      assert.throws(() => parser.feed(enc.encode(text), () => {}), ProtocolError);
      assert.throws(() => parser.feed(enc.encode("+OK\r\n"), () => {}), ProtocolError);
    });
  }

  it("accepts a bulk string of exactly the limit", () => {
    const parser = new RespParser({ maxBulkLength: 4 });
    const out: RespValue[] = [];
    parser.feed(enc.encode("$4\r\nabcd\r\n"), (v) => out.push(v));
    assert.deepStrictEqual(out, [enc.encode("abcd")]);
  });
});

/** Parses encoded commands back (a server's view), to check the encoder. */
function decodeCommands(bytes: Uint8Array): Uint8Array[][] {
  const parser = new RespParser();
  const out: Uint8Array[][] = [];
  parser.feed(bytes, (v) => out.push(v as Uint8Array[]));
  return out;
}

describe("RESP encoder", () => {
  it("writes commands as arrays of bulk strings that parse back to the same bytes", () => {
    const arg = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 200 }),
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(arg, { minLength: 1, maxLength: 6 }), { maxLength: 5 }),
        (cmds) => {
          const encoder = new RespEncoder(8);
          for (const cmd of cmds) encoder.write(cmd);
          const got = decodeCommands(encoder.take());
          assert.equal(got.length, cmds.length);
          cmds.forEach((cmd, i) => {
            assert.deepStrictEqual(
              got[i],
              cmd.map((a) =>
                typeof a === "string"
                  ? enc.encode(a)
                  : typeof a === "number"
                  ? enc.encode(String(a))
                  : a
              ),
            );
          });
          // The buffer is reused: after take() it starts empty.
          assert.equal(encoder.length, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("counts UTF-8 bytes exactly as TextEncoder writes them, lone surrogates included", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 50 }), (text) => {
        assert.equal(utf8Length(text), enc.encode(text).length);
      }),
      { numRuns: 500 },
    );
    assert.equal(utf8Length("\ud800"), 3);
    assert.equal(utf8Length("a\udc00b"), 5);
  });

  it("encodes a command on its own", () => {
    assert.equal(
      new TextDecoder().decode(encodeCommand(["LPUSH", "q", "é"])),
      "*3\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$2\r\né\r\n",
    );
  });
});
