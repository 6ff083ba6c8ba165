import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { bodyBytes, bodyText } from "../../src/body.ts";
import { DecodeError } from "../../src/errors.ts";
import { serializers } from "../../src/serialization.ts";

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
});

describe("serializers.loads of a text body", () => {
  it("decodes the same value or fails the same way as its UTF-8 bytes (property)", () => {
    const text = fc.oneof(
      fc.string({ unit: "binary" }),
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
    fc.assert(fc.property(text, type, charset, (t, ty, cs) => {
      const fromText = outcome(t, ty, cs);
      const fromBytes = outcome(bodyBytes(t), ty, cs);
      assert.deepStrictEqual(fromText, fromBytes);
    }));
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
