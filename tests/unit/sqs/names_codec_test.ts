import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeBase64 } from "../../../src/_base64.ts";
import { decodeEnvelope, encodeEnvelope } from "../../../src/envelope.ts";
import { ConfigurationError, LimitExceededError } from "../../../src/errors.ts";
import type { StoredMessage } from "../../../src/virtual/backend.ts";
import {
  decodeSqsBody,
  encodeSqsBody,
  optionalBase64Decode,
  sqsEntityName,
  sqsQueueName,
} from "../../../transports/sqs/mod.ts";
import { bodyText } from "../../../mod.ts";

const utf8 = new TextEncoder();

function message(body: string | Uint8Array, extra: Partial<StoredMessage> = {}): StoredMessage {
  return {
    body: typeof body === "string" ? utf8.encode(body) : body,
    properties: { contentType: "application/json", contentEncoding: "utf-8", priority: 0 },
    exchange: "",
    routingKey: "q",
    tag: "5c9d3f9e-8d0a-4a8e-9d9b-3a1f1f1f1f1f",
    redelivered: false,
    ...extra,
  };
}

describe("SQS queue names (Kombu's entity_name)", () => {
  it("replaces dots with dashes and other punctuation with underscores", () => {
    assert.equal(sqsEntityName("celery.pidbox"), "celery-pidbox");
    assert.equal(sqsEntityName("a:b/c@d"), "a_b_c_d");
    assert.equal(sqsEntityName("keep-this_and"), "keep-this_and");
    assert.equal(sqsEntityName("a.b.fifo"), "a-b.fifo");
    assert.equal(sqsEntityName("x!y.fifo"), "x_y.fifo");
  });

  it("adds the prefix before translating, as canonical_queue_name does", () => {
    assert.equal(sqsQueueName("prod.", "video"), "prod-video");
  });

  it("refuses names SQS cannot hold, saying why", () => {
    assert.throws(() => sqsQueueName("", "x".repeat(81)), ConfigurationError);
    assert.throws(() => sqsQueueName("", "ünïcode"), /1 to 80 ASCII letters/);
    assert.throws(() => sqsQueueName("", ""), ConfigurationError);
    assert.equal(sqsQueueName("", "x".repeat(75) + ".fifo").length, 80);
  });

  it("maps printable ASCII to SQS's alphabet and is idempotent", () => {
    fc.assert(fc.property(fc.stringMatching(/^[\x21-\x7e]{1,70}$/), (name) => {
      const out = sqsEntityName(name);
      const stem = out.endsWith(".fifo") ? out.slice(0, -5) : out;
      assert.match(stem, /^[A-Za-z0-9_-]*$/);
      assert.equal(sqsEntityName(out), out);
    }));
  });
});

describe("SQS message bodies", () => {
  it("base64-encodes the envelope once more (Kombu's sqs_base64_encoding)", () => {
    const m = message('{"x": 1}');
    const body = encodeSqsBody(m, true, "q", 262_144);
    assert.equal(body, encodeBase64(utf8.encode(encodeEnvelope(m))));
    const [back, foreign] = decodeSqsBody(body);
    assert.equal(foreign, false);
    assert.deepEqual(back.body, m.body);
    assert.equal(back.tag, m.tag);
  });

  it("sends the plain envelope with sqsBase64Encoding off and reads it back", () => {
    const m = message("hi");
    const body = encodeSqsBody(m, false, "q", 262_144);
    assert.deepEqual(decodeEnvelope(body).body, m.body);
    assert.deepEqual(decodeSqsBody(body)[0].body, m.body);
  });

  it("removes the outer base64 only when it decodes to UTF-8 text", () => {
    assert.equal(optionalBase64Decode(encodeBase64(utf8.encode("héllo"))), "héllo");
    assert.equal(optionalBase64Decode("not base64!"), "not base64!");
    // "test" is valid base64 of bytes that are not UTF-8: kept as text, as Kombu does.
    assert.equal(optionalBase64Decode("test"), "test");
    assert.equal(optionalBase64Decode(""), "");
  });

  it("wraps text that is not Kombu's envelope as a body without content type", () => {
    for (const text of ["hello", '{"a": 1}', "[1, 2]", '{"properties": {"delivery_tag": []}}']) {
      for (const body of [text, encodeBase64(utf8.encode(text))]) {
        const [m, foreign] = decodeSqsBody(body);
        assert.equal(foreign, true, body);
        assert.equal(bodyText(m.body), text);
        assert.equal(m.properties.contentType, undefined);
        assert.equal(typeof m.tag, "string");
      }
    }
  });

  it("never throws on any text", () => {
    fc.assert(fc.property(fc.string(), (text) => {
      const [m] = decodeSqsBody(text);
      assert.ok(m.body instanceof Uint8Array);
    }));
  });

  it("fails at publish with LimitExceededError just over the limit, not at it", () => {
    const m = message("x");
    const size = encodeSqsBody(m, true, "q", 1_000_000).length;
    assert.equal(encodeSqsBody(m, true, "q", size).length, size);
    assert.throws(
      () => encodeSqsBody(m, true, "video", size - 1),
      (error: unknown) =>
        error instanceof LimitExceededError && /queue "video"/.test(error.message) &&
        error.message.includes(`${size} bytes`),
    );
    assert.throws(
      () => encodeSqsBody(message(new Uint8Array(200_000)), true, "q", 262_144),
      LimitExceededError,
    );
    // A text body is measured in its UTF-8 bytes (100 000 "é" are 200 000 bytes).
    assert.throws(
      () => encodeSqsBody(message("", { body: "é".repeat(100_000) }), true, "q", 262_144),
      (error: unknown) =>
        error instanceof LimitExceededError && /body 200000 bytes/.test(error.message),
    );
  });
});
