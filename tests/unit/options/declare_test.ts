/**
 * The option reader: both spellings and their units, the URL in Kombu's names and units, one
 * boolean reading, errors that name the option, the closest known option for a typo, and Kombu
 * options accepted and ignored with one warning.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigurationError } from "../../../src/errors.ts";
import { setLogger } from "../../../src/logger.ts";
import { declareOptions, parseBoolean, readOptions } from "../../../src/options/declare.ts";
import { closestNames, editDistance } from "../../../src/utils/closest.ts";

const TEST = declareOptions("Test", {
  visibilityTimeout: { kind: "duration", default: 3_600_000, min: 0, doc: "seconds in Kombu" },
  retryDelay: { kind: "duration", unit: "ms", default: 50, min: 0, doc: "ms in Kombu too" },
  ackEmulation: { kind: "boolean", default: true, doc: "a boolean" },
  maxAttempts: { kind: "integer", default: 5, min: 1, max: 100, doc: "an integer" },
  strategy: { kind: "enum", values: ["round_robin", "priority"], default: "round_robin", doc: "" },
  steps: { kind: "list", items: "integer", default: [0, 3], doc: "integers" },
  hosts: { kind: "list", default: [], doc: "text" },
  prefix: { kind: "string", default: "", doc: "text" },
  password: { kind: "string", secret: true, doc: "a secret" },
  creationAttributes: { kind: "object", kombu: "creation-attributes", doc: "Kombu's dashes" },
  hook: { kind: "function", doc: "a function" },
  authMechanism: {
    kind: "enum",
    values: ["PLAIN", "EXTERNAL"],
    kombu: "login_method",
    aliases: ["loginMethod"],
    doc: "Kombu's other name",
  },
});

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigurationError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

describe("readOptions", () => {
  afterEach(() => setLogger(null));

  it("fills in the defaults", () => {
    const o = readOptions(TEST, {});
    assert.equal(o.visibilityTimeout, 3_600_000);
    assert.equal(o.ackEmulation, true);
    assert.deepEqual(o.steps, [0, 3]);
    assert.equal(o.password, undefined);
  });

  it("reads camelCase in ms and Kombu's names in Kombu's unit", () => {
    assert.equal(
      readOptions(TEST, { transportOptions: { visibilityTimeout: 3600 } })
        .visibilityTimeout,
      3600,
    );
    assert.equal(
      readOptions(TEST, { transportOptions: { visibility_timeout: 3600 } })
        .visibilityTimeout,
      3_600_000,
    );
    assert.equal(
      readOptions(TEST, { transportOptions: { visibility_timeout: 0.25 } })
        .visibilityTimeout,
      250,
    );
    // A duration Kombu keeps in ms stays ms under its Kombu name.
    assert.equal(readOptions(TEST, { transportOptions: { retry_delay: 20 } }).retryDelay, 20);
  });

  it("reads the URL in Kombu's names and units, and lets transportOptions win", () => {
    const url = readOptions(TEST, {
      queryOptions: { visibility_timeout: "3600", ack_emulation: "no", steps: "0, 5,9" },
    });
    assert.equal(url.visibilityTimeout, 3_600_000);
    assert.equal(url.ackEmulation, false);
    assert.deepEqual(url.steps, [0, 5, 9]);
    const both = readOptions(TEST, {
      transportOptions: { visibilityTimeout: 10 },
      queryOptions: { visibility_timeout: "3600" },
    });
    assert.equal(both.visibilityTimeout, 10);
  });

  it("refuses a camelCase key in a URL, naming Kombu's", () => {
    rejects(
      () => readOptions(TEST, { queryOptions: { visibilityTimeout: "3600" } }),
      /"visibilityTimeout" in the URL: URL options take Kombu's names and units \("visibility_timeout"\)/,
    );
  });

  it("reads booleans the same way in every spelling and in URLs", () => {
    for (
      const [text, value] of [
        ["true", true],
        ["FALSE", false],
        ["1", true],
        ["0", false],
        ["yes", true],
        ["No", false],
        ["on", true],
        ["OFF", false],
      ] as const
    ) {
      assert.equal(parseBoolean(text), value, text);
      assert.equal(
        readOptions(TEST, { queryOptions: { ack_emulation: text } }).ackEmulation,
        value,
      );
      assert.equal(
        readOptions(TEST, { transportOptions: { ackEmulation: text } }).ackEmulation,
        value,
      );
    }
    assert.equal(readOptions(TEST, { transportOptions: { ack_emulation: 0 } }).ackEmulation, false);
    rejects(
      () => readOptions(TEST, { transportOptions: { ackEmulation: "maybe" } }),
      /Cannot use Test option "ackEmulation" = "maybe": expected true or false/,
    );
  });

  it("names the transport, the option, what was expected and what was given", () => {
    rejects(
      () => readOptions(TEST, { transportOptions: { maxAttempts: 0 } }),
      /^Cannot use Test option "maxAttempts" = 0: expected a whole number from 1 to 100$/,
    );
    rejects(
      () => readOptions(TEST, { queryOptions: { visibility_timeout: "-1" } }),
      /"visibility_timeout" \(in the URL\) = "-1": expected a duration >= 0 seconds/,
    );
    rejects(
      () => readOptions(TEST, { transportOptions: { visibilityTimeout: "soon" } }),
      /expected a duration >= 0 milliseconds/,
    );
    rejects(
      () => readOptions(TEST, { transportOptions: { strategy: "fifo" } }),
      /expected one of "round_robin", "priority"/,
    );
    rejects(
      () => readOptions(TEST, { transportOptions: { steps: [0, -1] } }),
      /"steps" = \[0,-1\]: expected whole numbers/,
    );
  });

  it("never shows a secret", () => {
    assert.throws(
      () => readOptions(TEST, { transportOptions: { password: 42 } }),
      (error: Error) => !error.message.includes("42") && /"\*\*\*\*"/.test(error.message),
    );
  });

  it("names the closest known option for an unknown key, in either spelling", () => {
    rejects(
      () => readOptions(TEST, { transportOptions: { visiblity_timeout: 3600 } }),
      /Cannot use Test option "visiblity_timeout": there is no such option; did you mean "visibility_timeout"\?/,
    );
    rejects(
      () => readOptions(TEST, { transportOptions: { maxAttempt: 3 } }),
      /did you mean "maxAttempts"\?/,
    );
    rejects(
      () => readOptions(TEST, { queryOptions: { max_atempts: "3" } }),
      /"max_atempts" \(in the URL\): there is no such option; did you mean "max_attempts"\?/,
    );
  });

  it("leaves unknown keys alone in skip mode", () => {
    assert.equal(
      readOptions(TEST, { transportOptions: { other: 1 }, queryOptions: { x: "1" } }, "skip")
        .maxAttempts,
      5,
    );
  });

  it("refuses an option given in both spellings", () => {
    rejects(
      () =>
        readOptions(TEST, { transportOptions: { visibilityTimeout: 1, visibility_timeout: 1 } }),
      /"visibility_timeout": it is given as "visibilityTimeout" too/,
    );
  });

  it("reads Kombu's declared names, aliases and enum values in any case", () => {
    const o = readOptions(TEST, {
      transportOptions: { "creation-attributes": { KmsMasterKeyId: "k" }, loginMethod: "external" },
    });
    assert.deepEqual(o.creationAttributes, { KmsMasterKeyId: "k" });
    assert.equal(o.authMechanism, "EXTERNAL");
    assert.equal(
      readOptions(TEST, { queryOptions: { login_method: "PLAIN" } }).authMechanism,
      "PLAIN",
    );
  });

  it("takes objects and functions from code only", () => {
    const hook = () => {};
    assert.equal(readOptions(TEST, { transportOptions: { hook } }).hook, hook);
    rejects(
      () => readOptions(TEST, { queryOptions: { hook: "x" } }),
      /a function, which a URL cannot carry/,
    );
    rejects(
      () => readOptions(TEST, { queryOptions: { "creation-attributes": "{}" } }),
      /an object, which a URL cannot carry/,
    );
  });

  it("treats null and undefined as not given (Python's None)", () => {
    assert.equal(
      readOptions(TEST, { transportOptions: { visibility_timeout: null, maxAttempts: undefined } })
        .visibilityTimeout,
      3_600_000,
    );
  });

  it("accepts an ignored Kombu option and warns once per transport and option", () => {
    const lines: string[] = [];
    setLogger({
      debug: () => {},
      info: () => {},
      warn: (line) => lines.push(line),
      error: () => {},
    }, { level: "warn" });
    const name = `Ignoring-${crypto.randomUUID()}`;
    const ignoring = declareOptions(name, {
      maxConnections: { kind: "integer", ignored: true, doc: "one link each" },
    });
    readOptions(ignoring, { transportOptions: { max_connections: 10 } });
    readOptions(ignoring, { queryOptions: { max_connections: "10" } });
    assert.equal(lines.length, 1);
    assert.match(lines[0], /option "max_connections" is accepted and ignored: one link each/);
    rejects(
      () => readOptions(ignoring, { transportOptions: { max_connections: "many" } }),
      /expected a whole number/,
    );
  });
});

describe("closestNames", () => {
  it("measures edits and picks the nearest, ties in order", () => {
    assert.equal(editDistance("kitten", "sitting"), 3);
    assert.equal(editDistance("", "abc"), 3);
    assert.deepEqual(closestNames("visiblity", ["visibility", "priority"]), ["visibility"]);
    assert.deepEqual(closestNames("zzzzzz", ["visibility"]), []);
    assert.deepEqual(closestNames("zzzzzz", ["visibility", "sep"], true), ["sep"]);
  });
});
