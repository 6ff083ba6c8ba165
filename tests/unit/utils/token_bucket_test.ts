import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TokenBucket } from "../../../src/utils/token_bucket.ts";

function fakeClock() {
  let now = 1000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe("TokenBucket", () => {
  it("starts full and refuses when empty", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1, { capacity: 3, now: clock.now });
    assert.equal(bucket.canConsume(2), true);
    assert.equal(bucket.canConsume(2), false);
    assert.equal(bucket.canConsume(1), true);
    assert.equal(bucket.canConsume(), false);
  });

  it("refills at fillRate per second, up to capacity", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(2, { capacity: 4, now: clock.now });
    assert.ok(bucket.canConsume(4));
    clock.advance(500);
    assert.equal(bucket.tokens, 1);
    clock.advance(10_000);
    assert.equal(bucket.tokens, 4);
  });

  it("expectedTime answers in milliseconds", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(4, { capacity: 2, now: clock.now });
    assert.equal(bucket.expectedTime(), 0);
    assert.ok(bucket.canConsume(2));
    assert.equal(bucket.expectedTime(1), 250);
    assert.equal(bucket.expectedTime(2), 500);
    clock.advance(250);
    assert.equal(bucket.expectedTime(1), 0);
    assert.ok(bucket.canConsume(1));
  });

  it("does not bank time while full", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1, { capacity: 1, now: clock.now });
    clock.advance(60_000);
    assert.ok(bucket.canConsume());
    assert.equal(bucket.canConsume(), false);
    assert.equal(bucket.expectedTime(), 1000);
  });

  it("never takes part of a request", () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1, { capacity: 2, now: clock.now });
    assert.ok(bucket.canConsume(1));
    assert.equal(bucket.canConsume(2), false);
    assert.equal(bucket.tokens, 1);
  });

  it("keeps a FIFO of pending items", () => {
    const bucket = new TokenBucket<string>(1);
    bucket.add("a");
    bucket.add("b");
    assert.equal(bucket.pending, 2);
    assert.equal(bucket.pop(), "a");
    bucket.clearPending();
    assert.equal(bucket.pop(), undefined);
  });

  it("rejects a fill rate or capacity that is not positive", () => {
    assert.throws(() => new TokenBucket(0), RangeError);
    assert.throws(() => new TokenBucket(1, { capacity: -1 }), RangeError);
    assert.throws(() => new TokenBucket(Number.NaN), RangeError);
  });
});
