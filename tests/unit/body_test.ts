import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { bodyBytes, bodyText } from "../../src/body.ts";
import { DecodeError } from "../../src/errors.ts";
import { serializers } from "../../src/serialization.ts";

// msgpack and yaml load their optional packages on first use; these tests call dumps/loads.
await serializers.load("msgpack", "yaml");
const ALL = serializers.prepareAccept(["json", "yaml", "text", "msgpack", "raw"]);

/** loads() of a body, or the class of the error it throws. */
function outcome(
  body: Uint8Array | string,
  type: string | undefined,
  charset: string | undefined,
): unknown {
  try {
    return { value: serializers.loads(body, type, charset, ALL) };
  } catch (error) {
    return { error: (error as Error).constructor.name };
  }
}

describe("bodyBytes / bodyText", () => {
  it("a string stands for its UTF-8 bytes; bytes pass through", () => {
    assert.deepEqual(bodyBytes("é☃😀"), new TextEncoder().encode("é☃😀"));
    const bytes = new Uint8Array([1, 2, 3]);
    assert.equal(bodyBytes(bytes), bytes);
    assert.equal(bodyText("as is"), "as is");
    assert.equal(bodyText(new TextEncoder().encode("héllo")), "héllo");
  });

  it("bodyText replaces invalid UTF-8 instead of throwing", () => {
    assert.equal(bodyText(new Uint8Array([0x61, 0xff])), "a\ufffd");
  });

  it("bodyText reads a string as its UTF-8 bytes would (lone surrogates become U+FFFD)", () => {
    for (const text of ["a\ud800b", "\udc00", "ok 😀", ""]) {
      assert.equal(bodyText(text), bodyText(bodyBytes(text)));
    }
  });
});

describe("serializers.loads of a text body", () => {
  it("decodes the same value or fails the same way as its UTF-8 bytes (property)", () => {
    // Any UTF-16 units, lone surrogates included: UTF-8 bytes cannot hold those.
    const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u));
    const text = fc.oneof(
      fc.string({ unit: "binary" }),
      fc.string({ unit: anyUnit }),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    const type = fc.constantFrom(
      "application/json",
      "application/x-yaml",
      "text/plain",
      "application/data",
      "application/text",
      undefined,
    );
    const charset = fc.constantFrom("utf-8", "UTF8", "binary", "latin-1", "", undefined);
    fc.assert(
      fc.property(text, type, charset, (t, ty, cs) => {
        const fromText = outcome(t, ty, cs);
        const fromBytes = outcome(bodyBytes(t), ty, cs);
        assert.deepStrictEqual(fromText, fromBytes);
      }),
      { numRuns: 400 },
    );
  });

  it("reads a lone surrogate in a text body as U+FFFD, as its UTF-8 bytes do", () => {
    for (const type of ["text/plain", "application/x-yaml", "application/data"]) {
      const value = serializers.loads("a\ud800b", type, "utf-8", ALL);
      assert.equal(value, "a\ufffdb", type);
    }
  });

  it("parses JSON text without encoding it, with Kombu's tagged types", () => {
    const value = serializers.loads(
      '{"b": {"__type__": "bytes", "__value__": "hi"}, "n": 1}',
      "application/json",
      "utf-8",
    ) as { b: Uint8Array; n: number };
    assert.deepEqual(value.b, new TextEncoder().encode("hi"));
    assert.equal(value.n, 1);
    assert.throws(() => serializers.loads("{nope", "application/json", "utf-8"), DecodeError);
  });
});
