/**
 * Kombu's own test expectations for its virtual transport (`t/unit/transport/virtual/
 * test_exchange.py` and `test_base.py`), checked through wakame's public API on memory://.
 * Where wakame differs on purpose (README, "Differences from Kombu"), the test says so and checks
 * wakame's behaviour instead.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { Exchange, type ExchangeOptions, Queue } from "../../../src/entity.ts";
import { ConfigurationError, NotFoundError, PreconditionFailedError } from "../../../src/errors.ts";
import { kombuBindingPattern, type TopicRules } from "../../../mod.ts";
import type { Message } from "../../../src/message.ts";
import { uniqueVhost } from "./_fakes.ts";

function memory(options: { topicRules?: TopicRules } = {}): Connection {
  return new Connection(`memory:///${uniqueVhost("kombu-exp")}`, {
    transportOptions: { ...options },
  });
}

/** Binds `table` (binding key, queue) to a new exchange, publishes `key`, says who got it. */
async function lookup(
  conn: Connection,
  type: "direct" | "topic" | "fanout",
  table: ReadonlyArray<readonly [string, string]>,
  keys: readonly string[],
): Promise<Record<string, string[]>> {
  const exchange = new Exchange(`e-${type}-${Math.random().toString(36).slice(2)}`, { type });
  const queues = new Set<string>();
  for (const [bindingKey, queue] of table) {
    queues.add(queue);
    await new Queue(queue, { exchange, routingKey: bindingKey }).bind(await conn.defaultChannel())
      .declare();
  }
  const got: Record<string, string[]> = {};
  for (const key of keys) {
    await conn.producer({ exchange }).publish(key, { routingKey: key });
    const reached: string[] = [];
    for (const queue of [...queues].sort()) {
      const bound = new Queue(queue).bind(await conn.defaultChannel());
      for (let m = await bound.get({ noAck: true }); m; m = await bound.get({ noAck: true })) {
        reached.push(queue);
      }
    }
    got[key] = reached;
  }
  return got;
}

describe("Kombu test_exchange.py: lookups", () => {
  it("direct: every queue bound with the key, once (test_Direct.test_lookup)", async () => {
    await using conn = memory();
    const table = [["rFoo", "qFoo"], ["rFoo", "qFox"], ["rBar", "qBar"], ["rBaz", "qBaz"]] as const;
    assert.deepEqual(await lookup(conn, "direct", table, ["rFoo", "rMoz", "rBar"]), {
      rFoo: ["qFoo", "qFox"],
      rMoz: [],
      rBar: ["qBar"],
    });
  });

  it("fanout: every bound queue (test_Fanout.test_lookup)", async () => {
    await using conn = memory();
    const table = [["", "qFoo"], ["", "qFox"], ["", "qBar"]] as const;
    assert.deepEqual(await lookup(conn, "fanout", table, ["rFoo"]), {
      rFoo: ["qBar", "qFoo", "qFox"],
    });
  });

  for (const rules of ["amqp", "kombu"] as const) {
    it(`topic, ${rules} rules: Kombu's table (test_Topic.test_lookup)`, async () => {
      await using conn = memory({ topicRules: rules });
      const table = [["stock.#", "rFoo"], ["stock.us.*", "rBar"]] as const;
      const keys = [
        "stock.us.nasdaq",
        "stock.europe.OSE",
        "stockxeuropexOSE",
        "candy.schleckpulver.snap_crackle",
      ];
      assert.deepEqual(await lookup(conn, "topic", table, keys), {
        "stock.us.nasdaq": ["rBar", "rFoo"],
        "stock.europe.OSE": ["rFoo"],
        "stockxeuropexOSE": [],
        "candy.schleckpulver.snap_crackle": [],
      });
    });

    it(`topic, ${rules} rules: overlapping bindings deliver once (test_TopicMultibind)`, async () => {
      await using conn = memory({ topicRules: rules });
      const table = [["stock", "rFoo"], ["stock.#", "rFoo"], ["stock.us.*", "rFoo"], [
        "#",
        "rFoo",
      ]] as const;
      const keys = [
        "stock.us.nasdaq",
        "stock.europe.OSE",
        "stockxeuropexOSE",
        "candy.schleckpulver.snap_crackle",
      ];
      const once = Object.fromEntries(keys.map((key) => [key, ["rFoo"]]));
      assert.deepEqual(await lookup(conn, "topic", table, keys), once);
    });
  }

  it("stores Kombu's pattern for a topic binding (test_Topic.test_prepare_bind)", () => {
    assert.equal(kombuBindingPattern("topic", "stock.#"), "^stock\\..*?$");
    assert.equal(kombuBindingPattern("direct", "rFoo"), "");
  });
});

describe("Kombu test_exchange.py: test_ExchangeType.test_equivalent", () => {
  const e1: ExchangeOptions = { type: "direct", durable: true, autoDelete: true, arguments: {} };
  const e2: ExchangeOptions = { ...e1, arguments: { expires: 3000 } };
  const rows: [string, ExchangeOptions, boolean, ExchangeOptions][] = [
    ["same", e1, true, { ...e1 }],
    ["type", e1, false, { ...e1, type: "topic" }],
    ["durable", e1, false, { ...e1, durable: false }],
    ["auto_delete", e1, false, { ...e1, autoDelete: false }],
    ["arguments added", e1, false, { ...e1, arguments: { expires: 3000 } }],
    ["same arguments", e2, true, { ...e2, arguments: { expires: 3000 } }],
    ["arguments changed", e2, false, { ...e2, arguments: { expires: 6000 } }],
  ];
  it("accepts exactly the equivalent redeclarations, refusing the others with 406", async () => {
    await using conn = memory();
    const got: Record<string, boolean> = {};
    const want: Record<string, boolean> = {};
    for (const [label, first, equivalent, again] of rows) {
      const name = `eFoo-${label.replaceAll(" ", "-")}`;
      const channel = await conn.channel();
      await new Exchange(name, first).declareOn(channel);
      try {
        await new Exchange(name, again).declareOn(channel);
        got[label] = true;
      } catch (error) {
        assert.ok(error instanceof PreconditionFailedError, String(error));
        assert.equal(error.replyCode, 406);
        got[label] = false;
      }
      want[label] = equivalent;
    }
    assert.deepEqual(got, want);
  });
});

describe("Kombu test_base.py: test_Channel", () => {
  it("exchange_declare: passive fails first, then finds it; a durable change is refused", async () => {
    await using conn = memory();
    const channel = await conn.channel();
    const options: ExchangeOptions = { type: "direct", durable: true, autoDelete: true };
    const name = "test_exchange_declare";
    await assert.rejects(
      new Exchange(name, { ...options, passive: true }).declareOn(channel),
      NotFoundError,
    );
    await new Exchange(name, options).declareOn(channel);
    await new Exchange(name, { ...options, passive: true }).declareOn(channel);
    await new Exchange(name, options).declareOn(channel);
    await assert.rejects(
      new Exchange(name, { ...options, durable: false }).declareOn(channel),
      PreconditionFailedError,
    );
  });

  it("state: another connection of the process sees the exchange (Kombu: per connection)", async () => {
    // Difference: Kombu's test_state_is_transport_specific; wakame shares one scope.
    await using conn = memory();
    await new Exchange("shared-state").declareOn(await conn.channel());
    await using other = conn.clone();
    await new Exchange("shared-state", { passive: true }).declareOn(await other.channel());
  });

  it("queue_bind twice keeps one binding: a message arrives once", async () => {
    await using conn = memory();
    const channel = await conn.channel();
    const exchange = new Exchange("twice", { type: "direct" });
    const queue = new Queue("twice", { exchange, routingKey: "twice" }).bind(channel);
    await queue.declare();
    await queue.declare();
    await channel.queueBind("twice", "twice", "twice");
    await conn.producer({ exchange }).publish("once", { routingKey: "twice" });
    assert.equal((await queue.get({ noAck: true }))?.payload, "once");
    assert.equal(await queue.get(), undefined);
  });

  it("exchange_delete forgets the exchange and its bindings; the queue stays (RabbitMQ)", async () => {
    // Difference: Kombu's test_exchange_delete also deletes the empty, unused bound queue.
    await using conn = memory();
    const channel = await conn.channel();
    const exchange = new Exchange("gone", { durable: true, autoDelete: true });
    const queue = new Queue("gone", { exchange, routingKey: "gone" }).bind(channel);
    await queue.declare();
    await exchange.bind(channel).delete();
    await assert.rejects(new Exchange("gone", { passive: true }).declareOn(channel), NotFoundError);
    await new Queue("gone", { passive: true }).bind(channel).declare();
    await new Exchange("gone", { durable: true, autoDelete: true }).declareOn(channel);
    await conn.producer({ exchange }).publish("unbound", { routingKey: "gone" });
    assert.equal(await queue.get(), undefined);
  });

  it("queue_delete(ifEmpty) of a full queue is refused (406) and keeps its bindings", async () => {
    // Difference: Kombu's test_queue_delete__if_empty returns quietly.
    await using conn = memory();
    const channel = await conn.channel();
    const exchange = new Exchange("if-empty");
    const queue = new Queue("if-empty", { exchange, routingKey: "k" }).bind(channel);
    await queue.declare();
    await conn.producer({ exchange }).publish(1, { routingKey: "k" });
    await assert.rejects(
      channel.queueDelete("if-empty", { ifEmpty: true }),
      PreconditionFailedError,
    );
    await conn.producer({ exchange }).publish(2, { routingKey: "k" });
    assert.equal(await queue.purge(), 2);
    assert.equal(await channel.queueDelete("if-empty", { ifEmpty: true }), 0);
  });

  it("delivery tags: a counter per channel (Kombu: the message's uuid4)", async () => {
    // Difference: Kombu's test_basic_publish_unique_delivery_tags; wakame counts as AMQP does.
    await using conn = memory();
    const n = "test_uniq_tag";
    const exchange = new Exchange(n);
    const [c1, c2] = [await conn.channel(), await conn.channel()];
    await new Queue(n, { exchange, routingKey: n }).bind(c1).declare();
    for (const body of ["George Costanza", "Elaine Marie Benes", "Kramer"]) {
      await conn.producer({ exchange }).publish(body, { routingKey: n });
    }
    const tags = [
      (await new Queue(n).bind(c1).get())?.deliveryTag,
      (await new Queue(n).bind(c1).get())?.deliveryTag,
      (await new Queue(n).bind(c2).get())?.deliveryTag,
    ];
    assert.deepEqual(tags.map(Number), [1, 2, 1]);
  });

  it("queue_delete of an unknown queue and basic_cancel of an unknown tag do nothing", async () => {
    await using conn = memory();
    const channel = await conn.channel();
    assert.equal(await channel.queueDelete("xiwjqjwel"), 0);
    await channel.basicCancel("unknown-tag");
    assert.equal(channel.isOpen, true);
  });

  it("queue_declare(passive) of a missing queue fails (test_queue_declare_passive)", async () => {
    await using conn = memory();
    await assert.rejects(
      new Queue("21wisdjwqe", { passive: true }).bind(await conn.channel()).declare(),
      NotFoundError,
    );
  });

  it("exchange_bind is not there (test_exchange_bind_interface): a ConfigurationError", async () => {
    await using conn = memory();
    const channel = await conn.channel();
    await assert.rejects(
      new Exchange("dest").bind(channel).bindTo("src", "key"),
      ConfigurationError,
    );
  });

  it("publish, get, consume and restore (test_basic_publish__get__consume__restore)", async () => {
    await using conn = memory();
    const channel = await conn.channel();
    const n = "test_basic_publish";
    const exchange = new Exchange(n);
    const first = new Queue(n, { exchange, routingKey: n }).bind(channel);
    const second = new Queue(`${n}2`, { exchange, routingKey: n }).bind(channel);
    await first.declare();
    await second.declare();
    await conn.producer({ exchange }).publish("nthex quick brown fox...", { routingKey: n });
    const got = await first.get({ noAck: true });
    assert.equal(got?.payload, "nthex quick brown fox...");
    assert.equal(await first.get(), undefined);
    let message!: Message;
    for await (const m of conn.consumer([second])) {
      message = m;
      break;
    }
    assert.equal(message.payload, "nthex quick brown fox...");
    assert.deepEqual(
      [message.deliveryInfo.exchange, message.deliveryInfo.routingKey],
      [n, n],
    );
    await message.requeue();
    const again = await second.get({ noAck: true });
    assert.equal(again?.payload, "nthex quick brown fox...");
    assert.equal(again?.deliveryInfo.redelivered, true);
  });
});
