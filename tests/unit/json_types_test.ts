/**
 * Kombu 5.3's tagged JSON beyond the built-ins: microsecond datetimes kept both ways, and custom
 * types (`register_type`), checked against Python's `datetime.fromisoformat` where it decides.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bodyText, MicrosecondDate, registerType, serializers, unregisterType } from "../../mod.ts";
import { DecodeError } from "../../src/errors.ts";
import { runPython } from "../fixtures/python_kombu.ts";
import { kombuSkipReason } from "../_support/python.ts";
import { envSkip } from "../_support/skips.ts";

const enc = new TextEncoder();
const loads = (text: string) => serializers.loads(enc.encode(text), "application/json", "utf-8");
const tagged = (value: unknown) => bodyText(serializers.dumps(value, "json-tagged").body);

describe("microsecond datetimes in tagged JSON", () => {
  it("decodes Kombu 5.3's datetime with its microseconds and writes them back", () => {
    const text = '{"__type__": "datetime", "__value__": "2024-01-01T00:00:00.123456"}';
    const value = loads(text);
    assert.ok(value instanceof MicrosecondDate);
    assert.equal(value.microsecond, 123456);
    assert.equal(value.toISOString(), "2024-01-01T00:00:00.123Z");
    assert.equal(
      tagged({ at: value }),
      '{"at":{"__type__":"datetime","__value__":"2024-01-01T00:00:00.123456+00:00"}}',
    );
    // Plain json writes Kombu 5.2's form: isoformat() with Z.
    assert.equal(JSON.stringify(value), '"2024-01-01T00:00:00.123456Z"');
  });

  it("keeps the offset's instant and whole milliseconds as a plain Date", () => {
    const shifted = loads(
      '{"__type__": "datetime", "__value__": "2024-01-01T02:00:00.000001+02:00"}',
    ) as MicrosecondDate;
    assert.equal(shifted.microsecond, 1);
    assert.equal(shifted.toISOString(), "2024-01-01T00:00:00.000Z");
    const whole = loads('{"__type__": "datetime", "__value__": "2024-01-01T00:00:00.123000"}');
    assert.ok(whole instanceof Date && !(whole instanceof MicrosecondDate));
    assert.throws(() => new MicrosecondDate(0, 1_000_000), RangeError);
  });
});

describe("registerType (Kombu 5.3's register_type)", () => {
  // No parameter properties: Node's type stripping cannot erase them.
  class Money {
    readonly cents: number;
    readonly currency: string;
    constructor(cents: number, currency: string) {
      this.cents = cents;
      this.currency = currency;
    }
  }

  it("writes and reads a registered class, nested, and forgets it again", () => {
    registerType(
      Money,
      "money",
      (m) => [m.cents, m.currency],
      (v) => new Money((v as [number, string])[0], (v as [number, string])[1]),
    );
    try {
      const text = tagged({ items: [new Money(250, "EUR")] });
      assert.equal(text, '{"items":[{"__type__":"money","__value__":[250,"EUR"]}]}');
      const back = loads(text) as { items: Money[] };
      assert.ok(back.items[0] instanceof Money);
      assert.deepEqual(back.items[0], new Money(250, "EUR"));
    } finally {
      assert.equal(unregisterType("money"), true);
    }
    assert.throws(() => loads('{"__type__": "money", "__value__": 1}'), DecodeError);
  });

  it("replaces a built-in marker while registered (decimal as a number)", () => {
    class Decimal {
      readonly text: string;
      constructor(text: string) {
        this.text = text;
      }
    }
    registerType(Decimal, "decimal", (d) => d.text, (v) => new Decimal(v as string));
    try {
      assert.ok(loads('{"__type__": "decimal", "__value__": "1.10"}') instanceof Decimal);
    } finally {
      unregisterType("decimal");
    }
    assert.equal(loads('{"__type__": "decimal", "__value__": "1.10"}'), "1.10");
  });
});

const skipPython = envSkip(import.meta.url, kombuSkipReason());

describe("Python reads our microseconds (live)", () => {
  it("datetime.fromisoformat gets the same microsecond", skipPython.options(), () => {
    const date = new MicrosecondDate(Date.UTC(2024, 4, 1, 12, 30, 45), 654321);
    const value = (JSON.parse(tagged(date)) as { __value__: string }).__value__;
    const out = runPython(
      `
import json, sys
from datetime import datetime
d = datetime.fromisoformat(json.load(sys.stdin))
print(json.dumps([d.microsecond, d.utcoffset().total_seconds(), d.isoformat()]))
`,
      value,
    );
    assert.deepEqual(out, [654321, 0, "2024-05-01T12:30:45.654321+00:00"]);
  });
});
