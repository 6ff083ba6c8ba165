/**
 * A publish with `retry` issued while the connection's recovery runs counts its own attempts:
 * it gives up after its `maxRetries` (the recovery's last failure as cause) instead of waiting
 * for a recovery whose policy may be forever; and it gets through once the recovery does.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Connection } from "../../../mod.ts";
import { ConnectionError } from "../../../src/errors.ts";
import { FlakyTransport, uniqueVhost, until } from "./_fakes.ts";

const fast = { intervalStart: 1, intervalStep: 1, intervalMax: 1 };

/** A connection with an attached consumer, whose recovery is running and failing. */
async function recovering() {
  const transport = new FlakyTransport();
  const conn = new Connection(`flaky://h1/${uniqueVhost("recovering")}`, {
    transport,
    recoveryPolicy: { ...fast, jitter: false }, // forever
  });
  const consumer = conn.consumer(["rr-q"], { callbacks: [(_, m) => m.ack()] });
  await consumer.consume();
  transport.failures = Number.MAX_SAFE_INTEGER;
  await transport.last.lose();
  await until(() => transport.attempts.length >= 3, "the recovery trying");
  return { conn, transport };
}

/** `promise`, or a failure naming `what` when it does not settle in `ms` (a hang guard). */
function settles<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

describe("Producer: retry during a running recovery", () => {
  it("gives up after its own maxRetries, with the last error as cause", async () => {
    const { conn, transport } = await recovering();
    try {
      const retries: number[] = [];
      const publish = conn.producer().publish("x", {
        routingKey: "rr-q",
        retry: true,
        retryPolicy: { ...fast, maxRetries: 3, onRetry: (_, n) => void retries.push(n) },
      });
      const error = await settles(publish.then(() => undefined, (e) => e), "the publish");
      assert.ok(error instanceof ConnectionError, `a ConnectionError, not ${error}`);
      assert.deepEqual(retries, [1, 2, 3]);
      const cause = (error as ConnectionError).cause;
      assert.match(String((cause as Error)?.message), /refused/, "the recovery's last failure");
      assert.ok(transport.failures > 0, "the recovery never got through");
    } finally {
      await conn.close();
    }
  });

  it("gets through when the recovery does within its retries", async () => {
    const { conn, transport } = await recovering();
    try {
      const published = conn.producer().publish("y", {
        routingKey: "rr-q",
        retry: true,
        retryPolicy: {
          ...fast,
          maxRetries: 1000,
          onRetry: (_, n) => {
            if (n === 2) transport.failures = 0; // the broker is back
          },
        },
      });
      await settles(published, "the publish");
      assert.equal(conn.connected, true);
    } finally {
      await conn.close();
    }
  });

  it("a wait of its own policy ends when the recovery gets through", async () => {
    const { conn, transport } = await recovering();
    try {
      // Waits of a minute: only the recovery's progress can end the wait within the guard.
      const ensured = conn.ensureConnection({ intervalStart: 60_000, maxRetries: 1 });
      transport.failures = 0;
      assert.equal(await settles(ensured, "ensureConnection"), conn);
      assert.equal(conn.connected, true);
    } finally {
      await conn.close();
    }
  });
});
