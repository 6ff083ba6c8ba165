import { connectionInternals } from "../../src/_connection_internals.ts";
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Broadcast,
  collectReplies,
  drainConsumer,
  eventloop,
  ignoreErrors,
  insured,
  itermessages,
  maybeDeclare,
  oidFrom,
  sendReply,
  uuid,
} from "../../src/common.ts";
import { Connection } from "../../src/connection.ts";
import { Consumer } from "../../src/consumer.ts";
import { Exchange, Queue } from "../../src/entity.ts";
import { ChannelError, ConnectionError, KombuError, TimeoutError } from "../../src/errors.ts";
import type { Message } from "../../src/message.ts";
import { ConnectionPool } from "../../src/pools.ts";
import { bodyText } from "../../mod.ts";

describe("common on memory://", () => {
  const conn = new Connection("memory://");
  after(() => conn.close());

  it("re-exports uuid, oidFrom and maybeDeclare", async () => {
    assert.match(uuid(), /^[0-9a-f-]{36}$/);
    assert.equal(await oidFrom(conn), await oidFrom(conn));
    const channel = await conn.defaultChannel();
    const q = new Queue(`md-${uuid()}`);
    assert.equal(await maybeDeclare(q, channel, conn), true);
    assert.equal(await maybeDeclare(q, channel, conn), false);
  });

  it("Broadcast: unique auto-delete queues on a fanout exchange; every consumer gets each message", async () => {
    const name = `bc-${uuid()}`;
    const a = new Broadcast(name);
    const b = new Broadcast(name);
    assert.match(a.name, /^bcast\.[0-9a-f-]{36}$/);
    assert.notEqual(a.name, b.name);
    assert.equal(a.autoDelete, true);
    assert.equal(a.exchange?.name, name);
    assert.equal(a.exchange?.type, "fanout");
    assert.equal(new Broadcast(name, { queue: "fixed" }).name, "fixed");
    assert.match(
      new Broadcast(name, { queue: "fixed", unique: true }).name,
      /^fixed\.[0-9a-f-]{36}$/,
    );
    assert.equal(new Broadcast(name, { autoDelete: false }).autoDelete, false);
    const got: Record<string, unknown[]> = { a: [], b: [] };
    const consumers = [
      new Consumer(conn, [a], { noAck: true, callbacks: [(body) => void got.a!.push(body)] }),
      new Consumer(conn, [b], { noAck: true, callbacks: [(body) => void got.b!.push(body)] }),
    ];
    for (const c of consumers) await c.consume();
    await conn.producer().publish({ n: 1 }, { exchange: a.exchange! });
    for (const c of consumers) await c.idle();
    for (const c of consumers) await c.cancel();
    assert.deepEqual(got, { a: [{ n: 1 }], b: [{ n: 1 }] });
  });

  it("itermessages yields messages, one per wait, and ends on the limit", async () => {
    const queue = new Queue(`it-${uuid()}`);
    const producer = conn.producer();
    for (let n = 0; n < 3; n++) {
      await producer.publish({ n }, { routingKey: queue.name, declare: [queue] });
    }
    const seen: unknown[] = [];
    for await (const [body, message] of itermessages(conn, queue, { limit: 2, timeout: 1000 })) {
      seen.push(body);
      await message.ack();
    }
    assert.deepEqual(seen, [{ n: 0 }, { n: 1 }]);
    // The third one was received but not yielded: it is back in the queue.
    const channel = await conn.defaultChannel();
    const left = await channel.basicGet(queue.name, { noAck: true });
    assert.deepEqual(JSON.parse(bodyText(left!.body)), { n: 2 });
    assert.equal(await channel.basicGet(queue.name), undefined);
  });

  it("itermessages: a wait that times out yields nothing; a signal ends it", async () => {
    const queue = new Queue(`it-empty-${uuid()}`);
    await maybeDeclare(queue, await conn.defaultChannel(), conn);
    const seen: Array<[unknown, Message]> = [];
    for await (const item of itermessages(conn, queue, { limit: 2, timeout: 5 })) seen.push(item);
    assert.deepEqual(seen, [] as unknown[]);
    const controller = new AbortController();
    const run = (async () => {
      for await (
        const item of itermessages(conn, queue, { limit: Infinity, signal: controller.signal })
      ) {
        seen.push(item);
      }
    })();
    controller.abort();
    await run;
    assert.equal(seen.length, 0);
  });

  it("drainConsumer runs extra callbacks and restores the consumer's own", async () => {
    const queue = new Queue(`dc-${uuid()}`);
    const own: unknown[] = [];
    const extra: unknown[] = [];
    const consumer = new Consumer(conn, [queue], {
      noAck: true,
      callbacks: [(body) => void own.push(body)],
    });
    await conn.producer().publish("one", { routingKey: queue.name, declare: [queue] });
    const yielded: unknown[] = [];
    for await (
      const [body] of drainConsumer(consumer, {
        timeout: 1000,
        callbacks: [(body) => void extra.push(body)],
      })
    ) {
      yielded.push(body);
    }
    assert.deepEqual(yielded, ["one"]);
    assert.deepEqual(extra, ["one"]);
    assert.deepEqual(own, []);
    assert.equal(consumer.callbacks.length, 1);
    assert.equal(consumer.consuming, false);
  });

  it("eventloop yields per event and throws or ignores timeouts", async () => {
    await using conn = new Connection("memory://");
    let n = 0;
    for await (const _ of eventloop(conn, { limit: 3, timeout: 1, ignoreTimeouts: true })) n++;
    assert.equal(n, 0);
    await assert.rejects(async () => {
      for await (const _ of eventloop(conn, { limit: 1, timeout: 1 })) n++;
    }, TimeoutError);
    const queue = new Queue(`el-${uuid()}`);
    const consumer = new Consumer(conn, [queue], { noAck: true, callbacks: [() => {}] });
    await consumer.consume();
    const loop = eventloop(conn, { limit: 1, timeout: 5000 });
    const first = loop.next();
    await conn.producer().publish("x", { routingKey: queue.name });
    assert.equal((await first).done, false);
    assert.equal((await loop.next()).done, true);
    await consumer.cancel();
  });

  it("sendReply and collectReplies: RPC with correlation ids; the reply queue is cleaned up", async () => {
    const requests = new Queue(`rpc-req-${uuid()}`);
    const replies = new Queue(`rpc-rep-${uuid()}`, { exclusive: true });
    await using serverConn = new Connection("memory://"); // the server is another process
    const server = new Consumer(serverConn, [requests], {
      callbacks: [async (body, message) => {
        await sendReply("", message, { result: (body as { x: number }).x * 2 }, {
          producer: serverConn.producer(),
        });
        await message.ack();
      }],
    });
    await server.consume();
    const channel = await conn.defaultChannel();
    await maybeDeclare(replies, channel, conn);
    const producer = conn.producer();
    for (const x of [1, 2]) {
      await producer.publish({ x }, {
        routingKey: requests.name,
        declare: [requests],
        replyTo: replies.name,
        correlationId: `c-${x}`,
        serializer: "json",
      });
    }
    const ids: string[] = [];
    const got: unknown[] = [];
    const deleted: string[] = [];
    const spy = new Proxy(channel, {
      get(target, key) {
        if (key === "queueDelete") {
          return (name: string) => (deleted.push(name), target.queueDelete(name));
        }
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    for await (
      const body of collectReplies(conn, replies, {
        channel: spy,
        limit: 2,
        timeout: 5000,
        callbacks: [(_b, m: Message) => void ids.push(m.correlationId!)],
      })
    ) {
      got.push(body);
    }
    await server.cancel();
    assert.deepEqual(got, [{ result: 2 }, { result: 4 }]);
    assert.deepEqual(ids, ["c-1", "c-2"]);
    assert.deepEqual(deleted, [replies.name]);
    assert.equal(connectionInternals(conn)!.declared.has(replies.declarationKey), false);
    // Nothing received: the queue is kept (it may still be waited on).
    const idle = new Queue(`rpc-idle-${uuid()}`);
    await maybeDeclare(idle, channel, conn);
    for await (const _ of collectReplies(conn, idle, { channel: spy, limit: 1, timeout: 1 })) {
      assert.fail("nothing was sent");
    }
    assert.deepEqual(deleted, [replies.name]);
  });

  it("RPC with server and client on one connection", async () => {
    await using local = new Connection("memory://");
    const requests = new Queue(`rpc1-req-${uuid()}`);
    const replies = new Queue(`rpc1-rep-${uuid()}`);
    const server = new Consumer(local, [requests], {
      callbacks: [async (body, message) => {
        await sendReply("", message, { echo: body }, { producer: local.producer() });
        await message.ack();
      }],
    });
    await server.consume();
    await maybeDeclare(replies, await local.defaultChannel(), local);
    await local.producer().publish({ ping: 1 }, {
      routingKey: requests.name,
      declare: [requests],
      replyTo: replies.name,
      correlationId: "one",
    });
    const got: unknown[] = [];
    for await (const body of collectReplies(local, replies, { timeout: 5000 })) got.push(body);
    await server.cancel();
    assert.deepEqual(got, [{ echo: { ping: 1 } }]);
  });

  it("sendReply refuses a request without replyTo", async () => {
    const queue = new Queue(`noreply-${uuid()}`);
    await conn.producer().publish("x", { routingKey: queue.name, declare: [queue] });
    for await (const [, message] of itermessages(conn, queue, { timeout: 1000 })) {
      await assert.rejects(sendReply("", message, "r", { producer: conn.producer() }), KombuError);
      await message.ack();
    }
  });

  it("ignoreErrors swallows connection and channel errors only", async () => {
    assert.equal(await ignoreErrors(() => Promise.reject(new ConnectionError("x"))), undefined);
    assert.equal(await ignoreErrors(Promise.reject(new ChannelError("x"))), undefined);
    assert.equal(await ignoreErrors(() => 5), 5);
    await assert.rejects(ignoreErrors(() => Promise.reject(new TypeError("bug"))), TypeError);
  });

  it("insured retries through a connection failure on a pooled connection", async () => {
    const pool = new ConnectionPool(new Connection("memory://"), { limit: 1 });
    const errors: unknown[] = [];
    let attempts = 0;
    try {
      const result = await insured(pool, (connection, channel) => {
        attempts++;
        assert.ok(channel.isOpen);
        assert.ok(connection.connected);
        if (attempts === 1) return Promise.reject(new ConnectionError("lost"));
        return Promise.resolve("done");
      }, { intervalStart: 0, intervalStep: 0, maxRetries: 2, errback: (e) => void errors.push(e) });
      assert.equal(result, "done");
      assert.equal(attempts, 2);
      assert.equal(errors.length, 1);
      assert.equal(pool.inUse, 0);
      await assert.rejects(
        insured(pool, () => Promise.reject(new ConnectionError("always")), {
          intervalStart: 0,
          intervalStep: 0,
          maxRetries: 1,
          errback: () => {},
        }),
        ConnectionError,
      );
      assert.equal(pool.inUse, 0);
    } finally {
      await pool.close();
    }
  });

  it("Broadcast works with an explicit exchange", () => {
    const ex = new Exchange(`bx-${uuid()}`, { type: "fanout", durable: false });
    const q = new Broadcast("ignored", { exchange: ex });
    assert.equal(q.exchange, ex);
  });
});
