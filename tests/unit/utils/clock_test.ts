import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { compareTimeTuples, LamportClock, type TimeTuple } from "../../../src/utils/clock.ts";

describe("LamportClock", () => {
  it("forward counts up from the initial value", () => {
    const clock = new LamportClock(5);
    assert.equal(clock.forward(), 6);
    assert.equal(clock.forward(), 7);
    assert.equal(clock.value, 7);
    assert.equal(String(clock), "7");
  });

  it("adjust goes one past the larger value", () => {
    const clock = new LamportClock(3);
    assert.equal(clock.adjust(10), 11);
    assert.equal(clock.adjust(2), 12);
  });

  it("adjust treats missing or foreign header values as 0", () => {
    const clock = new LamportClock(4);
    assert.equal(clock.adjust(undefined), 5);
    assert.equal(clock.adjust(null), 6);
    assert.equal(clock.adjust("20"), 21);
    assert.equal(clock.adjust("nope"), 22);
    assert.equal(clock.adjust(-50), 23);
    assert.equal(clock.adjust(Number.NaN), 24);
  });

  it("orders causally related events (property)", () => {
    // Processes exchanging messages: a receive always has a larger clock than its send.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3), fc.nat(3), fc.boolean()), { maxLength: 60 }),
        (steps) => {
          const clocks = [0, 1, 2, 3].map(() => new LamportClock());
          const inFlight: number[][] = [[], [], [], []];
          for (const [from, to, deliver] of steps) {
            if (deliver && inFlight[to]!.length > 0) {
              const sent = inFlight[to]!.shift()!;
              const before = clocks[to]!.value;
              const after = clocks[to]!.adjust(sent);
              assert.ok(after > sent && after > before);
            } else {
              const before = clocks[from]!.value;
              const sent = clocks[from]!.forward();
              assert.equal(sent, before + 1);
              inFlight[to]!.push(sent);
            }
          }
        },
      ),
    );
  });

  it("sortHeap picks the first event, ties by lowest process id", () => {
    const clock = new LamportClock();
    assert.deepEqual(clock.sortHeap([[1, "b"], [2, "a"]] as const), [1, "b"]);
    assert.deepEqual(clock.sortHeap([[3, "c"], [3, "a"], [3, "b"], [4, "0"]] as const), [3, "a"]);
    assert.deepEqual(clock.sortHeap([[7, "x", { n: 1 }]] as const), [7, "x", { n: 1 }]);
    assert.throws(() => clock.sortHeap([]), RangeError);
  });

  it("sortHeap agrees with sorting by (clock, id) (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.string({ maxLength: 3 })), {
          minLength: 1,
        }),
        (events) => {
          const heap = [...events].sort((a, b) => a[0] - b[0]);
          const expected = [...events].sort((a, b) =>
            a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)
          )[0]!;
          const got = new LamportClock().sortHeap(heap);
          assert.equal(got[0], expected[0]);
          assert.equal(got[1], expected[1]);
        },
      ),
    );
  });
});

describe("compareTimeTuples", () => {
  it("uses clocks when both have one, else timestamps", () => {
    const a: TimeTuple = { clock: 2, timestamp: 100, id: "a" };
    const b: TimeTuple = { clock: 1, timestamp: 200, id: "b" };
    assert.ok(compareTimeTuples(a, b) > 0);
    assert.ok(compareTimeTuples({ ...a, clock: 0 }, b) < 0);
    assert.ok(compareTimeTuples({ ...a, clock: 1 }, b) < 0);
    assert.equal(compareTimeTuples(a, a), 0);
  });

  it("is a consistent order on events with clocks (property)", () => {
    const event = fc.record({
      clock: fc.integer({ min: 1, max: 4 }),
      timestamp: fc.integer(),
      id: fc.constantFrom("a", "b", "c"),
    });
    fc.assert(
      fc.property(event, event, event, (x, y, z) => {
        assert.ok(Math.sign(compareTimeTuples(x, y)) === -Math.sign(compareTimeTuples(y, x)));
        if (compareTimeTuples(x, y) <= 0 && compareTimeTuples(y, z) <= 0) {
          assert.ok(compareTimeTuples(x, z) <= 0);
        }
      }),
    );
  });
});
