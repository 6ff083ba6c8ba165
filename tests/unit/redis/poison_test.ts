/**
 * Poison messages on Redis: envelopes a foreign producer LPUSHed that the fetch script accepts
 * but `decodeEnvelope` refuses. Each is settled once (removed from `unacked` and
 * `unacked_index`: Kombu's Redis `reject(requeue=False)` is an ack, there is no dead-letter
 * list) and logged once; the consumer goes on; the visibility sweep finds nothing to restore.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { Connection, Queue } from "../../../mod.ts";
import { setLogger } from "../../../src/logger.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { envSkip } from "../../_support/skips.ts";
import { dropPrefix, openStore, randomPrefix, rawRedis, text } from "./_helpers.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));

const info = '"delivery_info": {"exchange": "", "routing_key": "jobs"}';

/** The poison kinds, each with its delivery tag (none for the bare number). */
function poisons(): { kind: string; tag?: string; text: string }[] {
  const tag = () => `poison-${crypto.randomUUID()}`;
  const [t1, t2, t3] = [tag(), tag(), tag()];
  return [
    {
      kind: "not JSON after the tag",
      tag: t1,
      text: `{"properties": {"delivery_tag": "${t1}", ${info}, "body_encoding": "base64"}, ` +
        `"body": "eyJhIjogMX0=", "content-type": `,
    },
    {
      kind: "invalid base64 body",
      tag: t2,
      text: `{"body": "%%% not base64 %%%", "content-type": "application/json", ` +
        `"properties": {"body_encoding": "base64", "delivery_tag": "${t2}", ${info}}}`,
    },
    {
      kind: "numeric body_encoding",
      tag: t3,
      text: `{"body": "e30=", "content-type": "application/json", ` +
        `"properties": {"body_encoding": 64, "delivery_tag": "${t3}", ${info}}}`,
    },
    { kind: "a bare number", text: "42" },
  ];
}

async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

function captureWarnings(): string[] {
  const lines: string[] = [];
  const ignore = () => {};
  setLogger({ debug: ignore, info: ignore, warn: (line) => lines.push(line), error: ignore }, {
    level: "warn",
  });
  return lines;
}

describe("Redis poison messages", () => {
  afterEach(() => {
    if (skip.reason) return;
    setLogger(null);
  });

  it(
    "are settled once, logged once, leave no unacked record, and the consumer goes on",
    skip.options(),
    async () => {
      const lines = captureWarnings();
      const prefix = randomPrefix();
      const options = { globalKeyprefix: prefix, visibilityTimeout: 1000 };
      const raw = await rawRedis();
      const conn = new Connection("redis://127.0.0.1:6379/0", { transportOptions: options });
      const queue = new Queue("jobs");
      const got: unknown[] = [];
      const kinds = poisons();
      try {
        // As a foreign producer would: LPUSH onto the list, then a good message behind them.
        for (const { text } of kinds) await raw.send(["LPUSH", `${prefix}jobs`, text]);
        await conn.producer().publish({ good: 1 }, { routingKey: "jobs", declare: [queue] });
        const consumer = conn.consumer(queue, {
          callbacks: [async (body, message) => {
            got.push(body);
            await message.ack();
          }],
        });
        await consumer.consume();
        await until(() => got.length > 0);
        assert.deepEqual(got, [{ good: 1 }], "the good message behind the poison arrived");
        const unackedEmpty = async () =>
          (await raw.send(["HLEN", `${prefix}unacked`])) === 0 &&
          (await raw.send(["ZCARD", `${prefix}unacked_index`])) === 0;
        await until(unackedEmpty, 3000);
        assert.equal(await raw.send(["HLEN", `${prefix}unacked`]), 0, "no unacked record left");
        assert.equal(await raw.send(["ZCARD", `${prefix}unacked_index`]), 0, "no index entry left");

        // Past the visibility timeout a sweep (as Kombu's restore_visible) has nothing to give
        // back, and the consumer's own sweeps log nothing more.
        await new Promise((r) => setTimeout(r, 1300));
        const sweeper = await openStore(options);
        try {
          assert.equal(await sweeper.restoreVisible(), 0);
        } finally {
          await sweeper.close();
        }
        assert.equal(await raw.send(["LLEN", `${prefix}jobs`]), 0, "nothing came back");
        await new Promise((r) => setTimeout(r, 1200));
        assert.deepEqual(got, [{ good: 1 }], "no poison reached the callbacks");
        await consumer.cancel();

        const poisonLines = lines.filter((line) => line.includes("Cannot decode a message"));
        assert.equal(poisonLines.length, kinds.length, JSON.stringify(lines, null, 1));
        for (const { kind, tag } of kinds) {
          if (!tag) continue;
          assert.equal(
            poisonLines.filter((line) => line.includes(tag)).length,
            1,
            `${kind}: logged once with its tag\n${JSON.stringify(lines, null, 1)}`,
          );
        }
        assert.ok(poisonLines.every((line) => line.startsWith("[wakame.transport.redis] ")));
        assert.ok(poisonLines.every((line) => line.includes('queue "jobs"')));
      } finally {
        await conn.close();
        await dropPrefix(raw, prefix);
        await raw.close();
      }
    },
  );

  it(
    "left in unacked by a consumer that died are removed by the sweep, logged once",
    skip.options(),
    async () => {
      const warnings: [string, unknown][] = [];
      const prefix = randomPrefix();
      const raw = await rawRedis();
      const store = await openStore(
        { globalKeyprefix: prefix, visibilityTimeout: 1000 },
        warnings,
      );
      try {
        const tag = `poison-${crypto.randomUUID()}`;
        const entry = `[{"properties": {"delivery_tag": "${tag}", ${info}}, "body": , "", "jobs"]`;
        const old = (Date.now() / 1000 - 60).toFixed(6);
        await raw.send(["HSET", `${prefix}unacked`, tag, entry]);
        await raw.send(["ZADD", `${prefix}unacked_index`, old, tag]);
        assert.equal(await store.restoreVisible(), 0);
        assert.equal(await store.restoreVisible(), 0);
        assert.equal(await raw.send(["HEXISTS", `${prefix}unacked`, tag]), 0, "record removed");
        assert.equal(await raw.send(["ZSCORE", `${prefix}unacked_index`, tag]), null);
        assert.equal(await raw.send(["LLEN", `${prefix}jobs`]), 0);
        const about = warnings.filter(([message]) => message.includes(tag));
        assert.equal(about.length, 1, JSON.stringify(warnings.map(([m]) => m)));
        assert.match(text(about[0]![0]), /removed/);
      } finally {
        await store.close();
        await dropPrefix(raw, prefix);
        await raw.close();
      }
    },
  );
});
