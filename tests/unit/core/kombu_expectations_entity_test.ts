/**
 * Kombu's own test expectations for `Exchange` and `Queue` (`t/unit/test_entity.py`) that the
 * earlier parity tests (entity_test.ts, parity_test.ts) do not check, through the public API.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { binding, Exchange, Queue } from "../../../src/entity.ts";
import { uniqueVhost } from "./_fakes.ts";

describe("Kombu test_entity.py", () => {
  it("caches a declaration unless the exchange is auto-delete (test_Exchange.test_can_cache_declaration)", () => {
    assert.deepEqual(
      [
        new Exchange("a", { durable: true }).canCacheDeclaration,
        new Exchange("a", { durable: false }).canCacheDeclaration,
        new Exchange("a", { autoDelete: true }).canCacheDeclaration,
        new Exchange("a", { durable: true, autoDelete: true }).canCacheDeclaration,
      ],
      [true, true, false, false],
    );
  });

  it("caches a queue declaration unless it expires (test_Queue.test_can_cache_declaration)", () => {
    assert.deepEqual(
      [
        new Queue("a", { durable: true }).canCacheDeclaration,
        new Queue("a", { durable: false }).canCacheDeclaration,
        new Queue("a", { queueArguments: { "x-expires": 100 } }).canCacheDeclaration,
      ],
      [true, true, false],
    );
  });

  it("takes an exchange object or its name (test_constructor_with_*_exchange)", () => {
    const exchange = new Exchange("exchange_name", { type: "direct" });
    assert.ok(new Queue("queue_name", { exchange }).exchange?.equals(exchange));
    assert.ok(
      new Queue("queue_name", { exchange: "exchange_name" }).exchange?.equals(
        new Exchange("exchange_name"),
      ),
    );
  });

  it("an anonymous queue with several bindings gets a name and every binding (test_anonymous, test_multiple_bindings)", async () => {
    await using conn = new Connection(`memory:///${uniqueVhost("kombu-entity")}`);
    const channel = await conn.channel();
    const queue = new Queue("", {
      bindings: [
        binding(new Exchange("mul1"), "rkey1"),
        binding(new Exchange("mul2"), "rkey2"),
        binding(new Exchange("mul3"), "rkey3"),
      ],
    }).bind(channel);
    const ok = await queue.declare();
    assert.match(ok?.queue ?? "", /^amq\.gen-/);
    for (const [exchange, key] of [["mul1", "rkey1"], ["mul2", "rkey2"], ["mul3", "rkey3"]]) {
      // Each exchange was declared (a passive declaration finds it) and routes to the queue.
      await new Exchange(exchange, { passive: true }).declareOn(channel);
      await conn.producer({ exchange }).publish(exchange, { routingKey: key });
    }
    const got: unknown[] = [];
    const named = new Queue(ok!.queue).bind(channel);
    for (let m = await named.get({ noAck: true }); m; m = await named.get({ noAck: true })) {
      got.push(m.payload);
    }
    assert.deepEqual(got, ["mul1", "mul2", "mul3"]);
  });
});
