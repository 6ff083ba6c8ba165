/**
 * A Redis consumer process killed (SIGKILL) while it holds unacknowledged messages: what it held
 * comes back once, flagged redelivered, restored either by wakame's visibility sweep in another
 * consumer or by Python Kombu's `restore_visible`; what it acked never comes back; nothing is
 * left in the `unacked` hash.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection, Queue } from "../../mod.ts";
import { redisTransport } from "../../transports/redis/mod.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { kombuSkipReason, runPython } from "../_support/python.ts";
import { envSkip } from "../_support/skips.ts";
import { dropPrefix, rawRedis } from "../unit/redis/_helpers.ts";
import { Child } from "./_child.ts";
import { consumeInto, Ledger, sleep } from "./_ledger.ts";

const redisReason = await brokerSkipReason("Redis", "127.0.0.1", 6379);
const skip = envSkip(import.meta.url, redisReason);
const skipKombu = envSkip(import.meta.url, redisReason || kombuSkipReason(["redis"]));
const restoreScript = fileURLToPath(new URL("./_kombu_restore.py", import.meta.url));
const REDIS = "redis://127.0.0.1:6379/0";
const COUNT = 60;
const PREFETCH = 8;

async function scenario(
  restoredBy: "wakame" | "kombu",
): Promise<void> {
  const ledger = new Ledger(`redis consumer killed, restored by ${restoredBy}`, COUNT);
  const prefix = `wk-faults-${ledger.run}:`;
  const queue = new Queue(`held-${ledger.run}`);
  const raw = await rawRedis();
  const ackFirst = ledger.point(COUNT - 2 * PREFETCH, 0);
  ledger.note(`the consumer acks ${ackFirst}, then holds`);
  const producerConn = new Connection(REDIS, {
    transport: redisTransport,
    transportOptions: { globalKeyprefix: prefix },
  });
  // wakame restores when the visibility timeout (1 s) passed; for Kombu's turn it is an hour,
  // so that only Kombu's sweep can bring them back.
  const consumerConn = new Connection(REDIS, {
    transport: redisTransport,
    transportOptions: {
      globalKeyprefix: prefix,
      visibilityTimeout: restoredBy === "wakame" ? 1000 : 3_600_000,
    },
  });
  const child = Child.start("holder.ts", [
    REDIS,
    JSON.stringify({ globalKeyprefix: prefix, visibilityTimeout: 3_600_000 }),
    queue.name,
    String(ackFirst),
    String(PREFETCH),
  ]);
  child.onLine((line) => {
    const m = /^GOT (\d+) (true|false)$/.exec(line);
    if (m) ledger.delivered(ledger.body(Number(m[1])), m[2] === "true");
  });
  let stop: (() => Promise<void>) | undefined;
  let held = 0;
  try {
    await ledger.watch(30_000, async () => {
      const producer = producerConn.producer({ routingKey: queue.name });
      await ledger.publishAll((body) => producer.publish(body, { declare: [queue] }));
      await child.waitFor((line) => line.startsWith("HELD "));
      // Let its prefetch fill, then kill it holding them.
      await sleep(200);
      await child.kill();
      held = await raw.send(["HLEN", `${prefix}unacked`]) as number;
      ledger.note(`killed holding ${held}`);
      assert.ok(held >= 1, "the killed consumer held messages");
      if (restoredBy === "kombu") {
        await sleep(1100); // older than Kombu's visibility timeout of 1 s
        await runPython(restoreScript, [REDIS, prefix, "1"]);
        const left = await raw.send(["HLEN", `${prefix}unacked`]);
        ledger.note(`Kombu's sweep left ${left} unacked`);
        assert.equal(left, 0, "Kombu restored every held message");
      }
      stop = await consumeInto(ledger, consumerConn, queue);
      await ledger.consumed(15_000, { all: true });
      // A second restore would show within a visibility timeout.
      await sleep(1200);
    });
    ledger.check({ delivered: COUNT, exactlyOnce: true });
    const flagged = Array.from({ length: COUNT }, (_, n) => ledger.redeliveries(n))
      .filter((r) => r > 0).length;
    assert.equal(flagged, held, "each restored message came back flagged redelivered");
    assert.equal(await raw.send(["HLEN", `${prefix}unacked`]), 0, "nothing left unacked");
    assert.equal(await raw.send(["ZCARD", `${prefix}unacked_index`]), 0);
  } finally {
    await child.kill();
    await stop?.();
    await producerConn.close();
    await consumerConn.close();
    await dropPrefix(raw, prefix);
    await raw.close();
  }
}

describe("fault: a Redis consumer killed holding messages", () => {
  it("wakame's sweep restores what it held, once", skip.options(), () => scenario("wakame"));
  it(
    "Python Kombu's sweep restores what it held, once",
    skipKombu.options(),
    () => scenario("kombu"),
  );
});
