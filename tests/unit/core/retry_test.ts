import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ConfigurationError,
  ConnectionError,
  OperationalError,
  TimeoutError,
} from "../../../src/errors.ts";
import { retryDelays, retryOverTime, type RetryPolicy } from "../../../src/retry.ts";

function take(policy: RetryPolicy, n: number): number[] {
  const out: number[] = [];
  for (const delay of retryDelays(policy)) {
    out.push(delay);
    if (out.length >= n) break;
  }
  return out;
}

/** An operation that fails `failures` times with `error`, then resolves to its attempt number. */
function flaky(failures: number, error: () => unknown = () => new ConnectionError("down")) {
  const attempts: number[] = [];
  const fn = (attempt: number) => {
    attempts.push(attempt);
    return attempts.length <= failures ? Promise.reject(error()) : Promise.resolve(attempt);
  };
  return { fn, attempts };
}

describe("retryDelays", () => {
  it("starts at intervalStart, grows by intervalStep and stops at intervalMax", () => {
    assert.deepEqual(
      take({ intervalStart: 100, intervalStep: 50, intervalMax: 220, maxRetries: 6 }, 100),
      [100, 150, 200, 220, 220, 220],
    );
  });

  it("uses Kombu's defaults in ms: 2 s, +2 s, at most 30 s, forever", () => {
    const delays = take({}, 20);
    assert.deepEqual(delays.slice(0, 4), [2000, 4000, 6000, 8000]);
    assert.equal(delays.length, 20);
    assert.equal(Math.max(...delays), 30000);
    assert.equal(delays.at(-1), 30000);
  });

  it("yields exactly maxRetries waits", () => {
    assert.deepEqual(take({ maxRetries: 0 }, 10), []);
    assert.equal(take({ maxRetries: 3, intervalStart: 0, intervalStep: 0 }, 10).length, 3);
  });

  it("keeps a jittered wait within [d/2, d] of the plain one", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10000 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 40000 }),
        fc.integer({ min: 1, max: 30 }),
        (intervalStart, intervalStep, intervalMax, maxRetries) => {
          const policy = { intervalStart, intervalStep, intervalMax, maxRetries };
          const plain = take(policy, 100);
          const jittered = take({ ...policy, jitter: true }, 100);
          assert.equal(jittered.length, plain.length);
          for (let i = 0; i < plain.length; i++) {
            assert.ok(
              jittered[i] >= plain[i] / 2 && jittered[i] <= plain[i],
              `${jittered[i]} vs ${plain[i]}`,
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("retryOverTime", () => {
  const fast: RetryPolicy = { intervalStart: 0, intervalStep: 1, intervalMax: 2 };

  it("retries recoverable errors until the operation succeeds", async () => {
    const { fn, attempts } = flaky(3);
    assert.equal(await retryOverTime(fn, fast), 3);
    assert.deepEqual(attempts, [0, 1, 2, 3]);
  });

  it("reports each retry with its number and the policy's wait", async () => {
    const { fn } = flaky(4, () => new OperationalError("busy"));
    const seen: Array<[string, number, number]> = [];
    await retryOverTime(fn, {
      intervalStart: 0,
      intervalStep: 1,
      intervalMax: 2,
      onRetry: (error, n, delay) => void seen.push([(error as Error).message, n, delay]),
    });
    assert.deepEqual(seen, [["busy", 1, 0], ["busy", 2, 1], ["busy", 3, 2], ["busy", 4, 2]]);
  });

  it("gives up after maxRetries with the last error", async () => {
    let n = 0;
    const fn = () => Promise.reject(new ConnectionError(`down ${++n}`));
    await assert.rejects(retryOverTime(fn, { ...fast, maxRetries: 2 }), /down 3/);
    assert.equal(n, 3);
    n = 0;
    await assert.rejects(retryOverTime(fn, { ...fast, maxRetries: 0 }), /down 1/);
    assert.equal(n, 1);
  });

  it("does not retry errors that are not recoverable", async () => {
    for (const make of [() => new ConfigurationError("bad url"), () => new TypeError("bug")]) {
      const { fn, attempts } = flaky(5, make);
      await assert.rejects(retryOverTime(fn, fast), make().constructor as typeof Error);
      assert.equal(attempts.length, 1);
    }
  });

  it("lets retryOn decide", async () => {
    const { fn, attempts } = flaky(2, () => new TypeError("retry me"));
    assert.equal(await retryOverTime(fn, { ...fast, retryOn: (e) => e instanceof TypeError }), 2);
    assert.equal(attempts.length, 3);
    const other = flaky(2);
    await assert.rejects(
      retryOverTime(other.fn, { ...fast, retryOn: () => false }),
      ConnectionError,
    );
    assert.equal(other.attempts.length, 1);
  });

  it("does not call the operation when the signal is already aborted", async () => {
    const { fn, attempts } = flaky(0);
    const reason = new Error("stop now");
    await assert.rejects(retryOverTime(fn, { signal: AbortSignal.abort(reason) }), /stop now/);
    assert.equal(attempts.length, 0);
  });

  it("stops a long wait when the signal aborts", async () => {
    const controller = new AbortController();
    const { fn, attempts } = flaky(100);
    const running = retryOverTime(fn, {
      intervalStart: 60_000,
      signal: controller.signal,
      onRetry: () => controller.abort(new Error("shutting down")),
    });
    await assert.rejects(running, /shutting down/);
    assert.equal(attempts.length, 1);
  });

  it("rethrows without retrying when the signal aborted during the attempt", async () => {
    const controller = new AbortController();
    let calls = 0;
    const fn = () => {
      calls++;
      controller.abort();
      return Promise.reject(new ConnectionError("lost while aborting"));
    };
    await assert.rejects(
      retryOverTime(fn, { ...fast, signal: controller.signal }),
      /lost while aborting/,
    );
    assert.equal(calls, 1);
  });

  it("throws a TimeoutError, with the last error as cause, when the next wait passes the timeout", async () => {
    const { fn, attempts } = flaky(100);
    await assert.rejects(
      retryOverTime(fn, { intervalStart: 10_000, timeout: 50 }),
      (error: unknown) => {
        assert.ok(error instanceof TimeoutError);
        assert.ok((error as Error).cause instanceof ConnectionError);
        return true;
      },
    );
    assert.equal(attempts.length, 1);
  });
});
