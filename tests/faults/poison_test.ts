/**
 * Poison messages on every transport: among N good messages, a few bodies that say JSON and are
 * not, at seeded random places. Each poison is logged once and settled once (rejected without
 * requeue: it never comes back, even after the visibility timeout), and the consumer goes on:
 * every good message is consumed, none twice.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Queue } from "../../mod.ts";
import { setLogger } from "../../src/logger.ts";
import { envSkip } from "../_support/skips.ts";
import { consumeInto, Ledger, sleep, until } from "./_ledger.ts";
import { TRANSPORTS, uniqueQueue } from "./_transports.ts";

const skips = await Promise.all(
  TRANSPORTS.map(async (t) => envSkip(import.meta.url, await t.skipReason())),
);
const COUNT = 40;
const POISONS = 3;

describe("fault: poison messages on every transport", () => {
  const lines: string[] = [];
  const ignore = () => {};
  setLogger({
    debug: ignore,
    info: ignore,
    warn: ignore,
    error: (line: string) => void lines.push(line),
  }, { level: "error" });
  after(() => setLogger(undefined));

  for (const [i, transport] of TRANSPORTS.entries()) {
    const skip = skips[i];
    it(
      `${transport.name}: each poison is logged and settled once, the consumer goes on`,
      skip.options(),
      async () => {
        const place = await transport.open();
        const ledger = new Ledger(`poison on ${transport.name}`, COUNT);
        const poisonAt = new Set<number>();
        while (poisonAt.size < POISONS) poisonAt.add(ledger.point(COUNT, 0));
        const name = uniqueQueue("poison");
        const queue = new Queue(name);
        const conn = place.connect();
        let stop: (() => Promise<void>) | undefined;
        const marker = `poison-${ledger.run}`;
        const logged = () => lines.filter((l) => l.includes("Cannot decode message")).length;
        const before = logged();
        try {
          await ledger.watch(30_000, async () => {
            const producer = conn.producer({ routingKey: name });
            ledger.note(`poison before ${[...poisonAt].sort((a, b) => a - b).join(", ")}`);
            await ledger.publishAll((body) => producer.publish(body, { declare: [queue] }), {
              before: async (n) => {
                if (!poisonAt.has(n)) return;
                await producer.publish(`{"${marker}": `, {
                  declare: [queue],
                  contentType: "application/json",
                  contentEncoding: "utf-8",
                });
              },
            });
            stop = await consumeInto(ledger, conn, queue);
            assert.ok(await ledger.consumed(20_000), "every good message arrived");
            assert.ok(await until(() => logged() - before >= POISONS), "each poison was logged");
          });
          // A poison left unsettled would come back after the visibility timeout (2 s on Redis,
          // SQS and Azure) and be logged again.
          if (["redis", "sqs", "azure"].includes(transport.name)) await sleep(2500);
          assert.equal(logged() - before, POISONS, "each poison was logged once, no more");
          ledger.check({ delivered: COUNT });
          await stop?.();
          const channel = await conn.channel();
          assert.equal(
            (await channel.queueDeclare({ name, passive: true })).messageCount,
            0,
            "nothing is left in the queue",
          );
          await channel.queueDelete(name).catch(() => {});
        } finally {
          await stop?.();
          await conn.close();
          await place.dispose();
        }
      },
    );
  }
});
