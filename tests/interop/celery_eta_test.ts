/**
 * The worker holds an eta task with the prefetch count raised on real brokers too (RabbitMQ
 * applies a changed prefetch to running consumers only with `global`, as Celery sets it there):
 * with one slot and a prefetch of one, a task sent after a countdown task still runs first.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Celery } from "../../celery/mod.ts";
import { uuid } from "../../mod.ts";
import "../../transports/amqp/mod.ts";
import "../../transports/redis/mod.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { envSkip } from "../_support/skips.ts";

const BROKERS = [
  ["amqp://guest:guest@127.0.0.1:5672//", 5672, "RabbitMQ"],
  ["redis://127.0.0.1:6379/3", 6379, "Redis"],
] as const;

for (const [broker, port, name] of BROKERS) {
  const skip = envSkip(import.meta.url, await brokerSkipReason(name, "127.0.0.1", port));
  describe(`Celery worker eta on ${name}`, () => {
    it("runs later tasks while an eta task waits", skip.options(), async () => {
      const queue = `celery-eta.${uuid()}`;
      await using app = new Celery({ broker, backend: "rpc://", defaultQueue: queue });
      const order: string[] = [];
      app.task("mark", ([label]) => order.push(label));
      const stop = new AbortController();
      const worker = app.worker({ concurrency: 1, prefetchMultiplier: 1, hostname: `${queue}@t` });
      const running = worker.run({ signal: stop.signal });
      await worker.ready;
      try {
        const later = await app.sendTask("mark", { args: ["later"], countdown: 1500 });
        const first = await app.sendTask("mark", { args: ["first"] });
        const second = await app.sendTask("mark", { args: ["second"] });
        await first.get({ timeout: 10_000 });
        await second.get({ timeout: 10_000 });
        assert.deepEqual(order, ["first", "second"]);
        await later.get({ timeout: 10_000 });
        assert.deepEqual(order, ["first", "second", "later"]);
      } finally {
        stop.abort();
        await running;
      }
    });
  });
}
