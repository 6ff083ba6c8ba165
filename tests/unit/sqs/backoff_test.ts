/** The shared HTTP retry policy (transports/_http/backoff.ts), without real waits. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  backoffDelay,
  type FailureKind,
  isRetryableStatus,
  withBackoff,
} from "../../../transports/_http/backoff.ts";

describe("HTTP backoff", () => {
  it("draws each wait from [0, min(max, base * 2^(n-1))]", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.integer({ min: 0, max: 100_000 }),
      fc.double({ min: 0, max: 0.999999, noNaN: true }),
      (retry, base, max, random) => {
        const delay = backoffDelay(retry, base, max, random);
        assert.ok(delay >= 0 && delay <= Math.min(max, base * 2 ** (retry - 1)));
      },
    ));
    assert.equal(backoffDelay(3, 100, 10_000, 0.5), 200);
    assert.equal(backoffDelay(20, 100, 5000, 0.5), 2500);
  });

  it("retries what the classifier allows, waits between attempts and reports ambiguity", async () => {
    const waits: number[] = [];
    const seen: boolean[] = [];
    const kinds: FailureKind[] = ["refused", "ambiguous", "refused"];
    const result = await withBackoff(
      (info) => {
        seen.push(info.afterAmbiguousFailure);
        if (info.attempt < kinds.length) throw new Error(kinds[info.attempt]);
        return Promise.resolve("done");
      },
      (error) => (error as Error).message as FailureKind,
      {
        attempts: 5,
        baseDelay: 100,
        maxDelay: 1000,
        random: () => 0.5,
        sleep: (ms) => {
          waits.push(ms);
          return Promise.resolve();
        },
      },
    );
    assert.equal(result, "done");
    assert.deepEqual(seen, [false, false, true, true]);
    assert.deepEqual(waits, [50, 100, 200]);
  });

  it("stops at a fatal failure and after the last attempt", async () => {
    let calls = 0;
    await assert.rejects(
      withBackoff(
        () => {
          calls++;
          throw new Error("fatal");
        },
        () => "fatal",
        { sleep: () => Promise.resolve() },
      ),
      /fatal/,
    );
    assert.equal(calls, 1);
    calls = 0;
    await assert.rejects(
      withBackoff(
        () => {
          calls++;
          throw new Error("busy");
        },
        () => "refused",
        { attempts: 3, sleep: () => Promise.resolve() },
      ),
      /busy/,
    );
    assert.equal(calls, 3);
  });

  it("retries 408, 429 and the overload 5xx only", () => {
    assert.deepEqual(
      [400, 403, 404, 408, 429, 500, 501, 502, 503, 504].filter(isRetryableStatus),
      [408, 429, 500, 502, 503, 504],
    );
  });
});
