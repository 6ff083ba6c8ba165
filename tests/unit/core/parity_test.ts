/**
 * Kombu's API that users call, on memory:// (Kombu's own test expectations where it has them):
 * `Queue.get` returning a decoded `Message`, ...
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { Exchange, maybeDeclare, Queue } from "../../../src/entity.ts";
import {
  ConfigurationError,
  ConnectionError,
  ContentDisallowedError,
  NotBoundError,
  TimeoutError,
} from "../../../src/errors.ts";
import { Producer } from "../../../src/producer.ts";
import { Message } from "../../../src/message.ts";
import { asUrl, parseUrl } from "../../../src/url.ts";
import type { Channel } from "../../../src/transport.ts";
import { FlakyTransport, RecordingChannel, uniqueVhost } from "./_fakes.ts";

function memory(): Connection {
  return new Connection(`memory:///${uniqueVhost("parity")}`);
}

describe("Queue.get (Kombu's Queue.get returns a Message)", () => {
  it("returns a decoded Message, and undefined when empty", async () => {
    await using conn = memory();
    const queue = new Queue("get-decoded");
    await conn.producer().publish({ a: 1 }, { routingKey: queue.name, declare: [queue] });
    const bound = queue.bind(await conn.defaultChannel());
    const message = await bound.get();
    assert.ok(message instanceof Message);
    assert.deepEqual(message.payload, { a: 1 });
    assert.equal(message.deliveryInfo.routingKey, "get-decoded");
    await message.ack();
    assert.equal(await bound.get(), undefined);
  });

  it("checks accept: a refused type still comes back, its decode() throws", async () => {
    await using conn = memory();
    const queue = new Queue("get-accept");
    await conn.producer().publish("hi", {
      routingKey: queue.name,
      declare: [queue],
      serializer: "text",
    });
    await conn.producer().publish("hi", {
      routingKey: queue.name,
      serializer: "text",
    });
    const bound = queue.bind(await conn.defaultChannel());
    const refused = await bound.get({ accept: ["json"] });
    assert.ok(refused);
    await assert.rejects(refused.decode(), ContentDisallowedError);
    await refused.reject();
    const allowed = await bound.get({ accept: ["json", "text/plain"] });
    assert.equal(allowed?.payload, "hi");
    await allowed?.ack();
  });

  it("rejects with NotBoundError while unbound", async () => {
    await assert.rejects(new Queue("q").get(), NotBoundError);
  });
});

describe("Consumer.consumingFrom, purge and flow (Kombu's)", () => {
  it("consumingFrom says which queues are consumed", async () => {
    await using conn = memory();
    const a = new Queue("from-a");
    await using consumer = conn.consumer([a]);
    assert.equal(consumer.consumingFrom(a), false);
    await consumer.consume();
    assert.equal(consumer.consumingFrom(a), true);
    assert.equal(consumer.consumingFrom("from-a"), true);
    assert.equal(consumer.consumingFrom("from-b"), false);
    await consumer.addQueue("from-b");
    assert.equal(consumer.consumingFrom("from-b"), true);
    await consumer.cancelByQueue("from-a");
    assert.equal(consumer.consumingFrom(a), false);
  });

  it("purge removes the ready messages of every queue and counts them", async () => {
    await using conn = memory();
    const a = new Queue("purge-a");
    const b = new Queue("purge-b");
    const producer = conn.producer();
    await producer.publish(1, { routingKey: a.name, declare: [a, b] });
    await producer.publish(2, { routingKey: a.name });
    await producer.publish(3, { routingKey: b.name });
    await using consumer = conn.consumer([a, b]);
    assert.equal(await consumer.purge(), 3);
    assert.equal(await consumer.purge(), 0);
  });

  it("flow(false) pauses deliveries and flow(true) resumes them", async () => {
    await using conn = memory();
    const queue = new Queue("flow-q");
    const seen: unknown[] = [];
    await using consumer = conn.consumer([queue], {
      callbacks: [async (body, message) => {
        seen.push(body);
        await message.ack();
      }],
    });
    await consumer.consume();
    await consumer.flow(false);
    assert.equal(consumer.consumingFrom(queue), true);
    await conn.producer().publish("held", { routingKey: queue.name });
    const channel = await conn.defaultChannel();
    // Not delivered: still ready in the queue (asked, not slept on).
    assert.equal((await channel.queueDeclare({ name: queue.name, passive: true })).messageCount, 1);
    await consumer.flow(true);
    await conn.drainEvents({ timeout: 1000 });
    await consumer.idle();
    assert.deepEqual(seen, ["held"]);
  });
});

describe("Connection.info and asUrl (Kombu's info() and as_url)", () => {
  it("info() resolves the current URL, the password masked, the default port filled in", async () => {
    const conn = new Connection("amqp://user:s3cret@broker.example//;amqp://other:x@b2:5673/v", {
      heartbeat: 10_000,
      transportOptions: { confirmPublish: true },
    });
    const info = await conn.info();
    assert.equal(info.transport, "amqp");
    assert.equal(info.hostname, "broker.example");
    assert.equal(info.port, 5672);
    assert.equal(info.userid, "user");
    assert.equal(info.password, "**");
    assert.equal(info.virtualHost, "/");
    assert.equal(info.heartbeat, 10_000);
    assert.equal(info.ssl, false);
    assert.equal(info.failoverStrategy, "round-robin");
    assert.deepEqual(info.transportOptions, { confirmPublish: true });
    assert.deepEqual(info.alternates, [
      "amqp://user:**@broker.example//",
      "amqp://other:**@b2:5673/v",
    ]);
    assert.ok(!JSON.stringify(info).includes("s3cret"));
    assert.equal(conn.connected, false);
    await conn.close();
  });

  it("info() on memory:// names the transport and no password", async () => {
    await using conn = memory();
    const info = await conn.info();
    assert.equal(info.transport, "memory");
    assert.equal(info.password, undefined);
    assert.equal(info.hostname, "localhost");
  });

  it("asUrl builds what parseUrl reads, and masks with sanitize", () => {
    const parts = {
      scheme: "amqp",
      hostname: "h",
      port: 5672,
      userid: "us er",
      password: "p@s/s:w",
      virtualHost: "/",
      query: {},
    };
    const url = asUrl(parts);
    assert.equal(url, "amqp://us%20er:p%40s%2Fs%3Aw@h:5672//");
    assert.deepEqual(parseUrl(url), parts);
    assert.equal(asUrl(parts, { sanitize: true }), "amqp://us%20er:**@h:5672//");
    assert.equal(asUrl(parts, { sanitize: true, mask: "" }), "amqp://us%20er:@h:5672//");
    // Kombu's as_url: no user info without a user or password, no port 0, the path as given.
    assert.equal(asUrl({ scheme: "redis", hostname: "localhost" }), "redis://localhost/");
    assert.equal(
      asUrl({ scheme: "redis", hostname: "::1", port: 6379, virtualHost: "0" }),
      "redis://[::1]:6379/0",
    );
    assert.equal(
      asUrl({ scheme: "amqp", hostname: "h", query: { heartbeat: "10" } }),
      "amqp://h/?heartbeat=10",
    );
  });
});

describe("Exchange / Queue equals and asDict (Kombu's __eq__ and as_dict)", () => {
  it("Exchange.equals compares name, type, arguments, flags and delivery mode", () => {
    const e = new Exchange("e", { type: "topic", arguments: { a: 1, b: 2 } });
    assert.ok(e.equals(new Exchange("e", { type: "topic", arguments: { b: 2, a: 1 } })));
    assert.ok(e.equals(e.bind(new RecordingChannel())));
    assert.ok(!e.equals(new Exchange("e", { type: "direct", arguments: { a: 1, b: 2 } })));
    assert.ok(!e.equals(new Exchange("e", { type: "topic", arguments: { a: 1 } })));
    assert.ok(
      !e.equals(new Exchange("e", { type: "topic", arguments: { a: 1, b: 2 }, durable: false })),
    );
    assert.ok(
      !e.equals(new Exchange("e", { type: "topic", arguments: { a: 1, b: 2 }, deliveryMode: 1 })),
    );
    assert.ok(!e.equals(undefined));
    const d = e.asDict();
    assert.equal(d.name, "e");
    assert.equal(d.type, "topic");
    assert.ok(new Exchange(d.name, d).equals(e));
  });

  it("Queue.equals compares name, exchange, key, arguments and flags", () => {
    const make = (o: ConstructorParameters<typeof Queue>[1] = {}) =>
      new Queue("q", { exchange: new Exchange("e"), routingKey: "rk", messageTtl: 1500, ...o });
    const q = make();
    assert.ok(q.equals(make()));
    assert.ok(q.equals(q.bind(new RecordingChannel())));
    assert.ok(!q.equals(make({ routingKey: "other" })));
    assert.ok(!q.equals(make({ exchange: new Exchange("e", { type: "fanout" }) })));
    assert.ok(!q.equals(make({ exchange: undefined })));
    assert.ok(!q.equals(make({ messageTtl: 1000 })));
    assert.ok(!q.equals(make({ autoDelete: true })));
    assert.ok(!q.equals(make({ consumerArguments: { "x-priority": 1 } })));
    assert.ok(!q.equals(new Queue("other", q.options)));
  });

  it("Queue.asDict gives the options back, recursing into the exchange on request", () => {
    const q = new Queue("q", {
      exchange: new Exchange("e", { type: "topic" }),
      routingKey: "a.#",
      messageTtl: 1500,
      queueArguments: { "x-queue-type": "classic" },
    });
    const d = q.asDict();
    assert.equal(d.name, "q");
    assert.equal(d.routingKey, "a.#");
    assert.equal(d.messageTtl, 1500);
    assert.equal(d.durable, true);
    assert.ok(d.exchange instanceof Exchange);
    assert.ok(new Queue(d.name, { ...d, exchange: q.exchange }).equals(q));
    assert.deepEqual(q.asDict(true).exchange, {
      name: "e",
      type: "topic",
      durable: true,
      autoDelete: false,
      internal: false,
      passive: false,
      noDeclare: false,
      arguments: {},
      deliveryMode: 2,
    });
  });
});

describe("maybeDeclare({ retry }) (Kombu's maybe_declare(retry=True))", () => {
  it("reconnects and declares again on the new default channel", async () => {
    const conn = new Connection(`flaky://h/${uniqueVhost("declare")}`, {
      transport: new FlakyTransport(),
    });
    const first = await conn.defaultChannel();
    const channels: Channel[] = [];
    const entity = {
      declarationKey: "queue:retry-q:[]",
      declareOn(channel: Channel): Promise<void> {
        channels.push(channel);
        return channels.length === 1
          ? Promise.reject(new ConnectionError("broken pipe"))
          : Promise.resolve();
      },
    };
    const policy = { intervalStart: 0, intervalStep: 0, intervalMax: 0 };
    assert.equal(
      await maybeDeclare(entity, first, conn, { retry: true, retryPolicy: policy }),
      true,
    );
    assert.equal(channels.length, 2);
    assert.equal(channels[0], first);
    assert.notEqual(channels[1], first);
    assert.equal(channels[1], await conn.defaultChannel());
    // Cached on the new connection.
    assert.equal(await maybeDeclare(entity, channels[1], conn, { retry: true }), false);
    // Retrying needs the connection: a plain cache cannot reconnect.
    await assert.rejects(
      maybeDeclare(entity, first, { declaredEntities: new Set() }, { retry: true }),
      ConfigurationError,
    );
    await conn.close();
  });

  it("without retry, a failure is the caller's", async () => {
    await using conn = memory();
    const entity = {
      declarationKey: "queue:fails:[]",
      declareOn: () => Promise.reject(new ConnectionError("broken pipe")),
    };
    await assert.rejects(maybeDeclare(entity, await conn.defaultChannel(), conn), ConnectionError);
  });
});

/** A channel that takes messages but never confirms them (a broker that went quiet). */
class SilentChannel extends RecordingChannel {
  override basicPublish(): Promise<void> {
    return new Promise<void>(() => {});
  }
}

describe("publish({ timeout, confirmTimeout }) (Kombu's timeout and confirm_timeout)", () => {
  it("rejects with TimeoutError when the channel does not confirm in time", async () => {
    const producer = new Producer(new SilentChannel());
    const started = Date.now();
    await assert.rejects(
      producer.publish({ a: 1 }, { routingKey: "q", confirmTimeout: 30 }),
      (error: unknown) => {
        assert.ok(error instanceof TimeoutError);
        assert.match((error as Error).message, /not confirmed within 30 ms/);
        return true;
      },
    );
    await assert.rejects(
      producer.publish({ a: 1 }, { routingKey: "q", timeout: 30 }),
      /no answer within 30 ms/,
    );
    assert.ok(Date.now() - started < 2000);
  });

  it("timeout covers retries too; a prompt publish is not affected", async () => {
    const channel = new RecordingChannel();
    const producer = new Producer(channel);
    await producer.publish("fast", { routingKey: "q", timeout: 1000, confirmTimeout: 1000 });
    assert.equal(channel.published.length, 1);
    const conn = new Connection(`flaky://h/${uniqueVhost("timeout")}`, {
      transport: new FlakyTransport(1_000_000),
    });
    await assert.rejects(
      conn.producer().publish("never", {
        routingKey: "q",
        retry: true,
        retryPolicy: { maxRetries: Infinity, intervalStart: 5, intervalStep: 0, intervalMax: 5 },
        timeout: 50,
      }),
      TimeoutError,
    );
    await conn.close();
  });
});

describe("exchange types beyond the four", () => {
  it("takes x-... types; refuses a typo at once and an x- type on a transport without them", async () => {
    const delayed = new Exchange("delayed", {
      type: "x-delayed-message",
      arguments: { "x-delayed-type": "direct" },
    });
    assert.equal(delayed.type, "x-delayed-message");
    assert.throws(
      () => new Exchange("e", { type: "topics" as "topic" }),
      /unknown type "topics"/,
    );
    // A channel without anyExchangeType: refused before the channel is asked.
    const channel = new RecordingChannel();
    await assert.rejects(delayed.declareOn(channel), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match((error as Error).message, /exchange "delayed" of type "x-delayed-message"/);
      return true;
    });
    assert.deepEqual(channel.calls, []);
    await using conn = memory();
    const queue = new Queue("delayed-q", { exchange: delayed, routingKey: "k" });
    await assert.rejects(
      conn.producer().publish(1, { exchange: delayed, routingKey: "k", declare: [queue] }),
      ConfigurationError,
    );
  });
});
