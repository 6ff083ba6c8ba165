import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { ConfigurationError, UnknownTransportError } from "../../../src/errors.ts";
import {
  registerTransport,
  resolveTransport,
  takesRawUrl,
  transportNames,
} from "../../../src/registry.ts";
import type { Transport } from "../../../src/transport.ts";
import { MemoryTransport } from "../../../transports/memory/mod.ts";
import { FlakyTransport } from "./_fakes.ts";

async function unknown(name: string): Promise<UnknownTransportError> {
  try {
    await resolveTransport(name);
  } catch (error) {
    assert.ok(error instanceof UnknownTransportError, String(error));
    assert.ok(error instanceof ConfigurationError);
    return error;
  }
  throw new Error(`"${name}" resolved`);
}

describe("transport registry", () => {
  it("suggests memory for memroy, and lists the known transports", async () => {
    const error = await unknown("memroy");
    assert.match(error.message, /Cannot find transport "memroy"/);
    assert.match(error.message, /Did you mean "memory"/);
    assert.match(error.message, /Known transports: .*memory/);
  });

  it("suggests amqp for amqq once amqp is registered", async () => {
    if (!transportNames().includes("amqp")) {
      // The real native transport, loaded only if something resolves it.
      registerTransport(
        ["amqp"],
        () => import("../../../transports/amqp/mod.ts").then((m) => m.AmqpTransport),
      );
    }
    assert.match((await unknown("amqq")).message, /Did you mean "amqp"/);
  });

  it("suggests a newly registered name and gives no hint for a far-off one", async () => {
    const fake = new FlakyTransport();
    registerTransport(["wk-registry-probe"], fake);
    assert.match((await unknown("wk-registry-prob")).message, /Did you mean "wk-registry-probe"/);
    assert.doesNotMatch((await unknown("zzzzzzzzzzzzzzzzzzzz")).message, /Did you mean/);
    assert.equal(await resolveTransport("WK-REGISTRY-PROBE"), fake);
  });

  it("loads a transport lazily, once, on first use", async () => {
    let loads = 0;
    const fake: Transport = new FlakyTransport();
    registerTransport(["wk-lazy-a", "wk-lazy-b"], () => {
      loads++;
      return Promise.resolve(fake);
    });
    assert.equal(loads, 0);
    assert.ok(transportNames().includes("wk-lazy-a"));
    assert.equal(await resolveTransport("wk-lazy-a"), fake);
    assert.equal(await resolveTransport("wk-lazy-a"), fake);
    assert.equal(loads, 1);
  });

  it("keeps the names sorted and remembers rawUrl", () => {
    registerTransport("wk-raw-probe", MemoryTransport, { rawUrl: true });
    const names = transportNames();
    assert.deepEqual(names, [...names].sort());
    assert.equal(takesRawUrl("wk-raw-probe"), true);
    assert.equal(takesRawUrl("memory"), false);
    assert.equal(takesRawUrl("no-such-transport"), false);
  });

  it("resolves memory:// to the memory transport", async () => {
    assert.equal(await resolveTransport("memory"), MemoryTransport);
  });

  it("makes Connection.connect() fail with the hint, without retrying", async () => {
    const conn = new Connection("memroy://");
    await assert.rejects(conn.connect(), (error: unknown) => {
      assert.ok(error instanceof UnknownTransportError);
      assert.match((error as Error).message, /Did you mean "memory"/);
      return true;
    });
    // ensureConnection would retry forever on a recoverable error; this one is not recoverable.
    await assert.rejects(conn.ensureConnection({ intervalStart: 0 }), UnknownTransportError);
    await conn.close();
  });
});
