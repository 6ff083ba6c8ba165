/**
 * The native AMQP transport against a scripted broker on loopback: malformed input ends the
 * connection with a ProtocolError and rejects every pending call (never a crash or a hang);
 * server closes, channel errors, confirms, cancel notifications, heartbeats, blocked events.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AccessRefusedError,
  ChannelError,
  ConnectionError,
  NotFoundError,
  ProtocolError,
} from "../../../src/errors.ts";
import type { TransportEvent } from "../../../src/transport.ts";
import { type AmqpConnection, AmqpTransport } from "../../../transports/amqp/mod.ts";
import { METHODS } from "../../../transports/amqp/codec/methods.ts";
import { FakeBroker, type FakeBrokerOptions, type FakeClient } from "./_fake_broker.ts";
import { params } from "./_params.ts";
import { bodyText } from "../../../mod.ts";

const enc = new TextEncoder();

async function open(
  broker: FakeBroker,
  options: { heartbeat?: number; maxMessageSize?: number } = {},
): Promise<{ conn: AmqpConnection; client: FakeClient }> {
  const client = broker.client();
  const conn = await AmqpTransport.connect(
    params({
      port: broker.port,
      heartbeat: options.heartbeat ?? 0,
      transportOptions: { maxMessageSize: options.maxMessageSize },
    }),
  ) as AmqpConnection;
  return { conn, client: await client };
}

async function withBroker(
  options: FakeBrokerOptions,
  fn: (broker: FakeBroker) => Promise<void>,
): Promise<void> {
  const broker = await FakeBroker.start(options);
  try {
    await fn(broker);
  } finally {
    await broker.close();
  }
}

function frame(type: number, channel: number, payload: number[], end = 0xce): Uint8Array {
  const n = payload.length;
  return new Uint8Array([
    type,
    channel >> 8,
    channel & 255,
    0,
    0,
    n >> 8,
    n & 255,
    ...payload,
    end,
  ]);
}

/** Injects bad bytes while a call is pending; checks the outcome. */
async function expectProtocolFailure(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await withBroker({}, async (broker) => {
    const { conn, client } = await open(broker);
    const ch = await conn.createChannel();
    client.onMethod = (r) => r.method === "queue.declare"; // never answer
    const pending = ch.queueDeclare({ name: "q" });
    await client.next("queue.declare");
    client.send(bytes);
    const rejected = assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.ok((e as ConnectionError).cause instanceof ProtocolError);
      return true;
    });
    const closed = await conn.closed;
    assert.ok(closed instanceof ProtocolError, `closed with ${closed}`);
    assert.match(closed.message, pattern);
    await rejected;
    assert.equal(ch.isOpen, false);
    await assert.rejects(ch.queueDeclare({ name: "again" }), ConnectionError);
    await conn.close();
  });
}

describe("AMQP transport on malformed input (fake broker)", () => {
  it("fails on a bad frame end", async () => {
    await expectProtocolFailure(frame(1, 1, [0, 50, 0, 11], 0x00), /bad frame end/);
  });

  it("fails on a size over frame_max before the payload arrives", async () => {
    // Only the 7-byte header: the client must not wait for (or buffer) the 1 GiB payload.
    await expectProtocolFailure(new Uint8Array([3, 0, 1, 0x40, 0, 0, 0]), /exceeds frame_max/);
  });

  it("fails on an unknown frame type", async () => {
    await expectProtocolFailure(frame(9, 1, []), /unknown frame type 9/);
  });

  it("fails on a heartbeat on a channel other than 0", async () => {
    await expectProtocolFailure(frame(8, 1, []), /heartbeat on channel 1/);
  });

  it("fails on a body before its header", async () => {
    await expectProtocolFailure(frame(3, 1, [1, 2, 3]), /before its header/);
  });

  it("fails on a content header without a content method", async () => {
    await expectProtocolFailure(
      frame(2, 1, [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]),
      /without a content method/,
    );
  });

  it("fails on a frame for a channel that is not open", async () => {
    await expectProtocolFailure(frame(1, 9, [0, 20, 0, 11, 0, 0, 0, 0]), /channel 9 is not open/);
  });

  it("fails on an unknown method", async () => {
    await expectProtocolFailure(frame(1, 1, [0, 60, 0, 99]), /unknown method 60.99/);
  });

  it("fails on a reply nobody asked for", async () => {
    await expectProtocolFailure(
      frame(1, 1, [0, 50, 0, 31, 0, 0, 0, 0]),
      /unexpected queue.purge-ok/,
    );
  });

  it("fails on a message larger than maxMessageSize, from its header", async () => {
    await withBroker({}, async (broker) => {
      const { conn, client } = await open(broker, { maxMessageSize: 1000 });
      const ch = await conn.createChannel();
      let delivered = 0;
      await ch.basicConsume("q", {}, { onDelivery: () => delivered++ });
      client.sendMethod(1, METHODS.basicDeliver, {
        consumerTag: "ctag-1",
        deliveryTag: 1,
        exchange: "",
        routingKey: "q",
      });
      client.sendContent(1, {}, new Uint8Array(1001));
      const closed = await conn.closed;
      assert.ok(closed instanceof ProtocolError);
      assert.match(closed.message, /1001 bytes.*maxMessageSize/);
      assert.equal(delivered, 0);
    });
  });

  it("sends connection.close with 501 before dropping the socket", async () => {
    await withBroker({}, async (broker) => {
      const { conn, client } = await open(broker);
      client.send(frame(7, 0, []));
      await conn.closed;
      const close = await client.next("connection.close");
      assert.equal(close.args!.replyCode, 501);
    });
  });
});

describe("AMQP transport lifecycle (fake broker)", () => {
  let broker: FakeBroker;
  before(async () => {
    broker = await FakeBroker.start({});
  });
  after(async () => {
    await broker.close();
  });

  it("encodes a publish that the generic codec reads back", async () => {
    const { conn, client } = await open(broker);
    const ch = await conn.createChannel();
    const body = new Uint8Array(10000).map((_, i) => i & 255);
    const properties = {
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers: { compression: "application/x-gzip", n: 1 },
      deliveryMode: 2,
      priority: 9,
      correlationId: "c",
      replyTo: "r",
      expiration: "1000",
    };
    await ch.basicPublish("ex", "rk", { body, properties }, { mandatory: true });
    const method = await client.next("basic.publish");
    assert.deepStrictEqual(method.args, {
      reserved1: 0,
      exchange: "ex",
      routingKey: "rk",
      mandatory: true,
      immediate: false,
    });
    const content = await client.next((r) => r.body !== undefined && r.body.length > 4000);
    assert.deepStrictEqual(content.properties, properties);
    assert.equal(content.bodySize, 10000);
    await conn.close();
  });

  it("writes a text body as its UTF-8 bytes, in one frame or in several", async () => {
    // The fake broker's frame_max is 4096: 4088 bytes of payload per body frame.
    for (const text of ["héllo ☃ 😀 \ud800!", "é☃😀".repeat(1500), "x".repeat(1362)]) {
      const { conn, client } = await open(broker);
      const ch = await conn.createChannel();
      await ch.basicPublish("", "q", { body: text, properties: {} });
      const expected = enc.encode(text);
      const parts: Uint8Array[] = [];
      let have = 0;
      const last = await client.next((r) => {
        if (r.body === undefined) return false;
        parts.push(r.body);
        have += r.body.length;
        return have >= expected.length;
      });
      assert.equal(last.bodySize, expected.length);
      assert.ok(parts.every((p) => p.length <= 4088));
      const joined = new Uint8Array(have);
      parts.reduce((at, p) => (joined.set(p, at), at + p.length), 0);
      assert.deepStrictEqual(joined, expected);
      await conn.close();
    }
  });

  it("turns a server connection.close into a ConnectionError with the reply code", async () => {
    const { conn, client } = await open(broker);
    const ch = await conn.createChannel();
    await ch.confirmSelect();
    client.onMethod = (r) => r.method === "queue.declare";
    const pending = ch.queueDeclare({ name: "q" });
    const unconfirmed = ch.basicPublish("", "q", { body: enc.encode("x"), properties: {} });
    const rejected = [
      assert.rejects(pending, (e: unknown) => (e as ConnectionError).replyCode === 320),
      assert.rejects(unconfirmed, ConnectionError),
    ];
    await client.next("queue.declare");
    client.sendMethod(0, METHODS.connectionClose, {
      replyCode: 320,
      replyText: "CONNECTION_FORCED - broker forced connection closure with reason 'test'",
    });
    const closed = await conn.closed;
    assert.ok(closed instanceof ConnectionError);
    assert.equal(closed.replyCode, 320);
    await Promise.all(rejected);
    await client.next("connection.close-ok");
    await assert.rejects(ch.basicAck(1), ChannelError);
  });

  it("rejects pending calls when the peer drops the socket", async () => {
    const { conn, client } = await open(broker);
    const ch = await conn.createChannel();
    client.onMethod = (r) => r.method === "basic.qos";
    const pending = ch.basicQos({ prefetchCount: 1 });
    await client.next("basic.qos");
    client.socket.destroy();
    await assert.rejects(pending, ConnectionError);
    const closed = await conn.closed;
    assert.ok(closed instanceof ConnectionError);
    await assert.rejects(conn.createChannel(), ConnectionError);
  });

  it("closes only the failing channel on a channel error", async () => {
    const { conn, client } = await open(broker);
    const a = await conn.createChannel();
    const b = await conn.createChannel();
    await a.confirmSelect();
    client.onMethod = (r) => {
      if (r.method !== "queue.declare" || r.channel !== a.id) return false;
      client.sendMethod(r.channel, METHODS.channelClose, {
        replyCode: 404,
        replyText: "NOT_FOUND - no queue 'missing' in vhost '/'",
        classId: 50,
        methodId: 10,
      });
      return true;
    };
    const unconfirmed = assert.rejects(
      a.basicPublish("", "q", { body: enc.encode("x"), properties: {} }),
      NotFoundError,
    );
    const failing = a.queueDeclare({ name: "missing", passive: true });
    const queued = assert.rejects(a.queuePurge("after"), NotFoundError);
    await assert.rejects(failing, (e: unknown) => {
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.replyCode, 404);
      assert.equal(e.classId, 50);
      assert.equal(e.methodId, 10);
      assert.match(e.message, /^Cannot declare queue "missing": NOT_FOUND/);
      return true;
    });
    await queued;
    await unconfirmed;
    assert.equal(a.isOpen, false);
    await client.next((r) => r.method === "channel.close-ok" && r.channel === a.id);
    assert.equal(b.isOpen, true);
    assert.deepStrictEqual(await b.queueDeclare({ name: "fine" }), {
      queue: "fine",
      messageCount: 0,
      consumerCount: 0,
    });
    await assert.rejects(a.basicAck(1), /channel \d+ is closed/);
    await conn.close();
  });

  it("settles confirms on ack, ack multiple and nack", async () => {
    const { conn, client } = await open(broker);
    const ch = await conn.createChannel();
    await ch.confirmSelect();
    const publish = () => ch.basicPublish("", "q", { body: enc.encode("x"), properties: {} });
    const p = [publish(), publish(), publish(), assert.rejects(publish(), /basic.nack/)];
    client.sendMethod(ch.id, METHODS.basicAck, { deliveryTag: 2, multiple: true });
    client.sendMethod(ch.id, METHODS.basicNack, { deliveryTag: 4, multiple: false });
    client.sendMethod(ch.id, METHODS.basicAck, { deliveryTag: 3, multiple: false });
    await Promise.all(p);
    await conn.close();
  });

  it("rejects unconfirmed publishes when the channel is closed locally", async () => {
    const { conn } = await open(broker);
    const ch = await conn.createChannel();
    await ch.confirmSelect();
    const p = assert.rejects(
      ch.basicPublish("", "q", { body: enc.encode("x"), properties: {} }),
      ChannelError,
    );
    await ch.close();
    await p;
    await ch.close();
    await conn.close();
  });

  it("refuses an ack of a closed channel locally, sending nothing", async () => {
    const { conn, client } = await open(broker);
    const ch = await conn.createChannel();
    const other = await conn.createChannel();
    await ch.close();
    await assert.rejects(ch.basicAck(1), ChannelError);
    await assert.rejects(ch.basicReject(1, true), ChannelError);
    await other.queueDeclare({ name: "sync" }); // everything sent before has arrived
    assert.equal(client.count("basic.ack"), 0);
    assert.equal(client.count("basic.reject"), 0);
    await conn.close();
  });

  it("delivers, and reports a broker-side consumer cancel", async () => {
    const { conn, client } = await open(broker);
    const ch = await conn.createChannel();
    const got: string[] = [];
    const cancelled: string[] = [];
    const tag = await ch.basicConsume("q", { consumerTag: "mine" }, {
      onDelivery: (d) => got.push(bodyText(d.body)),
      onCancel: (t) => cancelled.push(t),
    });
    assert.equal(tag, "mine");
    client.sendMethod(ch.id, METHODS.basicDeliver, {
      consumerTag: "mine",
      deliveryTag: 1,
      exchange: "",
      routingKey: "q",
    });
    client.sendContent(ch.id, { headers: { a: 1 } }, enc.encode("one"));
    client.sendMethod(ch.id, METHODS.basicCancel, { consumerTag: "mine", noWait: false });
    await client.next("basic.cancel-ok");
    assert.deepStrictEqual(got, ["one"]);
    assert.deepStrictEqual(cancelled, ["mine"]);
    await conn.close();
  });

  it("coalesces the acks of one turn into basic.ack(multiple) only over settled runs", async () => {
    const { conn, client } = await open(broker);
    const ch = await conn.createChannel();
    const tags: number[] = [];
    await ch.basicConsume("q", { consumerTag: "acked" }, {
      onDelivery: (d) => tags.push(d.deliveryTag as number),
    });
    await ch.basicConsume("q", { consumerTag: "free", noAck: true }, { onDelivery() {} });
    const deliver = (tag: number, consumerTag = "acked") => {
      client.sendMethod(ch.id, METHODS.basicDeliver, {
        consumerTag,
        deliveryTag: tag,
        exchange: "",
        routingKey: "q",
      });
      client.sendContent(ch.id, {}, enc.encode(`${tag}`));
    };
    for (let tag = 1; tag <= 8; tag++) deliver(tag, tag === 3 ? "free" : "acked");
    await ch.queueDeclare({ name: "sync-1" }); // all eight deliveries are in
    assert.deepStrictEqual(tags, [1, 2, 4, 5, 6, 7, 8]);
    // Same turn: 2, 1, 4 form a run with 3 (no-ack) -> one ack(4, multiple); 6 and 8 sit above
    // the gap at 5 -> sent one by one.
    await Promise.all([
      ch.basicAck(2),
      ch.basicAck(1),
      ch.basicAck(4),
      ch.basicAck(6),
      ch.basicAck(8),
    ]);
    await ch.queueDeclare({ name: "sync-2" });
    // Rejects go out at once; 7 is then the only ack waiting: sent alone.
    await ch.basicReject(5, true);
    await ch.basicAck(7);
    await ch.queueDeclare({ name: "sync-3" });
    const acks = client.received
      .filter((r) => r.method === "basic.ack" || r.method === "basic.reject")
      .map((r) => [r.method, r.args!.deliveryTag, r.args!.multiple ?? r.args!.requeue]);
    assert.deepStrictEqual(acks, [
      ["basic.ack", 4, true],
      ["basic.ack", 6, false],
      ["basic.ack", 8, false],
      ["basic.reject", 5, true],
      ["basic.ack", 7, false],
    ]);
    await conn.close();
  });

  it("sends waiting acks before a channel.close and before basic.recover", async () => {
    const { conn, client } = await open(broker);
    const ch = await conn.createChannel();
    await ch.basicConsume("q", { consumerTag: "c" }, { onDelivery() {} });
    client.onMethod = (r) => {
      if (r.method !== "basic.recover") return false;
      client.sendMethod(r.channel, METHODS.basicRecoverOk);
      return true;
    };
    for (let tag = 1; tag <= 3; tag++) {
      client.sendMethod(ch.id, METHODS.basicDeliver, {
        consumerTag: "c",
        deliveryTag: tag,
        exchange: "",
        routingKey: "q",
      });
      client.sendContent(ch.id, {}, enc.encode("x"));
    }
    await ch.queueDeclare({ name: "sync" });
    void ch.basicAck(1);
    await ch.basicRecover(true);
    void ch.basicAck(2); // a tag from before the recover: void, sent as is
    await ch.close();
    const order = client.received
      .filter((r) => r.channel === ch.id && r.method !== undefined)
      .map((r) => r.method)
      .filter((m) => ["basic.ack", "basic.recover", "channel.close"].includes(m!));
    assert.deepStrictEqual(order, ["basic.ack", "basic.recover", "basic.ack", "channel.close"]);
    await conn.close();
  });

  it("survives both sides closing a channel at once", async () => {
    const { conn, client } = await open(broker);
    const ch = await conn.createChannel();
    client.onMethod = (r) => {
      if (r.method !== "channel.close") return false;
      // The broker had closed the channel itself, then answers our close too (RabbitMQ does).
      client.sendMethod(r.channel, METHODS.channelClose, {
        replyCode: 406,
        replyText: "PRECONDITION_FAILED",
        classId: 60,
        methodId: 80,
      });
      client.sendMethod(r.channel, METHODS.channelCloseOk);
      return true;
    };
    await ch.close();
    client.onMethod = undefined;
    const next = await conn.createChannel();
    assert.equal(next.isOpen, true);
    assert.equal(conn.isOpen, true);
    await conn.close();
    assert.equal(await conn.closed, undefined);
  });

  it("updates the secret (connection.update-secret)", async () => {
    const { conn, client } = await open(broker);
    client.onMethod = (r) => {
      if (r.method !== "connection.update-secret") return false;
      client.sendMethod(0, METHODS.connectionUpdateSecretOk);
      return true;
    };
    await conn.updateSecret("new-token", "token refresh");
    const sent = await client.next("connection.update-secret");
    assert.deepStrictEqual(sent.args, { newSecret: "new-token", reason: "token refresh" });
    await conn.close();
  });

  it("emits blocked and unblocked events", async () => {
    const { conn, client } = await open(broker);
    const events: TransportEvent[] = [];
    conn.onEvent = (e) => events.push(e);
    client.sendMethod(0, METHODS.connectionBlocked, { reason: "low on memory" });
    client.sendMethod(0, METHODS.connectionUnblocked);
    const ch = await conn.createChannel(); // a round trip: both events were read before it
    assert.deepStrictEqual(events, [{ type: "blocked", reason: "low on memory" }, {
      type: "unblocked",
    }]);
    await ch.close();
    await conn.close();
  });
});

describe("AMQP handshake and heartbeats (fake broker)", () => {
  it("turns a refused login into a ConnectionError with the reply code", async () => {
    await withBroker({ refuseLogin: [403, "ACCESS_REFUSED - Login was refused"] }, async (b) => {
      await assert.rejects(
        AmqpTransport.connect(params({ port: b.port, password: "secret-pw" })),
        (e: unknown) => {
          assert.ok(e instanceof ConnectionError);
          assert.equal(e.replyCode, 403);
          assert.doesNotMatch(e.message, /secret-pw/);
          return true;
        },
      );
    });
  });

  it("refuses a peer that does not speak AMQP 0-9-1", async () => {
    const greeting = new Uint8Array([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 10]);
    await withBroker({ greeting }, async (b) => {
      await assert.rejects(AmqpTransport.connect(params({ port: b.port })), /does not speak/);
    });
  });

  it("refuses a mechanism the broker lacks", async () => {
    await withBroker({ mechanisms: "AMQPLAIN" }, async (b) => {
      await assert.rejects(
        AmqpTransport.connect(
          params({ port: b.port, transportOptions: { authMechanism: "EXTERNAL" } }),
        ),
        /offers "AMQPLAIN", not "EXTERNAL"/,
      );
    });
  });

  it("logs in with PLAIN, AMQPLAIN and EXTERNAL", async () => {
    await withBroker({ mechanisms: "PLAIN AMQPLAIN EXTERNAL" }, async (b) => {
      const sent: Record<string, string> = {};
      for (const mechanism of ["PLAIN", "AMQPLAIN", "EXTERNAL"]) {
        const client = b.client();
        const conn = await AmqpTransport.connect(
          params({
            port: b.port,
            userid: "u",
            password: "p",
            transportOptions: { authMechanism: mechanism },
          }),
        );
        const startOk = await (await client).next("connection.start-ok");
        assert.equal(startOk.args!.mechanism, mechanism);
        sent[mechanism] = startOk.args!.response as string;
        await conn.close();
      }
      assert.equal(sent.PLAIN, "\0u\0p");
      assert.equal(sent.AMQPLAIN, "\x05LOGINS\0\0\0\x01u\x08PASSWORDS\0\0\0\x01p");
      assert.equal(sent.EXTERNAL, "");
    });
  });

  it("negotiates tune values and names the connection", async () => {
    await withBroker({ frameMax: 8192, channelMax: 3, heartbeat: 30 }, async (b) => {
      const client = b.client();
      const conn = await AmqpTransport.connect(
        params({ port: b.port, heartbeat: 60, transportOptions: { connectionName: "tuned" } }),
      ) as AmqpConnection;
      const c = await client;
      const tuneOk = await c.next("connection.tune-ok");
      assert.deepStrictEqual(tuneOk.args, { channelMax: 3, frameMax: 8192, heartbeat: 30 });
      const startOk = await c.next("connection.start-ok");
      const props = startOk.args!.clientProperties as Record<string, unknown>;
      assert.equal(props.connection_name, "tuned");
      assert.equal((props.capabilities as Record<string, unknown>).consumer_cancel_notify, true);
      const open = await c.next("connection.open");
      assert.equal(open.args!.virtualHost, "/");
      const channels = [
        await conn.createChannel(),
        await conn.createChannel(),
        await conn.createChannel(),
      ];
      await assert.rejects(conn.createChannel(), /all 3 channels are in use/);
      await channels[0].close();
      await conn.createChannel();
      await conn.close();
    });
  });

  it("sends heartbeats and finds a silent peer dead", async () => {
    await withBroker({ heartbeat: 1 }, async (b) => {
      const client = b.client();
      const conn = await AmqpTransport.connect(params({ port: b.port, heartbeat: 1 }));
      const c = await client;
      await c.next((r) => r.type === 8); // the client's heartbeat
      const closed = await conn.closed; // the fake broker never sends one
      assert.ok(closed instanceof ConnectionError);
      assert.match(closed.message, /no heartbeat/);
    });
  });

  it("keeps a live peer through a callback that blocks longer than two intervals", async () => {
    await withBroker({ heartbeat: 1, heartbeatEvery: 250 }, async (b) => {
      const conn = await AmqpTransport.connect(params({ port: b.port, heartbeat: 1 }));
      const ch = await conn.createChannel();
      const until = Date.now() + 2500;
      while (Date.now() < until) {
        // A busy callback: timers and reads both wait; missed time must not count as silence.
      }
      await ch.queueDeclare({ name: "still-alive" });
      await ch.queueDeclare({ name: "still-alive-later" });
      assert.equal(ch.isOpen, true);
      await conn.close();
      assert.equal(await conn.closed, undefined);
    });
  });

  it("rejects a channel error on open with the matching class", async () => {
    await withBroker({}, async (b) => {
      const { conn, client } = await open(b);
      client.onMethod = (r) => {
        if (r.method !== "channel.open") return false;
        client.sendMethod(r.channel, METHODS.channelClose, {
          replyCode: 403,
          replyText: "ACCESS_REFUSED",
          classId: 20,
          methodId: 10,
        });
        return true;
      };
      await assert.rejects(conn.createChannel(), AccessRefusedError);
      client.onMethod = undefined;
      await conn.createChannel();
      await conn.close();
    });
  });

  it("shows no frame hooks or writer internals on the public classes", async () => {
    await withBroker({}, async (broker) => {
      const { conn } = await open(broker);
      const ch = await conn.createChannel();
      for (const name of ["onMethod", "onHeader", "onBody", "terminate", "flushAcks", "open"]) {
        assert.ok(!(name in ch), `AmqpChannel.${name}`);
      }
      for (
        const name of ["out", "decoder", "sendMethod", "wrote", "deferAcks", "releaseChannel"]
      ) {
        assert.ok(!(name in conn), `AmqpConnection.${name}`);
      }
      assert.equal(typeof ch.basicPublish, "function");
      assert.equal(conn.frameMax, 4096);
      await conn.close();
    });
  });
});
