/**
 * A virtual transport's warnings (a store's survived failures) reach wakame's logger at `warn`
 * level, redacted, as well as the `onWarning` transport option.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setLogger } from "../../../src/logger.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import { virtualTransport } from "../../../src/virtual/transport.ts";
import { MemoryBackend, memoryCapabilities } from "../../../transports/memory/mod.ts";

function params(transportOptions: Record<string, unknown>): ConnectionParams {
  return {
    transport: "warning-memory",
    hostname: "localhost",
    port: undefined,
    userid: undefined,
    password: undefined,
    virtualHost: `/${crypto.randomUUID()}`,
    ssl: false,
    heartbeat: 0,
    connectTimeout: 1000,
    transportOptions,
    url: "warning-memory://",
  } as unknown as ConnectionParams;
}

/** A transport whose store warns once, when it opens. */
const transport = virtualTransport({
  name: "warning-memory",
  capabilities: memoryCapabilities,
  openBackend: (_params, context) => {
    context.warn(
      "Lost the connection to redis://user:hunter2@example.invalid:6379/0; reconnecting",
      new Error("socket closed"),
    );
    return Promise.resolve(new MemoryBackend());
  },
});

describe("virtual transport warnings", () => {
  afterEach(() => setLogger(null));

  it("go to the logger at warn level, redacted, and to onWarning", async () => {
    const lines: [string, string][] = [];
    setLogger({
      debug: (line) => lines.push(["debug", line]),
      info: (line) => lines.push(["info", line]),
      warn: (line) => lines.push(["warn", line]),
      error: (line) => lines.push(["error", line]),
    }, { level: "debug" });
    const hooked: string[] = [];
    const connection = await transport.connect(
      params({ onWarning: (message: string) => hooked.push(message) }),
    );
    try {
      assert.equal(lines.length, 1, JSON.stringify(lines));
      const [level, line] = lines[0]!;
      assert.equal(level, "warn");
      assert.match(line, /^\[wakame\.transport\.warning-memory\] Lost the connection/);
      assert.match(line, /redis:\/\/user:\*\*\*\*@example\.invalid/);
      assert.doesNotMatch(line, /hunter2/);
      assert.match(line, /Error: socket closed/);
      assert.equal(hooked.length, 1);
    } finally {
      await connection.close();
    }
  });

  it("are silent when no logger is set", async () => {
    setLogger(undefined);
    const connection = await transport.connect(params({}));
    await connection.close();
  });
});
