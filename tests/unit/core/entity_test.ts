import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { binding, Exchange, isReservedExchange, maybeDeclare, Queue } from "../../../src/entity.ts";
import { ConfigurationError, NotBoundError } from "../../../src/errors.ts";
import type { Channel, ExchangeType } from "../../../src/transport.ts";
import { RecordingChannel } from "./_fakes.ts";

describe("Exchange", () => {
  it("has Kombu's defaults and maps delivery modes", () => {
    const e = new Exchange("media");
    assert.equal(e.type, "direct");
    assert.equal(e.durable, true);
    assert.equal(e.autoDelete, false);
    assert.equal(e.deliveryMode, 2);
    assert.equal(new Exchange("t", { deliveryMode: "transient" }).deliveryMode, 1);
    assert.equal(new Exchange("t", { deliveryMode: 1 }).deliveryMode, 1);
    assert.equal(new Exchange("t", { deliveryMode: "persistent" }).deliveryMode, 2);
    assert.equal(String(e), "<Exchange media(direct)>");
    assert.equal(String(new Exchange("")), "<Exchange ''(direct)>");
  });

  it("refuses an unknown type that is not a broker extension (x-...)", () => {
    assert.throws(
      () => new Exchange("x", { type: "delayed" as ExchangeType }),
      ConfigurationError,
    );
    assert.equal(new Exchange("x", { type: "x-delayed-message" }).type, "x-delayed-message");
  });

  it("declares only when bound, on a copy", async () => {
    const e = new Exchange("media", { type: "topic", durable: false, arguments: { a: 1 } });
    await assert.rejects(e.declare(), (error: unknown) => {
      assert.ok(error instanceof NotBoundError);
      assert.match((error as Error).message, /exchange "media"/);
      return true;
    });
    const channel = new RecordingChannel();
    const bound = e.bind(channel);
    assert.equal(e.isBound, false);
    assert.equal(bound.isBound, true);
    assert.equal(bound.channel, channel);
    await bound.declare();
    await bound.declare({ passive: true });
    assert.deepEqual(channel.calls.map((c) => c.args[0]), [
      {
        name: "media",
        type: "topic",
        durable: false,
        autoDelete: false,
        internal: false,
        passive: false,
        arguments: { a: 1 },
      },
      {
        name: "media",
        type: "topic",
        durable: false,
        autoDelete: false,
        internal: false,
        passive: true,
        arguments: { a: 1 },
      },
    ]);
  });

  it("never declares the default exchange, amq.* exchanges or noDeclare ones", async () => {
    const channel = new RecordingChannel();
    for (
      const e of [
        new Exchange(""),
        new Exchange("amq.topic", { type: "topic" }),
        new Exchange("amq.direct"),
      ]
    ) {
      await e.bind(channel).declare();
      assert.equal(await maybeDeclare(e, channel, { declaredEntities: new Set() }), true);
    }
    await new Exchange("exists", { noDeclare: true }).bind(channel).declare();
    assert.deepEqual(channel.calls, []);
    assert.ok(
      isReservedExchange("") && isReservedExchange("amq.fanout") && !isReservedExchange("amqx"),
    );
  });

  it("binds to and unbinds from other exchanges where the channel can", async () => {
    const channel = new RecordingChannel();
    const dest = new Exchange("dest").bind(channel);
    await dest.bindTo(new Exchange("src"), "k.#", { x: 1 });
    await dest.unbindFrom("src", "k.#");
    assert.deepEqual(channel.calls, [
      { method: "exchangeBind", args: ["dest", "src", "k.#", { x: 1 }] },
      { method: "exchangeUnbind", args: ["dest", "src", "k.#", undefined] },
    ]);
    const plain = new RecordingChannel() as Partial<RecordingChannel>;
    delete (plain as { exchangeBind?: unknown }).exchangeBind;
    const limited = Object.assign(Object.create(RecordingChannel.prototype), plain, {
      exchangeBind: undefined,
    });
    await assert.rejects(
      new Exchange("d").bind(limited as Channel).bindTo("s"),
      ConfigurationError,
    );
    await assert.rejects(new Exchange("d").bindTo("s"), NotBoundError);
  });
});

describe("Queue", () => {
  it("maps expires, messageTtl, maxLength, maxLengthBytes and maxPriority to x-arguments", () => {
    const q = new Queue("q", {
      expires: 1500.9,
      messageTtl: 250.2,
      maxLength: 10,
      maxLengthBytes: 4096,
      maxPriority: 9,
      queueArguments: { "x-queue-type": "classic" },
    });
    assert.deepEqual(q.queueArguments, {
      "x-queue-type": "classic",
      "x-expires": 1500,
      "x-message-ttl": 250,
      "x-max-length": 10,
      "x-max-length-bytes": 4096,
      "x-max-priority": 9,
    });
    assert.deepEqual(new Queue("plain").queueArguments, {});
  });

  it("makes exclusive queues auto-delete, as Kombu does", () => {
    assert.equal(new Queue("q", { exclusive: true }).autoDelete, true);
    assert.equal(new Queue("q", { exclusive: true, autoDelete: false }).autoDelete, true);
    assert.equal(new Queue("q").autoDelete, false);
    assert.equal(new Queue("q", { autoDelete: true }).autoDelete, true);
  });

  it("reads Celery's task_queues dict form", () => {
    const q = Queue.fromDict("video", {
      exchange: "media",
      exchange_type: "topic",
      routing_key: "video.#",
      durable: false,
      queue_arguments: { "x-queue-mode": "lazy" },
      binding_arguments: { b: 1 },
      consumer_arguments: { "x-priority": 5 },
      expires: 60,
      message_ttl: 1.5,
      max_priority: 10,
      max_length: 100,
    });
    assert.equal(q.name, "video");
    assert.equal(q.exchange?.name, "media");
    assert.equal(q.exchange?.type, "topic");
    assert.equal(q.exchange?.durable, false);
    assert.equal(q.durable, false);
    assert.equal(q.routingKey, "video.#");
    assert.deepEqual(q.queueArguments, {
      "x-queue-mode": "lazy",
      "x-expires": 60000,
      "x-message-ttl": 1500,
      "x-max-length": 100,
      "x-max-priority": 10,
    });
    assert.deepEqual(q.options.bindingArguments, { b: 1 });
    assert.deepEqual(q.options.consumerArguments, { "x-priority": 5 });
  });

  it("fromDict: Python's None (null) means not set, never 0", () => {
    const q = Queue.fromDict("q", {
      exchange: null,
      exchange_type: null,
      message_ttl: null,
      expires: null,
      max_length: null,
      max_priority: null,
      durable: null,
      queue_arguments: null,
    });
    assert.deepEqual(q.queueArguments, {});
    assert.equal(q.exchange, undefined);
    assert.equal(q.durable, true);
    assert.deepEqual(Queue.fromDict("q", { message_ttl: 0.5 }).queueArguments, {
      "x-message-ttl": 500,
    });
  });

  it("fromDict: the routing key defaults to the name, binding_key wins, exchange_* beat the shared keys", () => {
    assert.equal(Queue.fromDict("celery", { exchange: "celery" }).routingKey, "celery");
    assert.equal(Queue.fromDict("q", { binding_key: "b" }).routingKey, "b");
    assert.equal(Queue.fromDict("q", { routing_key: "r", binding_key: "b" }).routingKey, "b");
    const q = Queue.fromDict("q", {
      exchange: "e",
      durable: false,
      exchange_durable: true,
      auto_delete: true,
      exchange_auto_delete: false,
      queue_durable: true,
    });
    assert.equal(q.exchange?.durable, true);
    assert.equal(q.exchange?.autoDelete, false);
    assert.equal(q.durable, true);
    assert.equal(q.autoDelete, true);
    assert.equal(Queue.fromDict("q").exchange, undefined);
  });

  it("fromDict keeps extra bindings, as Kombu's from_dict does", async () => {
    const channel = new RecordingChannel();
    const q = Queue.fromDict("multi", {
      bindings: [
        binding(new Exchange("a", { type: "topic" }), "a.#"),
        binding(new Exchange("b"), "b"),
      ],
    });
    assert.equal(q.bindings.length, 2);
    await q.bind(channel).declare();
    assert.deepEqual(
      channel.calls.filter((c) => c.method === "queueBind").map((c) => c.args.slice(0, 3)),
      [["multi", "a", "a.#"], ["multi", "b", "b"]],
    );
  });

  it("declares its exchange, itself and its binding, in that order", async () => {
    const channel = new RecordingChannel();
    const declared: unknown[] = [];
    const q = new Queue("video", {
      exchange: new Exchange("media", { type: "topic" }),
      routingKey: "video.*",
      bindingArguments: { k: "v" },
      maxPriority: 5,
      onDeclared: (ok) => declared.push(ok),
    }).bind(channel);
    const ok = await q.declare();
    assert.deepEqual(channel.methods(), ["exchangeDeclare", "queueDeclare", "queueBind"]);
    assert.deepEqual(channel.calls[1].args[0], {
      name: "video",
      durable: true,
      exclusive: false,
      autoDelete: false,
      passive: false,
      arguments: { "x-max-priority": 5 },
    });
    assert.deepEqual(channel.calls[2].args, ["video", "media", "video.*", { k: "v" }]);
    assert.deepEqual(declared, [ok]);
  });

  it("declares every binding made with binding()", async () => {
    const channel = new RecordingChannel();
    const a = new Exchange("a", { type: "fanout" });
    const h = new Exchange("h", { type: "headers" });
    await new Queue("multi", {
      bindings: [
        binding(a),
        binding(h, "", { "x-match": "any", kind: "x" }),
        binding(new Exchange(""), "x"),
      ],
    }).bind(channel).declare();
    assert.deepEqual(channel.methods(), [
      "exchangeDeclare",
      "exchangeDeclare",
      "queueDeclare",
      "queueBind",
      "queueBind",
    ]);
    assert.deepEqual(channel.calls[3].args, ["multi", "a", "", undefined]);
    assert.deepEqual(channel.calls[4].args, ["multi", "h", "", { "x-match": "any", kind: "x" }]);
  });

  it("binds to amq.* exchanges without declaring them, and never binds to the default exchange", async () => {
    const channel = new RecordingChannel();
    await new Queue("q1", { exchange: "amq.direct", routingKey: "k" }).bind(channel).declare();
    await new Queue("q2", { exchange: "", routingKey: "q2" }).bind(channel).declare();
    assert.deepEqual(channel.methods(), ["queueDeclare", "queueBind", "queueDeclare"]);
    assert.deepEqual(channel.calls[1].args, ["q1", "amq.direct", "k", undefined]);
  });

  it("takes the broker's name for a queue declared without one", async () => {
    const channel = new RecordingChannel();
    const q = new Queue("", { exclusive: true });
    const bound = q.bind(channel);
    const ok = await bound.declare();
    assert.equal(ok?.queue, "amq.gen-fake");
    assert.equal(bound.name, "amq.gen-fake");
  });

  it("declares nothing at all with noDeclare (Kombu skips exchange, queue and bindings)", async () => {
    const channel = new RecordingChannel();
    const ok = await new Queue("q", { exchange: "ex", noDeclare: true }).bind(channel).declare();
    assert.equal(ok, undefined);
    assert.deepEqual(channel.calls, []);
  });

  it("rejects with NotBoundError for every broker operation while unbound", async () => {
    const q = new Queue("lonely");
    for (
      const op of [
        () => q.declare(),
        () => q.get(),
        () => q.purge(),
        () => q.delete(),
        () => q.consume(() => {}),
        () => q.cancel("t"),
        () => q.bindTo("e"),
        () => q.unbindFrom("e"),
      ]
    ) {
      // A rejection, not a synchronous throw: `q.purge().catch(...)` must see it.
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => void (promise = op()));
      await assert.rejects(promise!, (error: unknown) => {
        assert.ok(error instanceof NotBoundError);
        assert.match((error as Error).message, /queue "lonely"/);
        return true;
      });
    }
  });

  it("passes noAck, consumer arguments and delete options to the channel", async () => {
    const channel = new RecordingChannel();
    const q = new Queue("q", {
      noAck: true,
      exclusive: true,
      consumerArguments: { "x-priority": 3 },
    }).bind(channel);
    await q.get();
    await q.get({ noAck: false });
    const tag = await q.consume(() => {}, { consumerTag: "mine" });
    await q.cancel(tag);
    await q.purge();
    await q.delete({ ifEmpty: true });
    await q.bindTo(new Exchange("e"), "rk", { a: 1 });
    await q.unbindFrom("e", "rk");
    assert.deepEqual(channel.calls, [
      { method: "basicGet", args: ["q", { noAck: true }] },
      { method: "basicGet", args: ["q", { noAck: false }] },
      {
        method: "basicConsume",
        args: ["q", {
          consumerTag: "mine",
          noAck: true,
          exclusive: true,
          arguments: { "x-priority": 3 },
        }],
      },
      { method: "basicCancel", args: ["mine"] },
      { method: "queuePurge", args: ["q"] },
      { method: "queueDelete", args: ["q", { ifEmpty: true }] },
      { method: "queueBind", args: ["q", "e", "rk", { a: 1 }] },
      { method: "queueUnbind", args: ["q", "e", "rk", undefined] },
    ]);
  });

  it("reads like Kombu's repr", () => {
    assert.equal(
      String(new Queue("video", { exchange: new Exchange("media"), routingKey: "video" })),
      "<Queue video -> <Exchange media(direct)> -> video>",
    );
  });
});

describe("maybeDeclare", () => {
  it("declares once per cache and again after the cache is cleared", async () => {
    const channel = new RecordingChannel();
    const cache = { declaredEntities: new Set<string>() };
    const q = new Queue("cached", { exchange: new Exchange("cx") });
    assert.equal(await maybeDeclare(q, channel, cache), true);
    assert.equal(await maybeDeclare(q, channel, cache), false);
    assert.equal(
      await maybeDeclare(new Queue("cached", { exchange: new Exchange("cx") }), channel, cache),
      false,
    );
    assert.equal(channel.methods().filter((m) => m === "queueDeclare").length, 1);
    cache.declaredEntities.clear();
    assert.equal(await maybeDeclare(q, channel, cache), true);
    assert.equal(channel.methods().filter((m) => m === "queueDeclare").length, 2);
  });

  it("tells declarations apart by their arguments", async () => {
    const channel = new RecordingChannel();
    const cache = { declaredEntities: new Set<string>() };
    await maybeDeclare(new Queue("q", { maxLength: 1 }), channel, cache);
    assert.equal(await maybeDeclare(new Queue("q", { maxLength: 2 }), channel, cache), true);
    await maybeDeclare(new Exchange("e", { type: "direct" }), channel, cache);
    assert.equal(await maybeDeclare(new Exchange("e", { type: "topic" }), channel, cache), true);
    assert.equal(await maybeDeclare(new Exchange("e", { type: "topic" }), channel, cache), false);
  });

  it("declares every time without a cache", async () => {
    const channel = new RecordingChannel();
    const e = new Exchange("always");
    assert.equal(await maybeDeclare(e, channel), true);
    assert.equal(await maybeDeclare(e, channel), true);
    assert.equal(channel.calls.length, 2);
  });

  it("never caches auto-delete or expiring queues (they can vanish), as Kombu", async () => {
    const channel = new RecordingChannel();
    const cache = { declaredEntities: new Set<string>() };
    for (const q of [new Queue("ad", { autoDelete: true }), new Queue("ex", { expires: 1000 })]) {
      assert.equal(await maybeDeclare(q, channel, cache), true);
      assert.equal(await maybeDeclare(q, channel, cache), true);
    }
    const e = new Exchange("ade", { autoDelete: true });
    assert.equal(await maybeDeclare(e, channel, cache), true);
    assert.equal(await maybeDeclare(e, channel, cache), true);
    assert.equal(cache.declaredEntities.size, 0);
  });

  it("declares every queue that waits for a server-made name", async () => {
    const channel = new RecordingChannel();
    const cache = { declaredEntities: new Set<string>() };
    const first = new Queue("");
    const second = new Queue("");
    assert.equal(await maybeDeclare(first, channel, cache), true);
    assert.equal(await maybeDeclare(second, channel, cache), true);
    assert.equal(second.name, "amq.gen-fake");
    assert.equal(channel.methods().filter((m) => m === "queueDeclare").length, 2);
    assert.equal(await maybeDeclare(first, channel, cache), true); // now named: cached from here
    assert.equal(await maybeDeclare(first, channel, cache), false);
  });

  it("does not cache a declaration that failed", async () => {
    const channel = new RecordingChannel();
    const cache = { declaredEntities: new Set<string>() };
    channel.open = false;
    await assert.rejects(maybeDeclare(new Exchange("e"), channel, cache));
    assert.equal(cache.declaredEntities.size, 0);
  });
});

describe("declaration keys (canonical JSON)", () => {
  it("ignore the order of arguments and keep bigints and bytes apart", () => {
    const a = new Queue("k", { queueArguments: { "x-a": 1, "x-b": { c: 2, d: 3 } } });
    const b = new Queue("k", { queueArguments: { "x-b": { d: 3, c: 2 }, "x-a": 1 } });
    assert.equal(a.declarationKey, b.declarationKey);
    const big = new Queue("k", { queueArguments: { "x-a": 1n } });
    const text = new Queue("k", { queueArguments: { "x-a": "1" } });
    assert.notEqual(big.declarationKey, text.declarationKey);
    const e1 = new Exchange("e", { arguments: { z: new Uint8Array([1, 2]), y: true } });
    const e2 = new Exchange("e", { arguments: { y: true, z: new Uint8Array([1, 2]) } });
    assert.equal(e1.declarationKey, e2.declarationKey);
  });
});
