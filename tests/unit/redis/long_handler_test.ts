/**
 * kombu#337 on Redis: a handler that runs three visibility timeouts is not redelivered, neither
 * by wakame's sweep in another connection nor by Python Kombu's `restore_visible`, because the
 * virtual base extends the lease (the `unacked_index` score) while the handler runs.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection } from "../../../mod.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { longHandler } from "../../_support/long_handler.ts";
import { kombuSkipReason, runPython } from "../../_support/python.ts";
import { envSkip } from "../../_support/skips.ts";
import { dropPrefix, openStore, randomPrefix, rawRedis } from "./_helpers.ts";

const skip = envSkip(
  import.meta.url,
  (await brokerSkipReason("Redis", "127.0.0.1", 6379)) || kombuSkipReason(["redis"]),
);
const sweepScript = fileURLToPath(new URL("./_kombu_sweep.py", import.meta.url));

describe("Redis long handlers", () => {
  it(
    "a handler of 3x the visibility timeout keeps its message through wakame's and Kombu's sweeps",
    skip.options(),
    async () => {
      const prefix = randomPrefix();
      const visibilityTimeout = 1000;
      const options = { globalKeyprefix: prefix, visibilityTimeout };
      const raw = await rawRedis();
      const sweeper = await openStore(options);
      let wakameSweeps = 0;
      let kombuSweeps = 0;
      try {
        const outcome = await longHandler({
          connect: () => new Connection("redis://127.0.0.1:6379/0", { transportOptions: options }),
          queue: "long",
          handlerMs: 3 * visibilityTimeout,
          settleMs: visibilityTimeout + 500,
          during: async () => {
            // Python Kombu sweeps for the handler's whole run (in seconds: visibility 1 s)...
            const kombu = runPython(sweepScript, [prefix, "2.8", "1"], 20_000).then((out) => {
              kombuSweeps = JSON.parse(out.trim().split("\n").pop()!).sweeps;
            });
            // ...and so does wakame, from a store that holds nothing itself.
            const deadline = Date.now() + 2800;
            while (Date.now() < deadline) {
              await sweeper.restoreVisible();
              wakameSweeps++;
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
            await kombu;
          },
        });
        assert.deepEqual(outcome.slow, [{ job: "long" }], "delivered once to the slow consumer");
        assert.deepEqual(outcome.other, [], "never redelivered to the other consumer");
        assert.ok(outcome.acked);
        assert.ok(wakameSweeps > 5, `wakame swept ${wakameSweeps} times`);
        assert.ok(kombuSweeps > 5, `Kombu swept ${kombuSweeps} times`);
        assert.equal(await raw.send(["HLEN", `${prefix}unacked`]), 0, "settled: no record left");
        assert.equal(await raw.send(["ZCARD", `${prefix}unacked_index`]), 0);
        assert.equal(await raw.send(["LLEN", `${prefix}long`]), 0, "nothing waits in the queue");
      } finally {
        await sweeper.close();
        await dropPrefix(raw, prefix);
        await raw.close();
      }
    },
  );
});
