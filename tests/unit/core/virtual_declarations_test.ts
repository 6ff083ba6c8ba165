import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigurationError, NotFoundError, PreconditionFailedError } from "../../../src/errors.ts";
import type { Delivery, ExchangeDeclaration, OutgoingMessage } from "../../../src/transport.ts";
import type { QueueBackend } from "../../../src/virtual/backend.ts";
import { VirtualChannel } from "../../../src/virtual/channel.ts";
import { MemoryBindingStore, VirtualState } from "../../../src/virtual/state.ts";
import type { TopicRules } from "../../../src/virtual/exchange_types.ts";
import { MemoryBackend } from "../../../transports/memory/mod.ts";
import { until } from "./_fakes.ts";
import { bodyText } from "../../../mod.ts";

const msg = (body: string): OutgoingMessage => ({
  body: new TextEncoder().encode(body),
  properties: {},
});

function open(
  options: { queueEquivalence?: boolean; topicRules?: TopicRules; backend?: QueueBackend } = {},
) {
  const state = new VirtualState();
  const backend = options.backend ?? new MemoryBackend();
  const make = () =>
    new VirtualChannel(backend, state, {
      pollingInterval: 5,
      batchSize: 100,
      queueEquivalence: options.queueEquivalence,
      topicRules: options.topicRules,
      onFatal: () => {},
    });
  return { channel: make(), make, state, backend };
}

/** Expects a channel error with the reply code, class id and method id of the failed method. */
async function rejectsWith(
  promise: Promise<unknown>,
  type: typeof NotFoundError | typeof PreconditionFailedError,
  [replyCode, classId, methodId]: [number, number, number],
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    assert.deepEqual(
      { replyCode: error.replyCode, classId: error.classId, methodId: error.methodId },
      { replyCode, classId, methodId },
    );
    return true;
  });
}

const EXCHANGE_DECLARE: [number, number, number] = [406, 40, 10];

describe("VirtualChannel: exchange redeclaration (Kombu's NotEquivalentError, RabbitMQ 406)", () => {
  const base: ExchangeDeclaration = { name: "x", type: "direct", durable: true };
  const others: [string, ExchangeDeclaration][] = [
    ["type", { ...base, type: "topic" }],
    ["durable", { ...base, durable: false }],
    ["autoDelete", { ...base, autoDelete: true }],
    ["internal", { ...base, internal: true }],
    ["arguments", { ...base, arguments: { "alternate-exchange": "ae" } }],
  ];
  for (const [field, other] of others) {
    it(`refuses another ${field}, names it, and keeps the first declaration`, async () => {
      const { channel, state } = open();
      await channel.exchangeDeclare(base);
      await rejectsWith(channel.exchangeDeclare(other), PreconditionFailedError, EXCHANGE_DECLARE);
      await assert.rejects(channel.exchangeDeclare(other), new RegExp(`"${field}"`));
      assert.equal(state.typeOf("x"), "direct");
      assert.equal(channel.isOpen, true);
    });
  }

  it("accepts an equivalent one: absent flags are false, argument order does not matter", async () => {
    const { channel } = open();
    await channel.exchangeDeclare({ name: "y", type: "topic", arguments: { a: 1, b: 2 } });
    await channel.exchangeDeclare({
      name: "y",
      type: "topic",
      durable: false,
      autoDelete: false,
      arguments: { b: 2, a: 1 },
    });
    await channel.exchangeDelete("y");
    await channel.exchangeDeclare({ name: "y", type: "fanout" });
  });

  it("keeps the channel and its consumer working after the refusal", async () => {
    const { channel } = open();
    await channel.queueDeclare({ name: "q" });
    const got: string[] = [];
    await channel.basicConsume("q", { noAck: true }, {
      onDelivery: (d: Delivery) => void got.push(bodyText(d.body)),
    });
    await channel.exchangeDeclare({ name: "e", type: "direct" });
    await assert.rejects(channel.exchangeDeclare({ name: "e", type: "fanout" }));
    await channel.basicPublish("", "q", msg("after"));
    await until(() => got.length === 1, "the delivery after the refusal");
    assert.deepEqual(got, ["after"]);
    await channel.close();
  });
});

describe("VirtualChannel: exchanges that must exist (404)", () => {
  it("a passive declaration finds declared and built-in exchanges, and fails on others", async () => {
    const { channel } = open();
    await rejectsWith(
      channel.exchangeDeclare({ name: "nope", type: "direct", passive: true }),
      NotFoundError,
      [404, 40, 10],
    );
    await channel.exchangeDeclare({ name: "here", type: "topic" });
    // The type of a passive declaration is not compared (RabbitMQ does not either).
    await channel.exchangeDeclare({ name: "here", type: "direct", passive: true });
    for (const name of ["", "amq.direct", "amq.topic", "amq.fanout", "amq.headers", "amq.match"]) {
      await channel.exchangeDeclare({ name, type: "direct", passive: true });
    }
    assert.equal(channel.isOpen, true);
  });

  it("a binding needs the exchange: 404 for a missing one; built-ins route by their type", async () => {
    const { channel } = open();
    await channel.queueDeclare({ name: "q" });
    await rejectsWith(channel.queueBind("q", "missing", "k"), NotFoundError, [404, 50, 20]);
    await channel.queueBind("q", "amq.topic", "a.#");
    await channel.basicPublish("amq.topic", "a.b", msg("routed as topic"));
    const got = await channel.basicGet("q", { noAck: true });
    assert.equal(got && bodyText(got.body), "routed as topic");
  });

  it("over shared bindings, another process's exchange exists when bindings name it", async () => {
    // Redis and the filesystem share bindings; Kombu keeps exchange declarations per process.
    const shared = new MemoryBindingStore();
    const memory = new MemoryBackend();
    const backend: QueueBackend = {
      put: (q, m) => memory.put(q, m),
      get: (q) => memory.get(q),
      purge: (q) => memory.purge(q),
      size: (q) => memory.size(q),
      delete: (q) => memory.delete(q),
      bindings: shared,
    };
    await shared.add("python-declared", { queue: "theirs", routingKey: "k" });
    const { channel } = open({ backend });
    await channel.exchangeDeclare({ name: "python-declared", type: "direct", passive: true });
    await channel.queueBind("mine", "python-declared", "k2");
    assert.deepEqual((await shared.list("python-declared")).map((b) => b.queue), [
      "theirs",
      "mine",
    ]);
    await rejectsWith(
      channel.exchangeDeclare({ name: "unbound", type: "direct", passive: true }),
      NotFoundError,
      [404, 40, 10],
    );
    await rejectsWith(channel.queueBind("mine", "unbound", "k"), NotFoundError, [404, 50, 20]);
  });
});

describe("VirtualChannel: queue equivalence where the store knows every queue", () => {
  it("refuses other flags or x- arguments with 406; other arguments are not compared", async () => {
    const { channel } = open({ queueEquivalence: true });
    await channel.queueDeclare({ name: "q", durable: true, arguments: { "x-max-priority": 5 } });
    const refused = [
      { name: "q", durable: false, arguments: { "x-max-priority": 5 } },
      { name: "q", durable: true, arguments: { "x-max-priority": 9 } },
      { name: "q", durable: true },
      { name: "q", durable: true, exclusive: true, arguments: { "x-max-priority": 5 } },
      { name: "q", durable: true, autoDelete: true, arguments: { "x-max-priority": 5 } },
    ];
    const accepted: string[] = [];
    for (const declaration of refused) {
      try {
        await channel.queueDeclare(declaration);
        accepted.push(JSON.stringify(declaration));
      } catch (error) {
        assert.ok(error instanceof PreconditionFailedError);
        assert.deepEqual([error.replyCode, error.classId, error.methodId], [406, 50, 10]);
      }
    }
    assert.deepEqual(accepted, []);
    await channel.queueDeclare({
      name: "q",
      durable: true,
      arguments: { "x-max-priority": 5, note: "not compared" },
    });
    await channel.queueDeclare({ name: "q", passive: true });
  });

  it("forgets a deleted queue: it may come back with other settings", async () => {
    const { channel } = open({ queueEquivalence: true });
    await channel.queueDeclare({ name: "gone", arguments: { "x-message-ttl": 10 } });
    await channel.queueDelete("gone");
    await channel.queueDeclare({ name: "gone", durable: true });
  });

  it("refuses to bind a missing queue (404)", async () => {
    const { channel } = open({ queueEquivalence: true });
    await channel.exchangeDeclare({ name: "e", type: "direct" });
    await rejectsWith(channel.queueBind("nowhere", "e", "k"), NotFoundError, [404, 50, 20]);
    await channel.queueDeclare({ name: "somewhere" });
    await channel.queueBind("somewhere", "e", "k");
  });

  it("without the capability, redeclarations and bindings of unknown queues pass (Kombu)", async () => {
    const { channel } = open({ queueEquivalence: false });
    await channel.queueDeclare({ name: "q", arguments: { "x-max-priority": 5 } });
    await channel.queueDeclare({ name: "q", durable: true });
    await channel.exchangeDeclare({ name: "e", type: "direct" });
    await channel.queueBind("never-declared", "e", "k");
  });
});

describe("VirtualChannel: bindings the routing cannot route are refused", () => {
  it("a key over 255 UTF-8 bytes (an AMQP short string) is a ConfigurationError", async () => {
    const { channel } = open();
    await channel.exchangeDeclare({ name: "t", type: "topic" });
    await channel.queueBind("q", "t", "a".repeat(255));
    await channel.queueBind("q", "t", "é".repeat(127) + "a");
    await assert.rejects(channel.queueBind("q", "t", "é".repeat(128)), ConfigurationError);
    await assert.rejects(channel.queueBind("q", "t", "a".repeat(256)), /256 bytes/);
  });

  it("a headers binding needs a known x-match (RabbitMQ: 406)", async () => {
    const { channel } = open();
    await channel.exchangeDeclare({ name: "h", type: "headers" });
    for (const mode of ["all", "any", "all-with-x", "any-with-x"]) {
      await channel.queueBind("q", "h", "", { "x-match": mode, a: 1 });
    }
    await channel.queueBind("q", "h", "", { a: 1 });
    await rejectsWith(
      channel.queueBind("q", "h", "", { "x-match": "bogus" }),
      PreconditionFailedError,
      [406, 50, 20],
    );
    await rejectsWith(
      channel.queueBind("q", "h", "", { "x-match": 1 }),
      PreconditionFailedError,
      [406, 50, 20],
    );
  });

  it("under Kombu's topic rules, a key whose regex does not compile; AMQP rules take it", async () => {
    const kombu = open({ topicRules: "kombu" }).channel;
    await kombu.exchangeDeclare({ name: "t", type: "topic" });
    await rejectsWith(kombu.queueBind("q", "t", "*a"), PreconditionFailedError, [406, 50, 20]);
    await rejectsWith(kombu.queueBind("q", "t", "a.**"), PreconditionFailedError, [406, 50, 20]);
    await kombu.queueBind("q", "t", "a.*.c");
    const amqp = open({ topicRules: "amqp" }).channel;
    await amqp.exchangeDeclare({ name: "t", type: "topic" });
    await amqp.queueBind("q", "t", "*a");
  });
});
