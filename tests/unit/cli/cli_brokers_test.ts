import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { Exchange, Queue } from "../../../src/entity.ts";
import { uuid } from "../../../src/utils/uuid.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { envSkip } from "../../_support/skips.ts";
import { wakame } from "./_cli.ts";

const REDIS = "redis://127.0.0.1:6379/0";
const AMQP = "amqp://guest:guest@127.0.0.1:5672//";

const redisSkip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));
const amqpSkip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));

describe("wakame command line on redis://", () => {
  const skip = redisSkip;
  const name = `cli-${uuid()}`;
  const conn = new Connection(REDIS);
  before(async () => {
    if (skip.reason) return;
    const exchange = new Exchange(`${name}-x`, { type: "direct" });
    await new Queue(name, { exchange, routingKey: "rk" }).bind(await conn.defaultChannel())
      .declare();
  });
  after(async () => {
    if (skip.reason) return;
    const channel = await conn.channel();
    await channel.queueDelete(name).catch(() => undefined);
    await conn.close();
  });

  it(
    "publishes stdin lines and --count copies, shows depths, priorities, bindings",
    skip.options(),
    async () => {
      const lines = await wakame([
        "publish",
        REDIS,
        "-e",
        `${name}-x`,
        "-k",
        "rk",
        "-H",
        "h=v",
        "-",
      ], {
        stdin: '{"n":1}\n{"n":2}\n',
      });
      assert.equal(lines.code, 0, lines.stderr);
      assert.match(lines.stderr, /published 2 messages to exchange/);
      const copies = await wakame([
        "publish",
        REDIS,
        "-e",
        `${name}-x`,
        "-k",
        "rk",
        "--count",
        "3",
        "--priority",
        "9",
        "--rate",
        "1000",
        "hello",
      ]);
      assert.equal(copies.code, 0, copies.stderr);
      const inspect = await wakame(["inspect", REDIS, name]);
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.match(inspect.stdout, new RegExp(`^  ${name} +5 +- +0 +0:2 9:3$`, "m"));
      assert.match(inspect.stdout, new RegExp(`^  ${name}-x +rk +${name}$`, "m"));
      const json = JSON.parse((await wakame(["inspect", REDIS, name, "--json"])).stdout);
      assert.deepEqual(json.queues, [{
        name,
        depth: 5,
        consumers: 0,
        subQueues: [{ priority: 0, depth: 2 }, { priority: 9, depth: 3 }],
      }]);
    },
  );

  it(
    "consume prints and requeues by default, --ack removes; purge --yes empties",
    skip.options(),
    async () => {
      const peek = await wakame(["consume", REDIS, name, "--count", "2"]);
      assert.equal(peek.code, 0, peek.stderr);
      assert.match(peek.stdout, /^#1 delivery tag \S+, exchange ".*-x", routing key "rk"$/m);
      assert.match(peek.stdout, /^ {4}h: v$/m);
      assert.match(peek.stdout, /^ {2}body: \{"n":1\}$/m);
      assert.match(peek.stderr, /2 messages from ".*", requeued/);
      const taken = await wakame(["consume", REDIS, name, "--count", "2", "--ack", "--json"]);
      assert.equal(taken.code, 0, taken.stderr);
      const bodies = taken.stdout.trim().split("\n").map((l) => JSON.parse(l).body);
      assert.deepEqual(bodies, [{ n: 1 }, { n: 2 }]);
      const purge = await wakame(["purge", REDIS, name, "--yes"]);
      assert.equal(purge.code, 0, purge.stderr);
      assert.match(purge.stderr, /purged 3 messages/);
    },
  );

  it(
    "an unreachable server or refused password: one masked line, exit code 3",
    skip.options(),
    async () => {
      const down = await wakame(["inspect", "redis://:hunter2@127.0.0.1:1/0"]);
      assert.equal(down.code, 3);
      assert.match(
        down.stderr,
        /^wakame: cannot connect to redis:\/\/:\*\*\*\*@127\.0\.0\.1:1\/0: /,
      );
      assert.doesNotMatch(down.stderr, /hunter2/);
      assert.equal(down.stderr.trim().split("\n").length, 1);
    },
  );
});

describe("wakame command line on amqp://", () => {
  const skip = amqpSkip;
  const name = `cli-${uuid()}`;
  const conn = new Connection(AMQP);
  before(async () => {
    if (skip.reason) return;
    await new Queue(name, { durable: false }).bind(await conn.defaultChannel()).declare();
  });
  after(async () => {
    if (skip.reason) return;
    const channel = await conn.channel();
    await channel.queueDelete(name).catch(() => undefined);
    await conn.close();
  });

  it("publish, inspect by passive declare, consume --ack, bench", skip.options(), async () => {
    const sent = await wakame(["publish", AMQP, "-k", name, "--count", "2", '{"a":1}']);
    assert.equal(sent.code, 0, sent.stderr);
    assert.doesNotMatch(sent.stderr, /guest:guest/);
    const inspect = await wakame(["inspect", AMQP, name, "--no-management"]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, new RegExp(`^  ${name} +2 +- +0`, "m"));
    const taken = await wakame(["consume", AMQP, name, "--ack", "--count", "2", "--json"]);
    assert.equal(taken.code, 0, taken.stderr);
    assert.equal(taken.stdout.trim().split("\n").length, 2);
    assert.deepEqual(JSON.parse(taken.stdout.split("\n")[0]).body, { a: 1 });
    const bench = await wakame(["bench", AMQP, "--count", "100", "--prefetch", "10"]);
    assert.equal(bench.code, 0, bench.stderr);
    assert.match(bench.stdout, /│ consume +│ 100 +│/);
  });

  it(
    "a missing queue is exit code 4; a wrong password exit code 3, masked",
    skip.options(),
    async () => {
      const missing = await wakame(["inspect", AMQP, `${name}-nope`, "--no-management"]);
      assert.equal(missing.code, 4, missing.stderr);
      assert.match(missing.stderr, /^wakame: queue not found: cli-.*-nope$/m);
      const refused = await wakame(["inspect", "amqp://guest:wrong-pw@127.0.0.1:5672//"]);
      assert.equal(refused.code, 3);
      assert.match(refused.stderr, /ACCESS_REFUSED/);
      assert.doesNotMatch(refused.stderr, /wrong-pw/);
    },
  );
});
