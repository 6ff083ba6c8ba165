/**
 * The native AMQP transport against the local RabbitMQ: reply codes map to error classes and
 * close only their channel, confirms, mandatory returns, consumer cancel notification, quorum
 * and stream queues, consumer priority, qos, get / reject / recover, exchange bindings, big
 * messages, Kombu's properties, and a forced close by `rabbitmqctl`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AccessRefusedError,
  ChannelError,
  ConnectionError,
  NotFoundError,
  PreconditionFailedError,
} from "../../../src/errors.ts";
import type { Delivery, ReturnedMessage } from "../../../src/transport.ts";
import {
  type AmqpChannel,
  type AmqpConnection,
  AmqpTransport,
} from "../../../transports/amqp/mod.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { rabbitmqctl } from "../../_support/rabbitmq.ts";
import { params } from "./_params.ts";
import { bodyText, Connection } from "../../../mod.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));
const enc = new TextEncoder();
const run = Math.random().toString(36).slice(2, 8);
let counter = 0;
const unique = (what: string) => `wakame-amqp-test-${what}-${run}-${++counter}`;

function connect(name = unique("conn"), heartbeat = 0): Promise<AmqpConnection> {
  return AmqpTransport.connect(
    params({ heartbeat, transportOptions: { connectionName: name } }),
  ) as Promise<AmqpConnection>;
}

function message(text: string, properties = {}) {
  return { body: enc.encode(text), properties };
}

/** Collects deliveries; `next(n)` resolves once n have arrived. */
function collector() {
  const got: Delivery[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    got,
    onDelivery(d: Delivery) {
      got.push(d);
      for (const w of [...waiters]) {
        if (got.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    },
    next(n: number): Promise<void> {
      if (got.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

describe("AMQP transport on RabbitMQ", () => {
  let conn: AmqpConnection;
  let ch: AmqpChannel;

  before(async () => {
    if (skip.reason) return;
    conn = await connect();
    ch = await conn.createChannel();
  });
  after(async () => {
    if (skip.reason) return;
    await conn?.close();
  });

  it(
    "logs in with guest/guest from amqp://:@127.0.0.1// as Kombu does",
    skip.options(),
    async () => {
      const conn = new Connection("amqp://:@127.0.0.1//");
      try {
        await conn.connect();
        assert.equal(conn.connected, true);
      } finally {
        await conn.close();
      }
    },
  );

  it("maps 404 to NotFoundError and closes only that channel", skip.options(), async () => {
    const bad = await conn.createChannel();
    await assert.rejects(bad.queueDeclare({ name: unique("missing"), passive: true }), (e) => {
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.replyCode, 404);
      assert.equal(e.classId, 50);
      assert.equal(e.methodId, 10);
      assert.match(e.message, /^Cannot declare queue "wakame-amqp-test-missing-.*": NOT_FOUND/);
      return true;
    });
    assert.equal(bad.isOpen, false);
    assert.equal(ch.isOpen, true);
    assert.equal(conn.isOpen, true);
    await assert.rejects(bad.queuePurge("x"), ChannelError);
    const q = await ch.queueDeclare({ name: "", exclusive: true });
    assert.match(q.queue, /^amq\.gen-/);
  });

  it("maps 406 to PreconditionFailedError", skip.options(), async () => {
    const name = unique("q406");
    await ch.queueDeclare({ name, autoDelete: true, arguments: { "x-max-length": 5 } });
    const other = await conn.createChannel();
    await assert.rejects(
      other.queueDeclare({ name, autoDelete: true, arguments: { "x-max-length": 6 } }),
      (e) => e instanceof PreconditionFailedError && e.replyCode === 406,
    );
    assert.equal(ch.isOpen, true);
    await ch.queueDelete(name);
  });

  it("maps 403 to AccessRefusedError", skip.options(), async () => {
    const other = await conn.createChannel();
    await assert.rejects(
      other.exchangeDeclare({ name: `amq.${unique("reserved")}`, type: "direct" }),
      (e) => e instanceof AccessRefusedError && e.replyCode === 403 && e.classId === 40,
    );
  });

  it(
    "publishes with confirms, and rejects them when the channel dies",
    skip.options(),
    async () => {
      const confirm = await conn.createChannel();
      await confirm.confirmSelect();
      const q = await ch.queueDeclare({ name: "", exclusive: true });
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => confirm.basicPublish("", q.queue, message(`${i}`))),
      );
      assert.equal((await ch.queueDeclare({ name: q.queue, passive: true })).messageCount, 200);
      await assert.rejects(
        confirm.basicPublish(unique("no-exchange"), "rk", message("lost")),
        NotFoundError,
      );
      assert.equal(confirm.isOpen, false);
    },
  );

  it("returns an unroutable mandatory message through onReturn", skip.options(), async () => {
    const pub = await conn.createChannel();
    await pub.confirmSelect();
    const returned: ReturnedMessage[] = [];
    pub.onReturn = (m) => returned.push(m);
    const key = unique("nowhere");
    await pub.basicPublish("", key, message("back", { correlationId: "c1" }), { mandatory: true });
    // RabbitMQ sends basic.return before the basic.ack of the same message.
    assert.equal(returned.length, 1);
    assert.equal(returned[0].replyCode, 312);
    assert.equal(returned[0].routingKey, key);
    assert.equal(bodyText(returned[0].body), "back");
    assert.equal(returned[0].properties.correlationId, "c1");
    await pub.close();
  });

  it("tells the consumer when the broker cancels it (queue deleted)", skip.options(), async () => {
    const name = unique("cancelled");
    await ch.queueDeclare({ name });
    const sub = await conn.createChannel();
    let onCancel!: (tag: string) => void;
    const cancelled = new Promise<string>((resolve) => (onCancel = resolve));
    const tag = await sub.basicConsume(name, {}, { onDelivery() {}, onCancel });
    await ch.queueDelete(name);
    assert.equal(await cancelled, tag);
    assert.equal(sub.isOpen, true);
    await sub.close();
  });

  it("declares quorum and stream queues (x-queue-type)", skip.options(), async () => {
    for (const type of ["quorum", "stream"]) {
      const name = unique(type);
      const ok = await ch.queueDeclare({
        name,
        durable: true,
        arguments: { "x-queue-type": type },
      });
      assert.equal(ok.queue, name);
      await assert.rejects(
        (await conn.createChannel()).queueDeclare({
          name,
          durable: true,
          arguments: { "x-queue-type": "classic" },
        }),
        PreconditionFailedError,
      );
      await ch.queueDelete(name);
    }
  });

  it(
    "gives messages to the consumer with the highest x-priority first",
    skip.options(),
    async () => {
      const name = unique("prio");
      await ch.queueDeclare({ name, exclusive: true });
      const sub = await conn.createChannel();
      await sub.basicQos({ prefetchCount: 100, global: false });
      const low = collector();
      const high = collector();
      await sub.basicConsume(name, { arguments: { "x-priority": 0 } }, low);
      await sub.basicConsume(name, { arguments: { "x-priority": 10 } }, high);
      for (let i = 0; i < 20; i++) await ch.basicPublish("", name, message(`${i}`));
      await high.next(20);
      assert.equal(low.got.length, 0);
      await sub.close();
    },
  );

  it("limits unacknowledged deliveries with basic.qos (global)", skip.options(), async () => {
    const name = unique("qos");
    await ch.queueDeclare({ name, exclusive: true });
    const sub = await conn.createChannel();
    await sub.basicQos({ prefetchCount: 2, global: true });
    for (let i = 0; i < 5; i++) await ch.basicPublish("", name, message(`${i}`));
    const c = collector();
    await sub.basicConsume(name, {}, c);
    await c.next(2);
    // Two are out, unacknowledged; the broker holds the other three back.
    assert.equal((await ch.queueDeclare({ name, passive: true })).messageCount, 3);
    await sub.basicAck(c.got[0].deliveryTag);
    await sub.basicAck(c.got[1].deliveryTag);
    await c.next(4);
    assert.deepStrictEqual(c.got.slice(0, 4).map((d) => bodyText(d.body)), ["0", "1", "2", "3"]);
    await sub.close();
  });

  it("coalesced acks in any order settle exactly the acked messages", skip.options(), async () => {
    const name = unique("acks");
    await ch.queueDeclare({ name, exclusive: true });
    const n = 2000;
    for (let i = 0; i < n; i++) void ch.basicPublish("", name, message(`${i}`));
    await ch.queueDeclare({ name, passive: true }); // all published
    const sub = await conn.createChannel();
    await sub.basicQos({ prefetchCount: 300 });
    let held: Delivery | undefined;
    let settled = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const later: Delivery[] = [];
    await sub.basicConsume(name, {}, {
      onDelivery(d) {
        const i = Number(bodyText(d.body));
        if (i === 10) held = d; // settled last: a gap below everything else
        else if (i % 7 === 0) void sub.basicReject(d.deliveryTag, false);
        else if (i % 3 === 0) later.push(d); // acked in a later turn, in reverse
        else void sub.basicAck(d.deliveryTag);
        if (i !== 10) settled++;
        if (later.length >= 20 || settled === n - 1) {
          const batch = later.splice(0).reverse();
          const last = settled === n - 1;
          setTimeout(() => {
            for (const x of batch) void sub.basicAck(x.deliveryTag);
            if (last) done();
          }, 0);
        }
      },
    });
    await finished;
    await sub.basicAck(held!.deliveryTag);
    await sub.queueDeclare({ name, passive: true }); // the acks are in; the channel is alive
    assert.equal(sub.isOpen, true);
    await sub.close(); // anything left unacked would go back to the queue now
    assert.equal((await ch.queueDeclare({ name, passive: true })).messageCount, 0);
  });

  it(
    "gets, rejects with requeue, recovers, nacks, purges and deletes",
    skip.options(),
    async () => {
      const name = unique("get");
      await ch.queueDeclare({ name, exclusive: true });
      assert.equal(await ch.basicGet(name), undefined);
      for (let i = 0; i < 3; i++) await ch.basicPublish("", name, message(`m${i}`));
      const first = await ch.basicGet(name);
      assert.equal(bodyText(first!.body), "m0");
      assert.equal(first!.redelivered, false);
      assert.equal(first!.messageCount, 2);
      await ch.basicReject(first!.deliveryTag, true);
      const again = await ch.basicGet(name);
      assert.equal(bodyText(again!.body), "m0");
      assert.equal(again!.redelivered, true);
      await ch.basicRecover(true);
      const third = await ch.basicGet(name);
      assert.equal(third!.redelivered, true);
      await ch.basicNack(third!.deliveryTag, false, false); // dropped
      assert.equal(await ch.queuePurge(name), 2);
      await ch.basicPublish("", name, message("left"));
      await ch.basicGet(name, { noAck: true });
      await ch.basicPublish("", name, message("left"));
      assert.equal(await ch.queueDelete(name), 1);
    },
  );

  it("routes through exchange-to-exchange bindings and unbinds", skip.options(), async () => {
    const source = unique("src");
    const dest = unique("dst");
    await ch.exchangeDeclare({ name: source, type: "topic" });
    await ch.exchangeDeclare({ name: dest, type: "fanout" });
    const q = await ch.queueDeclare({ name: "", exclusive: true });
    await ch.queueBind(q.queue, dest, "");
    await ch.exchangeBind(dest, source, "a.#");
    await ch.basicPublish(source, "a.b", message("routed"));
    await ch.basicPublish(source, "b.a", message("dropped"));
    const got = await ch.basicGet(q.queue, { noAck: true });
    assert.equal(bodyText(got!.body), "routed");
    await ch.exchangeUnbind(dest, source, "a.#");
    await ch.basicPublish(source, "a.b", message("after unbind"));
    assert.equal(await ch.basicGet(q.queue), undefined);
    await ch.queueUnbind(q.queue, dest, "");
    await ch.exchangeDelete(dest);
    await ch.exchangeDelete(source);
  });

  it("carries big bodies over many frames and Kombu's properties", skip.options(), async () => {
    const name = unique("big");
    await ch.queueDeclare({ name, exclusive: true, arguments: { "x-max-priority": 10 } });
    const body = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) & 255);
    const properties = {
      contentType: "application/json",
      contentEncoding: "utf-8",
      headers: {
        compression: "application/x-gzip",
        retries: 3,
        eta: null,
        nested: { a: [1, "b"] },
      },
      deliveryMode: 2,
      priority: 7,
      correlationId: "corr",
      replyTo: "replies",
      expiration: "60000",
      messageId: "id-1",
      timestamp: 1700000000,
      type: "task",
      appId: "wakame",
    };
    await ch.basicPublish("", name, { body, properties });
    const got = await ch.basicGet(name, { noAck: true });
    assert.deepStrictEqual(got!.body, body);
    assert.deepStrictEqual(got!.properties, properties);
  });

  it(
    "refuses an ack for a delivery of a dead channel; the message comes back",
    skip.options(),
    async () => {
      const name = unique("dead");
      await ch.queueDeclare({ name, exclusive: true });
      await ch.basicPublish("", name, message("once"));
      const doomed = await conn.createChannel();
      const d = await doomed.basicGet(name);
      assert.equal(bodyText(d!.body), "once");
      await assert.rejects(
        doomed.queueDeclare({ name: unique("nope"), passive: true }),
        NotFoundError,
      );
      await assert.rejects(doomed.basicAck(d!.deliveryTag), /is closed/);
      // The broker requeues it asynchronously after the channel died: wait for it by consuming.
      const c = collector();
      const tag = await ch.basicConsume(name, { noAck: true }, c);
      await c.next(1);
      await ch.basicCancel(tag);
      assert.equal(bodyText(c.got[0].body), "once");
      assert.equal(c.got[0].redelivered, true);
      assert.equal(c.got.length, 1);
    },
  );

  it("confirms every publish with the confirmPublish option", skip.options(), async () => {
    const c = await AmqpTransport.connect(
      params({ transportOptions: { confirmPublish: "true", connectionName: unique("cp") } }),
    ) as AmqpConnection;
    const confirming = await c.createChannel();
    assert.equal(confirming.confirming, true);
    await assert.rejects(
      confirming.basicPublish(unique("no-exchange"), "", message("x")),
      NotFoundError,
    );
    await c.close();
  });

  it("negotiates the heartbeat", skip.options(), async () => {
    const c = await connect(unique("hb"), 7);
    assert.equal(c.heartbeat, 7);
    assert.equal(c.frameMax, 131072);
    await c.close();
    assert.equal(await c.closed, undefined);
  });

  it(
    "ends with a ConnectionError when rabbitmqctl closes the connection",
    skip.options(),
    async () => {
      const name = unique("forced");
      const victim = await connect(name);
      const vch = await victim.createChannel();
      const rows = await rabbitmqctl("list_connections", "pid", "client_properties", "-q");
      const row = rows.split("\n").find((line) =>
        line.includes(`"${name}"`) || line.includes(name)
      );
      assert.ok(row, `connection "${name}" listed`);
      const pid = row.split("\t")[0];
      await rabbitmqctl("close_connection", pid, "test");
      const closed = await victim.closed;
      assert.ok(closed instanceof ConnectionError);
      assert.equal(closed.replyCode, 320);
      assert.match(closed.message, /CONNECTION_FORCED/);
      assert.equal(vch.isOpen, false);
      await assert.rejects(vch.basicAck(1), ChannelError);
      await assert.rejects(vch.queueDeclare({ name: "x" }), ConnectionError);
    },
  );
});
