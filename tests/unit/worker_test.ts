import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../src/connection.ts";
import type { Consumer } from "../../src/consumer.ts";
import { Queue } from "../../src/entity.ts";
import { ConnectionError } from "../../src/errors.ts";
import type { Message } from "../../src/message.ts";
import { TokenBucket } from "../../src/utils/token_bucket.ts";
import { uuid } from "../../src/utils/uuid.ts";
import { onSignals, Worker } from "../../src/worker.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { bodyText } from "../../mod.ts";
import { envSkip } from "../_support/skips.ts";

/** A promise with its resolve function. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Reads what is left in a queue without consuming from it for long. */
async function drainQueue(conn: Connection, name: string): Promise<unknown[]> {
  const channel = await conn.channel();
  const out: unknown[] = [];
  for (let i = 0; i < 100; i++) {
    const d = await channel.basicGet(name, { noAck: true });
    if (!d) break;
    out.push(JSON.parse(bodyText(d.body)));
  }
  await channel.close();
  return out;
}

describe("Worker on memory://", () => {
  it("consumes, calls the hooks in order and stops on an AbortSignal", async () => {
    await using conn = new Connection("memory://");
    const tasks = new Queue(`w-${uuid()}`);
    const stop = new AbortController();
    const events: string[] = [];
    const got: unknown[] = [];
    const worker = new Worker({
      connection: conn,
      signal: stop.signal,
      safetyInterval: 50,
      getConsumers: (make) => [make([tasks], {
        callbacks: [async (body, message) => {
          got.push(body);
          await message.ack();
          if (got.length === 3) stop.abort();
        }],
      })],
      onConnectionRevived: () => void events.push("revived"),
      onConsumeReady: ({ consumers }) => void events.push(`ready:${consumers.length}`),
      onConsumeEnd: () => void events.push("end"),
      onIteration: () => void events.push("iteration"),
    });
    const running = worker.run();
    const producer = conn.producer();
    for (let n = 0; n < 3; n++) {
      await producer.publish({ n }, { routingKey: tasks.name, declare: [tasks] });
    }
    await running;
    assert.deepEqual(got, [{ n: 0 }, { n: 1 }, { n: 2 }]);
    assert.deepEqual(events.slice(0, 3), ["revived", "ready:1", "iteration"]);
    assert.equal(events.at(-1), "end");
    assert.equal(worker.connection, undefined);
    assert.deepEqual(await drainQueue(conn, tasks.name), []);
  });

  it("finishes the message in hand before closing (graceful stop)", async () => {
    await using conn = new Connection("memory://");
    const tasks = new Queue(`g-${uuid()}`);
    const started = deferred();
    const release = deferred();
    const done: unknown[] = [];
    const worker = new Worker({
      connection: conn,
      getConsumers: (make) => [make([tasks], {
        prefetchCount: 1,
        callbacks: [async (body, message) => {
          started.resolve();
          await release.promise;
          done.push(body);
          await message.ack();
        }],
      })],
    });
    let finished = false;
    const running = worker.run().then(() => (finished = true));
    await conn.producer().publish({ n: 1 }, { routingKey: tasks.name, declare: [tasks] });
    await conn.producer().publish({ n: 2 }, { routingKey: tasks.name });
    await started.promise;
    worker.stop();
    await Promise.resolve();
    assert.equal(finished, false, "run() waits for the message in hand");
    release.resolve();
    await running;
    assert.deepEqual(done, [{ n: 1 }]);
    // The second message was never handed over (prefetch 1): it is still in the queue.
    assert.deepEqual(await drainQueue(conn, tasks.name), [{ n: 2 }]);
  });

  it("messages delivered but not started when stopping go back to the queue", async () => {
    await using conn = new Connection("memory://");
    const tasks = new Queue(`q-${uuid()}`);
    const started = deferred();
    const release = deferred();
    const done: unknown[] = [];
    const worker = new Worker({
      connection: conn,
      getConsumers: (make) => [make([tasks], {
        callbacks: [async (body, message) => {
          started.resolve();
          await release.promise;
          done.push(body);
          await message.ack();
        }],
      })],
    });
    const producer = conn.producer();
    for (let n = 1; n <= 3; n++) {
      await producer.publish({ n }, { routingKey: tasks.name, declare: [tasks] });
    }
    const running = worker.run();
    await started.promise;
    worker.stop();
    release.resolve();
    await running;
    assert.deepEqual(done, [{ n: 1 }]);
    assert.deepEqual(await drainQueue(conn, tasks.name), [{ n: 2 }, { n: 3 }]);
  });

  it("starts over on a new connection after a connection failure", async () => {
    await using conn = new Connection("memory://");
    const tasks = new Queue(`r-${uuid()}`);
    const got: unknown[] = [];
    let revived = 0;
    const sessions: Connection[] = [];
    const second = deferred();
    const first = deferred();
    const stop = new AbortController();
    const worker = new Worker({
      connection: conn,
      signal: stop.signal,
      restartLimit: new TokenBucket(1000, { capacity: 5 }),
      getConsumers: (make) => [make([tasks], {
        callbacks: [async (body, message) => {
          got.push(body);
          await message.ack();
          if (got.length === 1) first.resolve();
          if (got.length === 2) stop.abort();
        }],
      })],
      onConnectionRevived: () => {
        revived++;
        if (revived === 2) second.resolve();
      },
      onConsumeReady: ({ connection }) => void sessions.push(connection),
    });
    const running = worker.run();
    await conn.producer().publish({ n: 1 }, { routingKey: tasks.name, declare: [tasks] });
    await first.promise;
    await sessions[0]!.close(); // the broker "goes away"
    await second.promise;
    await conn.producer().publish({ n: 2 }, { routingKey: tasks.name });
    await running;
    assert.deepEqual(got, [{ n: 1 }, { n: 2 }]);
    assert.equal(revived, 2);
    assert.notEqual(sessions[0], sessions[1]);
  });

  it("throttles restarts with the token bucket", async () => {
    await using conn = new Connection("memory://");
    let attempts = 0;
    const stop = new AbortController();
    const frozen = () => 0; // time never passes: the bucket never refills
    const worker = new Worker({
      connection: conn,
      signal: stop.signal,
      restartLimit: new TokenBucket(1, { capacity: 2, now: frozen }),
      getConsumers: () => {
        attempts++;
        if (attempts === 2) queueMicrotask(() => setTimeout(() => stop.abort(), 20));
        throw new ConnectionError("broker refused");
      },
    });
    await worker.run();
    assert.equal(attempts, 2);
  });

  it("lets other errors out of run(); onConsumeEnd only follows a started session", async () => {
    await using conn = new Connection("memory://");
    const events: string[] = [];
    const worker = new Worker({
      connection: conn,
      getConsumers: () => {
        throw new TypeError("bug in getConsumers");
      },
      onConnectionRevived: () => void events.push("revived"),
      onConsumeEnd: () => void events.push("end"),
    });
    await assert.rejects(worker.run(), TypeError);
    assert.deepEqual(events, ["revived"]);
    assert.equal(worker.connection, undefined);
  });

  it("acknowledges undecodable messages by default; a hook can take over", async () => {
    await using conn = new Connection("memory://");
    const tasks = new Queue(`d-${uuid()}`);
    const stop = new AbortController();
    const seen: string[] = [];
    const worker = new Worker({
      connection: conn,
      signal: stop.signal,
      getConsumers: (make) => [make([tasks], { callbacks: [() => {}] })],
      onConsumeReady: async () => {
        await conn.producer().publish("{not json", {
          routingKey: tasks.name,
          contentType: "application/json",
        });
        await conn.producer().publish("ok", { routingKey: tasks.name, contentType: "text/x-odd" });
      },
    });
    const decodeErrors: Message[] = [];
    const original = worker.onDecodeError.bind(worker);
    worker.onDecodeError = async (message, error) => {
      decodeErrors.push(message);
      seen.push(message.contentType ?? "");
      await original(message, error);
      if (decodeErrors.length === 2) stop.abort();
    };
    await tasks.declareOn(await conn.defaultChannel());
    await worker.run();
    assert.deepEqual(seen, ["application/json", "text/x-odd"]);
    assert.ok(decodeErrors.every((m) => m.acknowledged));
    assert.deepEqual(await drainQueue(conn, tasks.name), []);
  });

  it("consume() yields per event and honours limit and timeout", async () => {
    await using conn = new Connection("memory://");
    const tasks = new Queue(`c-${uuid()}`);
    let made: Consumer | undefined;
    const worker = new Worker({
      connection: conn,
      safetyInterval: 5,
      getConsumers: (make) => [made = make([tasks], { noAck: true, callbacks: [() => {}] })],
      onConsumeReady: async () => {
        await conn.producer().publish(1, { routingKey: tasks.name });
      },
    });
    await conn.producer().publish(0, { routingKey: tasks.name, declare: [tasks] });
    let events = 0;
    for await (const _ of worker.consume({ limit: 1 })) events++;
    assert.equal(events, 1);
    assert.equal(made?.consuming, false);
    await assert.rejects(async () => {
      for await (const _ of worker.consume({ timeout: 10 })) events++;
    }, /No events within/);
  });

  it("ConsumerProducerMixin: producer() publishes on its own connection", async () => {
    await using conn = new Connection("memory://");
    const tasks = new Queue(`p-${uuid()}`);
    const replies = new Queue(`p-out-${uuid()}`);
    const stop = new AbortController();
    const worker: Worker = new Worker({
      connection: conn,
      signal: stop.signal,
      getConsumers: (make) => [make([tasks], {
        callbacks: [async (body, message) => {
          const producer = worker.producer();
          assert.notEqual(producer.connection, worker.connection);
          assert.notEqual(producer.connection, conn);
          await producer.publish({ echo: body }, { routingKey: replies.name, declare: [replies] });
          await message.ack();
          stop.abort();
        }],
      })],
    });
    const running = worker.run();
    await conn.producer().publish("hi", { routingKey: tasks.name, declare: [tasks] });
    await running;
    assert.deepEqual(await drainQueue(conn, replies.name), [{ echo: "hi" }]);
  });

  it("stops gracefully on SIGTERM with handleSignals", async () => {
    await using conn = new Connection("memory://");
    const tasks = new Queue(`s-${uuid()}`);
    const ready = deferred();
    const worker = new Worker({
      connection: conn,
      handleSignals: true,
      getConsumers: (make) => [make([tasks], { callbacks: [() => {}] })],
      onConsumeReady: () => ready.resolve(),
    });
    const running = worker.run();
    await ready.promise;
    const proc = (globalThis as { process?: { kill(pid: number, sig: string): void; pid: number } })
      .process!;
    proc.kill(proc.pid, "SIGTERM");
    await running;
    assert.equal(worker.shouldStop, true);
  });

  it("onSignals removes its listeners", () => {
    const seen: string[] = [];
    const remove = onSignals(["SIGUSR2"], (name) => seen.push(name));
    remove();
    remove();
    assert.deepEqual(seen, []);
  });
});

const brokers = [
  {
    name: "RabbitMQ",
    url: "amqp://guest:guest@127.0.0.1:5672//",
    skip: envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672)),
  },
  {
    name: "Redis",
    url: "redis://127.0.0.1:6379/0",
    skip: envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379)),
  },
];

for (const broker of brokers) {
  describe(`Worker on ${broker.name}`, () => {
    it(
      "a graceful stop finishes the message in hand and leaves the rest queued",
      broker.skip.options(),
      async () => {
        await using conn = new Connection(broker.url);
        const tasks = new Queue(`wk-${uuid()}`, { autoDelete: false, durable: false });
        const started = deferred();
        const release = deferred();
        const done: unknown[] = [];
        const worker = new Worker({
          connection: conn,
          safetyInterval: 100,
          getConsumers: (make) => [make([tasks], {
            prefetchCount: 1,
            callbacks: [async (body, message) => {
              started.resolve();
              await release.promise;
              done.push(body);
              await message.ack();
            }],
          })],
        });
        const producer = conn.producer();
        await producer.publish({ n: 1 }, { routingKey: tasks.name, declare: [tasks] });
        await producer.publish({ n: 2 }, { routingKey: tasks.name });
        const running = worker.run();
        try {
          await started.promise;
          worker.stop();
          release.resolve();
          await running;
          assert.deepEqual(done, [{ n: 1 }]);
          assert.deepEqual(await drainQueue(conn, tasks.name), [{ n: 2 }]);
        } finally {
          const channel = await conn.channel();
          await channel.queueDelete(tasks.name);
          await channel.close();
        }
      },
    );
  });
}
