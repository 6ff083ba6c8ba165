/**
 * The amqplib fallback transport against the local RabbitMQ: the Channel seam mapped onto
 * amqplib's promise API, with errors translated to wakame's classes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { type Body, bodyText } from "../../../src/body.ts";
import { AmqplibTransport } from "../../../transports/amqplib/mod.ts";
import type {
  Channel,
  ConnectionParams,
  Delivery,
  ReturnedMessage,
  TransportConnection,
} from "../../../src/transport.ts";
import {
  ChannelError,
  ConnectionError,
  NotFoundError,
  PreconditionFailedError,
} from "../../../src/errors.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));

let counter = 0;
function unique(prefix: string): string {
  return `wk-amqplib-${prefix}-${Date.now().toString(36)}-${(++counter).toString(36)}`;
}

function params(overrides: Partial<ConnectionParams> = {}): ConnectionParams {
  return {
    transport: "amqplib",
    hostname: "127.0.0.1",
    port: 5672,
    userid: "guest",
    password: "guest",
    virtualHost: "/",
    url: "amqplib://guest:guest@127.0.0.1:5672//",
    ssl: false,
    heartbeat: 0,
    connectTimeout: 4000,
    transportOptions: {},
    ...overrides,
  };
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const read = (b: Body): string => bodyText(b);

/** Collects deliveries; `next()` waits (bounded) for the next one. */
function collector(): {
  onDelivery(d: Delivery): void;
  next(): Promise<Delivery>;
} {
  const queued: Delivery[] = [];
  const waiting: ((d: Delivery) => void)[] = [];
  return {
    onDelivery(delivery) {
      const waiter = waiting.shift();
      if (waiter) waiter(delivery);
      else queued.push(delivery);
    },
    next() {
      const ready = queued.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no delivery within 5 s")), 5000);
        waiting.push((delivery) => {
          clearTimeout(timer);
          resolve(delivery);
        });
      });
    },
  };
}

/** Resolves with the value a callback is called with (bounded wait). */
function once<T>(): { callback(value: T): void; value: Promise<T> } {
  let callback!: (value: T) => void;
  const value = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("callback not called within 5 s")), 5000);
    callback = (v) => {
      clearTimeout(timer);
      resolve(v);
    };
  });
  return { callback, value };
}

describe("amqplib transport (RabbitMQ)", () => {
  let connection: TransportConnection;
  let channel: Channel;
  const queues: string[] = [];
  const exchanges: string[] = [];

  before(async () => {
    if (skip.reason) return;
    connection = await AmqplibTransport.connect(params());
    channel = await connection.createChannel();
  });

  after(async () => {
    if (skip.reason) return;
    const cleaner = await connection.createChannel();
    for (const queue of queues) await cleaner.queueDelete(queue).catch(() => undefined);
    for (const exchange of exchanges) await cleaner.exchangeDelete(exchange).catch(() => undefined);
    await connection.close();
    assert.equal(await connection.closed, undefined);
  });

  async function freshChannel(): Promise<Channel> {
    return await connection.createChannel();
  }

  async function declareQueue(ch: Channel, prefix: string, args = {}): Promise<string> {
    const name = unique(prefix);
    queues.push(name);
    await ch.queueDeclare({ name, arguments: args });
    return name;
  }

  it("states its capabilities", skip.options(), () => {
    assert.equal(AmqplibTransport.name, "amqplib");
    assert.deepEqual([...AmqplibTransport.capabilities.exchangeTypes], [
      "direct",
      "topic",
      "fanout",
      "headers",
    ]);
    assert.equal(AmqplibTransport.capabilities.priority, "native");
    assert.equal(AmqplibTransport.capabilities.confirms, true);
  });

  it("declares, binds, publishes and gets with Kombu's properties", skip.options(), async () => {
    const exchange = unique("ex");
    exchanges.push(exchange);
    await channel.exchangeDeclare({ name: exchange, type: "direct" });
    const queue = await declareQueue(channel, "get");
    await channel.queueBind(queue, exchange, "video");
    const when = new Date(Math.floor(Date.now() / 1000) * 1000);
    await channel.basicPublish(exchange, "video", {
      body: text("hello"),
      properties: {
        contentType: "application/json",
        contentEncoding: "utf-8",
        headers: {
          compression: "application/x-gzip",
          nested: { list: [1, "two", true] },
          bytes: new Uint8Array([1, 2, 3]),
          when,
          big: 2n ** 40n,
          nothing: null,
        },
        correlationId: "c-1",
        replyTo: "replies",
        expiration: "60000",
        messageId: "m-1",
        timestamp: 1700000000,
        type: "task",
        appId: "wakame",
      },
    });
    const delivery = await channel.basicGet(queue);
    assert.ok(delivery !== undefined);
    assert.equal(read(delivery.body), "hello");
    assert.equal(delivery.exchange, exchange);
    assert.equal(delivery.routingKey, "video");
    assert.equal(delivery.redelivered, false);
    assert.equal(delivery.messageCount, 0);
    const p = delivery.properties;
    assert.equal(p.priority, 0, "priority is always sent (default 0)");
    assert.equal(p.deliveryMode, 2, "delivery mode is always sent (default persistent)");
    assert.equal(p.contentType, "application/json");
    assert.equal(p.contentEncoding, "utf-8");
    assert.equal(p.correlationId, "c-1");
    assert.equal(p.replyTo, "replies");
    assert.equal(p.expiration, "60000");
    assert.equal(p.messageId, "m-1");
    assert.equal(p.timestamp, 1700000000);
    assert.equal(p.type, "task");
    assert.equal(p.appId, "wakame");
    assert.deepEqual(p.headers, {
      compression: "application/x-gzip",
      nested: { list: [1, "two", true] },
      bytes: new Uint8Array([1, 2, 3]),
      when,
      big: 2 ** 40,
      nothing: null,
    });
    assert.equal(Object.getPrototypeOf(delivery.body), Uint8Array.prototype, "no Buffer leaks out");
    await channel.basicAck(delivery.deliveryTag);
    assert.equal(await channel.basicGet(queue), undefined);
  });

  it("consumes, acks, rejects with and without requeue", skip.options(), async () => {
    const ch = await freshChannel();
    const queue = await declareQueue(ch, "consume");
    const got = collector();
    const tag = await ch.basicConsume(queue, {}, got);
    assert.ok(tag.length > 0);
    await ch.basicPublish("", queue, { body: text("one"), properties: {} });
    const first = await got.next();
    assert.equal(read(first.body), "one");
    assert.equal(first.consumerTag, tag);
    await ch.basicReject(first.deliveryTag, true);
    const again = await got.next();
    assert.equal(read(again.body), "one");
    assert.equal(again.redelivered, true);
    await ch.basicReject(again.deliveryTag, false);
    await ch.basicPublish("", queue, { body: text("two"), properties: {} });
    const second = await got.next();
    await ch.basicAck(second.deliveryTag);
    await ch.basicCancel(tag);
    assert.equal(await ch.basicGet(queue), undefined, "rejected without requeue and acked: empty");
    await ch.close();
    assert.equal(ch.isOpen, false);
  });

  it(
    "requeues unacknowledged deliveries with basicRecover and honours basicQos",
    skip.options(),
    async () => {
      const ch = await freshChannel();
      await ch.basicQos({ prefetchCount: 1, global: true });
      const queue = await declareQueue(ch, "recover");
      for (const body of ["a", "b"]) {
        await ch.basicPublish("", queue, { body: text(body), properties: {} });
      }
      const got = collector();
      await ch.basicConsume(queue, {}, got);
      const first = await got.next();
      assert.equal(read(first.body), "a");
      await ch.basicRecover(true);
      // RabbitMQ does not promise that the recovered message comes before the next one: take
      // both, in whatever order, and check that "a" came back marked redelivered.
      const both: Delivery[] = [];
      for (let i = 0; i < 2; i++) {
        const delivery = await got.next();
        both.push(delivery);
        await ch.basicAck(delivery.deliveryTag);
      }
      assert.deepEqual(both.map((d) => read(d.body)).sort(), ["a", "b"]);
      assert.equal(both.find((d) => read(d.body) === "a")?.redelivered, true);
      await assert.rejects(ch.basicRecover(false), ChannelError);
      await assert.rejects(ch.basicQos({ prefetchCount: 1, prefetchSize: 10 }), ChannelError);
      await ch.close();
    },
  );

  it("gives server-named queues for an empty name", skip.options(), async () => {
    const ok = await channel.queueDeclare({ name: "", exclusive: true, autoDelete: true });
    assert.match(ok.queue, /^amq\.gen-/);
    queues.push(ok.queue);
    const again = await channel.queueDeclare({ name: ok.queue, passive: true });
    assert.equal(again.queue, ok.queue);
    assert.equal(again.messageCount, 0);
  });

  it(
    "turns a 404 on a passive declare into NotFoundError and closes only that channel",
    skip.options(),
    async () => {
      const ch = await freshChannel();
      const missing = unique("missing");
      await assert.rejects(ch.queueDeclare({ name: missing, passive: true }), (error: unknown) => {
        assert.ok(error instanceof NotFoundError);
        assert.equal(error.replyCode, 404);
        assert.equal(error.classId, 50);
        assert.equal(error.methodId, 10);
        assert.match(error.message, new RegExp(`^Cannot declare queue "${missing}": NOT_FOUND`));
        return true;
      });
      assert.equal(ch.isOpen, false);
      await assert.rejects(ch.queuePurge(missing), ChannelError);
      await assert.rejects(
        ch.exchangeDeclare({ name: unique("nope"), type: "direct", passive: true }),
        ChannelError,
      );
      const other = await freshChannel();
      await assert.rejects(
        other.exchangeDeclare({ name: unique("missing-ex"), type: "topic", passive: true }),
        NotFoundError,
      );
      assert.equal(channel.isOpen, true, "other channels stay open");
      const still = await declareQueue(channel, "alive");
      assert.equal((await channel.queueDeclare({ name: still, passive: true })).queue, still);
    },
  );

  it(
    "turns a redeclare with other arguments into PreconditionFailedError",
    skip.options(),
    async () => {
      const ch = await freshChannel();
      const queue = await declareQueue(ch, "precondition", { "x-max-priority": 5 });
      await assert.rejects(
        ch.queueDeclare({ name: queue, arguments: { "x-max-priority": 9 } }),
        (error: unknown) => {
          assert.ok(error instanceof PreconditionFailedError);
          assert.equal(error.replyCode, 406);
          return true;
        },
      );
      assert.equal(ch.isOpen, false);
    },
  );

  it("resolves confirmed publishes after confirmSelect and keeps qos", skip.options(), async () => {
    const ch = await freshChannel();
    await ch.basicQos({ prefetchCount: 3 });
    await ch.confirmSelect!();
    await ch.confirmSelect!();
    const queue = await declareQueue(ch, "confirm");
    await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) => ch.basicPublish("", queue, { body: text(`m${i}`), properties: {} }),
      ),
    );
    const ok = await ch.queueDeclare({ name: queue, passive: true });
    assert.equal(ok.messageCount, 50, "every confirmed message is in the queue");
    const got = collector();
    await ch.basicConsume(queue, {}, got);
    const first = await got.next();
    assert.equal(read(first.body), "m0");
    await ch.close();
  });

  it("refuses confirmSelect once consumers use the channel", skip.options(), async () => {
    const ch = await freshChannel();
    const queue = await declareQueue(ch, "late-confirm");
    await ch.basicConsume(queue, {}, collector());
    await assert.rejects(ch.confirmSelect!(), ChannelError);
    assert.equal(ch.isOpen, true, "refusing does not close the channel");
    await ch.close();
  });

  it("opens confirm channels with transportOptions.confirmPublish", skip.options(), async () => {
    const confirming = await AmqplibTransport.connect(
      params({ transportOptions: { confirmPublish: true } }),
    );
    try {
      const ch = await confirming.createChannel();
      const queue = await declareQueue(ch, "confirm-option");
      await ch.basicPublish("", queue, { body: text("x"), properties: {} });
      assert.equal((await ch.queueDeclare({ name: queue, passive: true })).messageCount, 1);
    } finally {
      await confirming.close();
    }
  });

  it("returns unroutable mandatory messages through onReturn", skip.options(), async () => {
    const ch = await freshChannel();
    const exchange = unique("unroutable");
    exchanges.push(exchange);
    await ch.exchangeDeclare({ name: exchange, type: "topic" });
    const returned = once<ReturnedMessage>();
    ch.onReturn = returned.callback;
    await ch.basicPublish(exchange, "no.route", {
      body: text("lost"),
      properties: { headers: { a: 1 } },
    }, { mandatory: true });
    const message = await returned.value;
    assert.equal(message.replyCode, 312);
    assert.equal(message.replyText, "NO_ROUTE");
    assert.equal(message.exchange, exchange);
    assert.equal(message.routingKey, "no.route");
    assert.equal(read(message.body), "lost");
    assert.deepEqual(message.properties.headers, { a: 1 });
    await ch.close();
  });

  it(
    "calls onCancel when the broker cancels the consumer (queue deleted)",
    skip.options(),
    async () => {
      const ch = await freshChannel();
      const queue = await declareQueue(ch, "cancelled");
      const cancelled = once<string>();
      const tag = await ch.basicConsume(queue, {}, {
        onDelivery: () => undefined,
        onCancel: cancelled.callback,
      });
      await channel.queueDelete(queue);
      assert.equal(await cancelled.value, tag);
      assert.equal(ch.isOpen, true);
      await ch.close();
    },
  );

  it("cancels the consumers of a channel the broker closes", skip.options(), async () => {
    const ch = await freshChannel();
    const queue = await declareQueue(ch, "closed-under");
    const cancelled = once<string>();
    const tag = await ch.basicConsume(queue, {}, {
      onDelivery: () => undefined,
      onCancel: cancelled.callback,
    });
    await assert.rejects(ch.queueDeclare({ name: unique("absent"), passive: true }), NotFoundError);
    assert.equal(await cancelled.value, tag);
  });

  it("routes through exchange-to-exchange bindings and unbinds them", skip.options(), async () => {
    const ch = await freshChannel();
    const source = unique("src");
    const destination = unique("dst");
    exchanges.push(source, destination);
    await ch.exchangeDeclare({ name: source, type: "fanout" });
    await ch.exchangeDeclare({ name: destination, type: "direct" });
    await ch.exchangeBind!(destination, source, "");
    const queue = await declareQueue(ch, "e2e");
    await ch.queueBind(queue, destination, "k");
    // Confirms make the counts below exact: a confirmed message is in its queue.
    await ch.confirmSelect!();
    await ch.basicPublish(source, "k", { body: text("via"), properties: {} });
    const ok = await ch.queueDeclare({ name: queue, passive: true });
    assert.equal(ok.messageCount, 1);
    const delivery = await ch.basicGet(queue, { noAck: true });
    assert.equal(read(delivery!.body), "via");
    await ch.exchangeUnbind!(destination, source, "");
    await ch.queueUnbind(queue, destination, "k");
    await ch.basicPublish(source, "k", { body: text("dropped"), properties: {} });
    assert.equal(await ch.basicGet(queue), undefined);
    assert.equal(await ch.queuePurge(queue), 0);
    await ch.basicPublish("", queue, { body: text("p"), properties: {} });
    assert.equal(await ch.queuePurge(queue), 1);
    await ch.basicPublish("", queue, { body: text("d"), properties: {} });
    assert.equal(await ch.queueDelete(queue), 1);
    await ch.exchangeDelete(destination);
    await assert.rejects(
      ch.exchangeDeclare({ name: destination, type: "direct", passive: true }),
      NotFoundError,
    );
  });

  it(
    "waits for drain when amqplib's write buffer is full and loses nothing",
    skip.options(),
    async () => {
      const ch = await freshChannel();
      const queue = await declareQueue(ch, "drain");
      // 3000 publishes in one turn overflow amqplib's 1024-frame buffer: later ones wait for drain.
      await Promise.all(
        Array.from(
          { length: 3000 },
          (_, i) => ch.basicPublish("", queue, { body: text(String(i)), properties: {} }),
        ),
      );
      await ch.confirmSelect!();
      await ch.basicPublish("", queue, { body: text("last"), properties: {} });
      assert.equal((await ch.queueDeclare({ name: queue, passive: true })).messageCount, 3001);
      await ch.close();
    },
  );

  it(
    "delivers every resolved publish when the connection closes right after",
    skip.options(),
    async () => {
      const queue = unique("flush");
      queues.push(queue);
      const publisher = await AmqplibTransport.connect(params());
      const ch = await publisher.createChannel();
      await ch.queueDeclare({ name: queue });
      // Without confirms a publish resolves once amqplib has it; close() must still send it.
      await Promise.all(
        Array.from(
          { length: 500 },
          (_, i) => ch.basicPublish("", queue, { body: text(String(i)), properties: {} }),
        ),
      );
      await publisher.close();
      assert.equal(await publisher.closed, undefined);
      assert.equal(ch.isOpen, false);
      // The broker routes what a closed connection sent a moment later: ask until all are queued
      // (a lost publish leaves the count short, and the assertion fails after the deadline).
      let count = 0;
      for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
        count = (await channel.queueDeclare({ name: queue, passive: true })).messageCount;
        if (count === 500) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(count, 500);
    },
  );

  it(
    "reports a connection-level refusal as ConnectionError and resolves `closed`",
    skip.options(),
    async () => {
      const victim = await AmqplibTransport.connect(params());
      const ch = await victim.createChannel();
      await assert.rejects(
        // An unknown exchange type is a connection error (503 COMMAND_INVALID) on RabbitMQ.
        ch.exchangeDeclare({ name: unique("bad-type"), type: "x-no-such-type" as "direct" }),
        ConnectionError,
      );
      const reason = await victim.closed;
      assert.ok(reason instanceof ConnectionError);
      assert.equal(reason.replyCode, 503);
      assert.equal(ch.isOpen, false);
      await assert.rejects(
        ch.basicPublish("", "q", { body: text("x"), properties: {} }),
        ConnectionError,
      );
      await assert.rejects(victim.createChannel(), ConnectionError);
      await victim.close();
    },
  );

  it(
    "fails to connect with ConnectionError: bad password (not echoed), unknown vhost, abort",
    skip.options(),
    async () => {
      await assert.rejects(
        AmqplibTransport.connect(params({ password: "not-the-password-xyzzy" })),
        (error: unknown) => {
          assert.ok(error instanceof ConnectionError);
          assert.ok(!error.message.includes("xyzzy"), "the password never shows");
          return true;
        },
      );
      await assert.rejects(
        AmqplibTransport.connect(params({ virtualHost: "wakame/none" })),
        (error: unknown) => {
          assert.ok(error instanceof ConnectionError);
          assert.match(error.message, /wakame%2Fnone/);
          return true;
        },
      );
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(
        AmqplibTransport.connect(params({ signal: controller.signal })),
        ConnectionError,
      );
    },
  );
});
