/**
 * The Redis transport's warnings reach wakame's logger: a consumer whose connection is killed
 * (CLIENT KILL) logs the reconnect at `warn` level and goes on.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { Connection, Queue } from "../../../mod.ts";
import { setLogger } from "../../../src/logger.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { envSkip } from "../../_support/skips.ts";
import { dropPrefix, killClientsNamed, randomPrefix, rawRedis } from "./_helpers.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe("Redis warnings", () => {
  afterEach(() => {
    if (skip.reason) return;
    setLogger(null);
  });

  it("a reconnect after CLIENT KILL is logged at warn level", skip.options(), async () => {
    const lines: string[] = [];
    const ignore = () => {};
    setLogger({ debug: ignore, info: ignore, warn: (line) => lines.push(line), error: ignore }, {
      level: "warn",
    });
    const prefix = randomPrefix();
    const name = `wk-warn-${crypto.randomUUID().slice(0, 8)}`;
    const raw = await rawRedis();
    const conn = new Connection("redis://127.0.0.1:6379/0", {
      transportOptions: { globalKeyprefix: prefix, clientName: name },
    });
    const got: unknown[] = [];
    const queue = new Queue("jobs");
    const consumer = conn.consumer(queue, {
      callbacks: [async (body, message) => {
        got.push(body);
        await message.ack();
      }],
    });
    try {
      await consumer.consume();
      await until(() => false, 200); // the consumer is waiting
      assert.ok(await killClientsNamed(raw, name) >= 1, "the consumer's connections were killed");
      await until(() => lines.length > 0);
      assert.ok(
        lines.some((line) => /^\[wakame\.transport\.redis\] .*(Lost|reopen|reconnect)/i.test(line)),
        JSON.stringify(lines),
      );
      // ...and it goes on consuming.
      await conn.producer().publish({ after: "kill" }, { routingKey: "jobs", declare: [queue] });
      await until(() => got.length > 0);
      assert.deepEqual(got, [{ after: "kill" }]);
    } finally {
      await consumer.cancel();
      await conn.close();
      await dropPrefix(raw, prefix);
      await raw.close();
    }
  });
});
