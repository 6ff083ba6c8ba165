/** A `password` function: called at every connect, never by toString, asUri or info. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { Connection } from "../../../src/connection.ts";
import { ConfigurationError, ConnectionError } from "../../../src/errors.ts";
import type { RetryPolicy } from "../../../src/retry.ts";
import { FlakyTransport, uniqueVhost } from "./_fakes.ts";

const now: RetryPolicy = { intervalStart: 0, intervalStep: 0, intervalMax: 0 };

function rotating(values: string[]) {
  const calls: string[] = [];
  const provider = () => {
    const value = values[Math.min(calls.length, values.length - 1)];
    calls.push(value);
    return Promise.resolve(value);
  };
  return { provider, calls };
}

describe("Connection: a password function", () => {
  it("is called at each connect and its value reaches the transport", async () => {
    const transport = new FlakyTransport();
    const { provider, calls } = rotating(["token-1", "token-2"]);
    const conn = new Connection(`flaky://user:url-secret@h/${uniqueVhost("pw")}`, {
      transport,
      password: provider,
      recoveryPolicy: { ...now, jitter: false },
    });
    try {
      await conn.connect();
      assert.deepEqual(calls, ["token-1"]);
      assert.equal(transport.last.params.password, "token-1");
      assert.equal(await transport.last.params.passwordProvider?.(), "token-2");
      // A lost connection reconnects with the password of that moment.
      await transport.last.lose();
      await conn.ensureConnection(now);
      assert.equal(transport.last.params.password, "token-2");
    } finally {
      await conn.close();
    }
  });

  it("is neither called nor shown by toString, asUri, inspect, JSON or info()", async () => {
    let called = 0;
    const conn = new Connection(`flaky://user@h/${uniqueVhost("pw")}`, {
      transport: new FlakyTransport(),
      password: () => {
        called++;
        return "s3cret-token";
      },
    });
    const shown = [
      String(conn),
      conn.asUri(),
      conn.asUri({ includePassword: true }),
      inspect(conn),
      JSON.stringify(conn),
      JSON.stringify(await conn.info()),
    ].join(" ");
    assert.equal(called, 0);
    assert.doesNotMatch(shown, /s3cret-token/);
    assert.equal((await conn.info()).password, "**");
    await conn.close();
  });

  it("a failing function is a recoverable ConnectionError that names the URL, masked", async () => {
    let attempts = 0;
    const transport = new FlakyTransport();
    const conn = new Connection(`flaky://user:url-secret@h/${uniqueVhost("pw")}`, {
      transport,
      password: () => {
        if (++attempts < 3) throw new Error("token service unavailable");
        return "fresh";
      },
    });
    try {
      await assert.rejects(conn.connect(), (e: unknown) => {
        assert.ok(e instanceof ConnectionError, String(e));
        assert.match(e.message, /Cannot get the password for flaky:\/\/user:\*\*@h\//);
        assert.match(e.message, /token service unavailable/);
        assert.doesNotMatch(e.message, /url-secret/);
        return true;
      });
      assert.deepEqual(transport.attempts, [], "the transport is not tried without a password");
      await conn.ensureConnection({ ...now, maxRetries: 5 });
      assert.equal(attempts, 3);
      assert.equal(transport.last.params.password, "fresh");
    } finally {
      await conn.close();
    }
  });

  it("a function that gives no string is a ConfigurationError", async () => {
    const conn = new Connection(`flaky://h/${uniqueVhost("pw")}`, {
      transport: new FlakyTransport(),
      password: (() => Promise.resolve(undefined)) as unknown as () => Promise<string>,
    });
    await assert.rejects(conn.connect(), (e: unknown) => {
      assert.ok(e instanceof ConfigurationError, String(e));
      assert.match(e.message, /the password function gave undefined, not a string/);
      return true;
    });
    await conn.close();
  });
});
