import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { Queue } from "../../../src/entity.ts";
import { type LogLevel, setLogger } from "../../../src/logger.ts";
import { uuid } from "../../../src/utils/uuid.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { envSkip } from "../../_support/skips.ts";
import { dropPrefix, message, openStore, rawRedis } from "../redis/_helpers.ts";

const amqpSkip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));
const redisSkip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));

function capture(level: LogLevel, sample?: number): string[] {
  const lines: string[] = [];
  const sink = (prefix: string) => (line: string) => lines.push(`${prefix} ${line}`);
  setLogger(
    { debug: sink("D"), info: sink("I"), warn: sink("W"), error: sink("E") },
    { level, sample },
  );
  return lines;
}

async function roundTrip(conn: Connection, name: string, n: number): Promise<void> {
  const queue = new Queue(name, { durable: false, autoDelete: false });
  const producer = conn.producer();
  for (let i = 0; i < n; i++) await producer.publish({ i }, { routingKey: name, declare: [queue] });
  let seen = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  await using consumer = conn.consumer(queue, {
    callbacks: [async (_body, message) => {
      await message.ack();
      if (++seen === n) finish();
    }],
  });
  await consumer.consume();
  await done;
}

describe("logging that helps", () => {
  afterEach(() => setLogger(null));

  it("at info: one line per connect, nothing per message", async () => {
    const lines = capture("info");
    await using conn = new Connection("memory://");
    await roundTrip(conn, "log-info", 5);
    assert.deepEqual(lines, ["I [wakame.connection] Connected to memory://"]);
  });

  it("at debug: publish, receive and ack lines per message", async () => {
    const lines = capture("debug");
    await using conn = new Connection("memory://");
    await roundTrip(conn, "log-debug", 2);
    const messages = lines.filter((l) => l.includes("[wakame.messages]"));
    assert.deepEqual(messages.map((l) => l.replace(/wakame-\d+-\d+/, "TAG")), [
      'D [wakame.messages] Publishing to exchange "" with routing key "log-debug"',
      'D [wakame.messages] Publishing to exchange "" with routing key "log-debug"',
      'D [wakame.messages] Received message 1 from exchange "" with routing key "log-debug" on consumer TAG',
      "D [wakame.messages] Message 1 acked",
      'D [wakame.messages] Received message 2 from exchange "" with routing key "log-debug" on consumer TAG',
      "D [wakame.messages] Message 2 acked",
    ]);
  });

  it("per-message lines are sampled: sample 0 keeps the debug lines of connections only", async () => {
    const lines = capture("debug", 0);
    await using conn = new Connection("memory://");
    await roundTrip(conn, "log-sampled", 3);
    assert.equal(lines.filter((l) => l.includes("[wakame.messages]")).length, 0);
    assert.ok(lines.includes("I [wakame.connection] Connected to memory://"), lines.join("\n"));
  });

  it(
    "amqp: connect (password masked), channel error and consumer cancel are one info line each",
    amqpSkip.options(),
    async () => {
      const lines = capture("info");
      await using conn = new Connection("amqp://guest:guest@127.0.0.1:5672//");
      const channel = await conn.channel();
      const missing = `log-missing-${uuid()}`;
      await assert.rejects(channel.queueDeclare({ name: missing, passive: true }));
      const name = `log-cancel-${uuid()}`;
      const queue = new Queue(name, { durable: false });
      let cancelled!: () => void;
      const gone = new Promise<void>((resolve) => (cancelled = resolve));
      await using consumer = conn.consumer(queue, { onError: () => cancelled() });
      await consumer.consume();
      const other = await conn.channel();
      await other.queueDelete(name);
      await gone;
      await other.close();
      assert.deepEqual(lines.map((l) => l.replace(/wakame-\d+-\d+/, "TAG")), [
        "I [wakame.connection] Connected to amqp://guest:****@127.0.0.1:5672//",
        `I [wakame.transport.amqp] Cannot declare queue "${missing}": NOT_FOUND - no queue '${missing}' in vhost '/' (404)`,
        `I [wakame.consumer] Consumer TAG of queue "${name}" was cancelled by the broker`,
      ]);
    },
  );

  it(
    "redis: a restore of unacknowledged messages is one info line",
    redisSkip.options(),
    async () => {
      const store = await openStore({ visibilityTimeout: 0 });
      const raw = await rawRedis();
      try {
        await store.put("q", message("m1"));
        await store.put("q", message("m2"));
        assert.ok(await store.get("q"));
        assert.ok(await store.get("q"));
        const lines = capture("info");
        assert.equal(await store.restoreVisible(), 2);
        assert.equal(await store.restoreVisible(), 0);
        assert.deepEqual(lines, [
          "I [wakame.transport.redis] Restored 2 unacknowledged message(s) past the visibility timeout",
        ]);
      } finally {
        await dropPrefix(raw, store.layout.prefix);
        await store.close();
        await raw.close();
      }
    },
  );
});
