/**
 * Redis routes a restored message again through the exchange's bindings (Kombu's `_lookup`), so
 * the transport's `topicRules` must reach that lookup too, not only the channel's publish.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { TopicRules } from "../../../src/virtual/exchange_types.ts";
import type { RespConnection } from "../../../transports/redis/resp/client.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { dropPrefix, message, openStore, randomPrefix, rawRedis } from "./_helpers.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));

describe("Redis restore routes topic bindings with the transport's topicRules", () => {
  let raw: RespConnection;
  const prefixes: string[] = [];
  before(async () => {
    if (skip.reason) return;
    raw = await rawRedis();
  });
  after(async () => {
    if (skip.reason) return;
    for (const prefix of prefixes) await dropPrefix(raw, prefix);
    await raw.close();
  });

  /** Where a message of key `a.b.b.c`, held from `star-c` and never acked, is restored to. */
  async function restoredTo(topicRules: TopicRules): Promise<string[]> {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const open = (options: Record<string, unknown>) =>
      openStore({ globalKeyprefix: prefix, ...options }, [], topicRules);
    const dead = await open({});
    await dead.bindings.add("mixed", { queue: "star-c", routingKey: "*.c" });
    await dead.bindings.add("mixed", { queue: "a-hash", routingKey: "a.#" });
    await dead.put("star-c", message("m", { exchange: "mixed", routingKey: "a.b.b.c" }));
    assert.ok(await dead.get("star-c"));
    await dead.close(); // dies without acking or restoring

    const other = await open({ visibilityTimeout: 0 });
    try {
      assert.equal(await other.restoreVisible(), 1);
      const reached: string[] = [];
      for (const queue of ["star-c", "a-hash"]) {
        if ((await other.size(queue)) > 0) reached.push(queue);
      }
      return reached;
    } finally {
      await other.close();
    }
  }

  it("amqp (default): `*.c` does not take a.b.b.c, `a.#` does", skip.options(), async () => {
    assert.deepEqual(await restoredTo("amqp"), ["a-hash"]);
  });

  it("kombu: both take it, as Python Kombu's restore would route it", skip.options(), async () => {
    assert.deepEqual(await restoredTo("kombu"), ["star-c", "a-hash"]);
  });
});
