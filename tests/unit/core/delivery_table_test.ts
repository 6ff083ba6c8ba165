import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DeliveryTable } from "../../../src/virtual/delivery_table.ts";

type Op =
  | { kind: "add"; gap: number }
  | { kind: "take"; pick: number }
  | { kind: "takeUpTo"; pick: number }
  | { kind: "takeAll" }
  | { kind: "ackRun"; count: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("add"), gap: fc.nat(3) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("take"), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("takeUpTo"), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("ackRun"), count: fc.nat(9000) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "takeAll" as const }) },
);

describe("DeliveryTable", () => {
  it("behaves like a map of increasing tags (property)", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const table = new DeliveryTable<string>();
        const model = new Map<number, string>();
        let next = 1;
        const add = () => {
          table.add(next, `m${next}`);
          model.set(next, `m${next}`);
          next++;
        };
        for (const o of ops) {
          const tags = [...model.keys()];
          switch (o.kind) {
            case "add":
              next += o.gap;
              add();
              break;
            case "take": {
              // Half the picks are tags that exist, the rest anything up to the next tag.
              const tag = o.pick % 2 === 0 && tags.length > 0
                ? tags[o.pick % tags.length]
                : o.pick % (next + 1);
              assert.equal(table.take(tag), model.get(tag));
              model.delete(tag);
              break;
            }
            case "takeUpTo": {
              const limit = o.pick % (next + 1);
              const expected = tags.filter((t) => t <= limit);
              assert.deepEqual(table.takeUpTo(limit), expected.map((t) => model.get(t)));
              for (const t of expected) model.delete(t);
              break;
            }
            case "ackRun": {
              // A consumer holds its oldest message while thousands of later ones come and go.
              for (let i = 0; i < o.count; i++) {
                const tag = next;
                add();
                assert.equal(table.take(tag), `m${tag}`);
                model.delete(tag);
              }
              break;
            }
            case "takeAll":
              assert.deepEqual(table.takeAll(), [...model.values()]);
              model.clear();
              break;
          }
          assert.equal(table.size, model.size);
          for (const [tag, value] of model) assert.equal(table.get(tag), value);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("keeps an old unsettled entry findable after many later ones were settled", () => {
    const table = new DeliveryTable<number>();
    table.add(1, 1);
    for (let tag = 2; tag < 50_000; tag++) {
      table.add(tag, tag);
      assert.equal(table.take(tag), tag);
    }
    assert.equal(table.size, 1);
    assert.equal(table.get(1), 1);
    assert.deepEqual(table.takeUpTo(10), [1]);
    assert.equal(table.size, 0);
  });

  it("refuses a tag that is not larger than the last one", () => {
    const table = new DeliveryTable<number>();
    table.add(5, 5);
    assert.throws(() => table.add(5, 5), RangeError);
    assert.throws(() => table.add(3, 3), RangeError);
  });
});
