/** Optional packages and serializers that load on first use (src/_import.ts, src/serializers/). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { importOptional } from "../../src/_import.ts";
import { ConfigurationError, DecodeError, EncodeError } from "../../src/errors.ts";
import { lazySerializer } from "../../src/serializers/lazy.ts";
import { Connection, SerializerRegistry } from "../../mod.ts";

describe("importOptional", () => {
  it("names the missing package and how to install it", async () => {
    const pkg = { name: "wakame-no-such-package", range: "^1", feature: "the test feature" };
    await assert.rejects(importOptional(pkg), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(error.message, /Cannot use the test feature/);
      assert.match(error.message, /npm install wakame-no-such-package@\^1/);
      assert.match(error.message, /deno add npm:wakame-no-such-package/);
      return true;
    });
  });

  it("loads an installed package once", async () => {
    const pkg = { name: "yaml", range: "^2", feature: "yaml" };
    const first = await importOptional<{ stringify: unknown }>(pkg);
    assert.equal(typeof first.stringify, "function");
    assert.equal(await importOptional(pkg), first);
  });
});

describe("lazySerializer", () => {
  it("refuses to encode or decode before load, and works after", async () => {
    let made = 0;
    const upper = lazySerializer<{ stringify: (v: unknown) => string }>({
      name: "upper-yaml",
      contentType: "application/x-upper",
      contentEncoding: "utf-8",
      package: { name: "yaml", range: "^2", feature: "the test serializer" },
      make(module) {
        made++;
        return {
          encode: (value) => module.stringify(value).toUpperCase(),
          decode: (body) => new TextDecoder().decode(body),
        };
      },
    });
    assert.equal(upper.ready, false);
    assert.throws(() => upper.encode(1), EncodeError);
    assert.throws(() => upper.decode(new Uint8Array()), DecodeError);
    const registry = new SerializerRegistry();
    registry.register(upper);
    assert.equal(registry.needsLoad("upper-yaml"), true);
    assert.throws(() => registry.dumps({ a: "b" }, "upper-yaml"), /await serializers\.load/);
    await Promise.all([registry.load("upper-yaml"), registry.load("application/x-upper")]);
    assert.equal(made, 1);
    assert.equal(registry.needsLoad("upper-yaml"), false);
    assert.equal(registry.dumps({ a: "b" }, "upper-yaml").body, "A: B\n");
  });

  it("a missing package fails load with the install line, and load can be retried", async () => {
    const missing = lazySerializer({
      name: "missing",
      contentType: "application/x-missing",
      contentEncoding: "binary",
      package: { name: "wakame-no-such-codec", range: "^1", feature: "the missing serializer" },
      make: () => ({ encode: () => "", decode: () => undefined }),
    });
    await assert.rejects(missing.load(), /npm install wakame-no-such-codec@\^1/);
    await assert.rejects(missing.load(), ConfigurationError);
    assert.equal(missing.ready, false);
  });

  it("the producer and consumer load msgpack and yaml themselves", async () => {
    await using conn = new Connection("memory://");
    const queue = `lazy-${crypto.randomUUID()}`;
    const producer = conn.producer();
    await producer.publish({ n: 1 }, { routingKey: queue, serializer: "msgpack", declare: [] });
    const simple = conn.simpleQueue(queue, { accept: ["msgpack", "yaml"] });
    await simple.put({ n: 2 }, { serializer: "yaml" });
    const got: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const message = await simple.get({ timeout: 1000 });
      got.push(message.payload);
      await message.ack();
    }
    assert.deepEqual(got.sort((a, b) => (a as { n: number }).n - (b as { n: number }).n), [
      { n: 1 },
      { n: 2 },
    ]);
  });
});
