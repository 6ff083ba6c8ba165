import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../src/connection.ts";
import { Queue } from "../../src/entity.ts";
import { ConfigurationError, NotBoundError } from "../../src/errors.ts";
import { Mailbox, type PidboxReply, REPLY_QUEUE_EXPIRES } from "../../src/pidbox.ts";
import { ConnectionPool, ProducerPool } from "../../src/pools.ts";
import { LamportClock } from "../../src/utils/clock.ts";
import { uuid } from "../../src/utils/uuid.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { bodyText } from "../../mod.ts";
import { envSkip } from "../_support/skips.ts";

function sortReplies(replies: PidboxReply[]): PidboxReply[] {
  return [...replies].sort((a, b) => Object.keys(a)[0]!.localeCompare(Object.keys(b)[0]!));
}

describe("pidbox on memory://", () => {
  const conn = new Connection("memory://");
  after(() => conn.close());

  async function setup(type: "direct" | "fanout" = "fanout") {
    const ns = `t-${uuid()}`;
    const mailbox = new Mailbox(ns, { type, connection: conn });
    const seen: string[] = [];
    const nodes = await Promise.all(["w1@a", "w2@a", "w3@b"].map(async (hostname) => {
      const node = mailbox.node(hostname, {
        state: { hostname },
        handlers: {
          ping: () => "pong",
          echo: (_state, args) => args,
          who: (state) => state.hostname,
          note: (state, args) => void seen.push(`${state.hostname}:${String(args.text)}`),
          fail: () => {
            throw new TypeError("it's broken");
          },
        },
      });
      await node.listen();
      return node;
    }));
    const close = async () => {
      for (const node of nodes) await node.close();
      await mailbox.close();
    };
    return { ns, mailbox, nodes, seen, close };
  }

  it("names exchanges and queues as Kombu", async () => {
    const mailbox = new Mailbox("celery", { type: "fanout", connection: conn });
    assert.equal(mailbox.exchange.name, "celery.pidbox");
    assert.equal(mailbox.exchange.type, "fanout");
    assert.equal(mailbox.exchange.durable, false);
    assert.equal(mailbox.exchange.deliveryMode, 1);
    assert.equal(mailbox.replyExchange.name, "reply.celery.pidbox");
    assert.equal(mailbox.replyExchange.type, "direct");
    const q = mailbox.getQueue("w1@host");
    assert.equal(q.name, "w1@host.celery.pidbox");
    assert.equal(q.routingKey, "");
    assert.equal(q.autoDelete, true);
    assert.equal(q.durable, false);
    const reply = await mailbox.getReplyQueue();
    const oid = await mailbox.oid();
    assert.equal(reply.name, `${oid}.reply.celery.pidbox`);
    assert.equal(reply.routingKey, oid);
    assert.deepEqual(reply.queueArguments, { "x-expires": REPLY_QUEUE_EXPIRES });
    const celery = new Mailbox("celery", { queueTtl: 300_000, queueExpires: 10_000 });
    assert.deepEqual(celery.getQueue("w").queueArguments, {
      "x-expires": 10_000,
      "x-message-ttl": 300_000,
    });
    assert.notEqual(await mailbox.bind(conn).oid(), oid);
    assert.equal(new Mailbox("x").type, "direct");
  });

  for (const type of ["fanout", "direct"] as const) {
    it(`multiCall collects one reply per node (${type})`, async () => {
      const { mailbox, close } = await setup(type);
      try {
        const replies = await mailbox.multiCall("ping", {}, { limit: 3, timeout: 2000 });
        assert.deepEqual(sortReplies(replies), [
          { "w1@a": "pong" },
          { "w2@a": "pong" },
          { "w3@b": "pong" },
        ]);
      } finally {
        await close();
      }
    });
  }

  it("call reaches only the destinations, with arguments", async () => {
    const { mailbox, close } = await setup();
    try {
      const replies = await mailbox.call(["w2@a"], "echo", { n: 1, s: "x" }, { timeout: 2000 });
      assert.deepEqual(replies, [{ "w2@a": { n: 1, s: "x" } }]);
      const two = await mailbox.call(["w1@a", "w3@b"], "who", {}, { timeout: 2000 });
      assert.deepEqual(sortReplies(two), [{ "w1@a": "w1@a" }, { "w3@b": "w3@b" }]);
    } finally {
      await close();
    }
  });

  it("patterns select nodes with glob (default) and pcre", async () => {
    const { mailbox, close } = await setup();
    try {
      const glob = await mailbox.multiCall("who", {}, { pattern: "*@a", limit: 2, timeout: 2000 });
      assert.deepEqual(sortReplies(glob), [{ "w1@a": "w1@a" }, { "w2@a": "w2@a" }]);
      const pcre = await mailbox.multiCall("who", {}, {
        pattern: "w[13]",
        matcher: "pcre",
        limit: 2,
        timeout: 2000,
      });
      assert.deepEqual(sortReplies(pcre), [{ "w1@a": "w1@a" }, { "w3@b": "w3@b" }]);
      await assert.rejects(
        mailbox.multiCall("who", {}, { pattern: "x", matcher: "nope" }),
        ConfigurationError,
      );
    } finally {
      await close();
    }
  });

  it("cast and abcast run without replies", async () => {
    const { mailbox, seen, nodes, close } = await setup();
    try {
      await mailbox.cast(["w3@b"], "note", { text: "one" });
      await mailbox.abcast("note", { text: "all" });
      // A call after the casts: each node handles its queue in order, so once every node has
      // answered, the casts before it were handled too.
      await mailbox.multiCall("ping", {}, { limit: 3, timeout: 2000 });
      assert.deepEqual(seen.sort(), ["w1@a:all", "w2@a:all", "w3@b:all", "w3@b:one"]);
      assert.equal(nodes.length, 3);
    } finally {
      await close();
    }
  });

  it("handler errors and unknown commands reply with Kombu's error form", async () => {
    const { mailbox, close } = await setup();
    try {
      assert.deepEqual(await mailbox.call(["w1@a"], "fail", {}, { timeout: 2000 }), [
        { "w1@a": { error: `TypeError("it's broken")` } },
      ]);
      assert.deepEqual(await mailbox.call(["w1@a"], "nope", {}, { timeout: 2000 }), [
        { "w1@a": { error: "KeyError('nope')" } },
      ]);
    } finally {
      await close();
    }
  });

  it("a call returns what came when nobody else answers in time", async () => {
    const { mailbox, close } = await setup();
    try {
      const replies = await mailbox.call(["w1@a", "ghost@x"], "ping", {}, { timeout: 300 });
      assert.deepEqual(replies, [{ "w1@a": "pong" }]);
      const none = await mailbox.call(["ghost@x"], "ping", {}, { timeout: 20 });
      assert.deepEqual(none, []);
    } finally {
      await close();
    }
  });

  it("concurrent calls get their own replies (tickets)", async () => {
    const { mailbox, close } = await setup();
    try {
      const [a, b, c] = await Promise.all([
        mailbox.call(["w1@a"], "echo", { k: "a" }, { timeout: 2000 }),
        mailbox.call(["w1@a"], "echo", { k: "b" }, { timeout: 2000 }),
        mailbox.call(["w2@a"], "echo", { k: "c" }, { timeout: 2000 }),
      ]);
      assert.deepEqual(a, [{ "w1@a": { k: "a" } }]);
      assert.deepEqual(b, [{ "w1@a": { k: "b" } }]);
      assert.deepEqual(c, [{ "w2@a": { k: "c" } }]);
    } finally {
      await close();
    }
  });

  it("callback sees each reply; a signal stops collecting", async () => {
    const { mailbox, close } = await setup();
    try {
      const got: PidboxReply[] = [];
      const controller = new AbortController();
      const replies = await mailbox.multiCall("ping", {}, {
        timeout: 60_000,
        callback: (r) => {
          got.push(r);
          if (got.length === 3) controller.abort();
        },
        signal: controller.signal,
      });
      assert.equal(replies.length, 3);
      assert.deepEqual(got, replies);
    } finally {
      await close();
    }
  });

  it("stamps Lamport clocks on requests and replies", async () => {
    const ns = `clock-${uuid()}`;
    const clock = new LamportClock(100);
    const mailbox = new Mailbox(ns, { type: "fanout", connection: conn, clock });
    const nodeClock = new LamportClock(500);
    const nodeBox = new Mailbox(ns, { type: "fanout", connection: conn, clock: nodeClock });
    let seenClock: unknown;
    const node = nodeBox.node("n1", {
      handlers: { ping: (_s, _a, ctx) => (seenClock = ctx.message?.headers.clock, "pong") },
    });
    await node.listen();
    try {
      await mailbox.call(["n1"], "ping", {}, { timeout: 2000 });
      assert.equal(seenClock, 101); // forward() before sending
      assert.ok(nodeClock.value > 500); // adjusted on receive, forwarded on reply
      assert.ok(clock.value > nodeClock.value - 1); // the caller adjusted to the reply's clock
    } finally {
      await node.close();
      await mailbox.close();
    }
  });

  it("puts Kombu's fields on the wire", async () => {
    const ns = `wire-${uuid()}`;
    const mailbox = new Mailbox(ns, { type: "fanout", connection: conn });
    const spy = new Queue(`spy-${ns}`, { exchange: mailbox.exchange, autoDelete: true });
    const channel = await conn.channel();
    await spy.declareOn(channel);
    try {
      await mailbox.cast(["n1"], "hello", { a: 1 });
      const delivery = await channel.basicGet(spy.name, { noAck: true });
      assert.ok(delivery);
      assert.equal(delivery.exchange, `${ns}.pidbox`);
      assert.equal(delivery.routingKey, "");
      assert.equal(delivery.properties.contentType, "application/json");
      assert.equal(delivery.properties.headers?.expires, 0);
      assert.equal(typeof delivery.properties.headers?.clock, "number");
      const body = JSON.parse(bodyText(delivery.body));
      assert.deepEqual(body, {
        method: "hello",
        arguments: { a: 1 },
        destination: ["n1"],
        pattern: null,
        matcher: null,
      });
      // A call adds ticket and reply_to, and an absolute expiry in seconds.
      const before = Date.now() / 1000;
      const pending = mailbox.call(["nobody"], "hello", {}, { timeout: 100 });
      let call;
      for (let i = 0; i < 100 && !call; i++) {
        call = await channel.basicGet(spy.name, { noAck: true });
        if (!call) await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(call, "the call request was published");
      const callBody = JSON.parse(bodyText(call.body));
      assert.match(callBody.ticket, /^[0-9a-f-]{36}$/);
      assert.deepEqual(callBody.reply_to, {
        exchange: `reply.${ns}.pidbox`,
        routing_key: await mailbox.oid(),
      });
      const expires = call.properties.headers?.expires as number;
      assert.ok(expires >= before + 0.1 && expires < before + 60);
      await pending;
    } finally {
      await channel.close();
      await mailbox.close();
    }
  });

  it("drops requests whose expiry has passed", async () => {
    const ns = `exp-${uuid()}`;
    const mailbox = new Mailbox(ns, { type: "fanout", connection: conn });
    let ran = 0;
    const node = mailbox.node("n1", { handlers: { go: () => void ran++ } });
    await node.listen();
    try {
      await conn.producer().publish(
        { method: "go", arguments: {}, destination: null, pattern: null, matcher: null },
        { exchange: mailbox.exchange.name, headers: { clock: 1, expires: Date.now() / 1000 - 5 } },
      );
      await mailbox.abcast("go");
      await mailbox.multiCall("go", {}, { limit: 1, timeout: 2000 });
      assert.equal(ran, 2); // the abcast and the call, not the expired one
    } finally {
      await node.close();
      await mailbox.close();
    }
  });

  it("publishes through a producer pool when given one (Kombu's producer_pool)", async () => {
    const ns = `pool-${uuid()}`;
    const connections = new ConnectionPool(new Connection("memory://"), { limit: 2 });
    const pool = new ProducerPool(connections, { limit: 2 });
    const seen: string[] = [];
    const nodeBox = new Mailbox(ns, { type: "fanout", connection: conn });
    const node = nodeBox.node("n1", { handlers: { note: (_s, a) => void seen.push(String(a.t)) } });
    await node.listen();
    try {
      // No connection at all: casting needs only the pool.
      const castOnly = new Mailbox(ns, { type: "fanout", producerPool: pool });
      await castOnly.abcast("note", { t: "via pool" });
      await assert.rejects(castOnly.multiCall("note", { t: "x" }), NotBoundError);
      const caller = new Mailbox(ns, { type: "fanout", connection: conn, producerPool: pool });
      assert.deepEqual(await caller.call(["n1"], "note", { t: "call" }, { timeout: 2000 }), [
        { n1: null },
      ]);
      await caller.close();
      assert.deepEqual(seen, ["via pool", "call"]);
      assert.equal(connections.inUse, 0);
    } finally {
      await node.close();
      await nodeBox.close();
      await pool.close();
      await connections.close();
    }
  });

  it("refuses to work without a connection", async () => {
    const mailbox = new Mailbox("nobody");
    await assert.rejects(mailbox.abcast("x"), NotBoundError);
    await assert.rejects(mailbox.node("n").listen(), NotBoundError);
  });

  it("Node.handleMessage follows Kombu's destination rules", async () => {
    const mailbox = new Mailbox("rules");
    const node = mailbox.node("w1@h", { handlers: { ping: () => "pong" } });
    const req = (extra: object) => ({
      method: "ping",
      arguments: {},
      destination: null,
      pattern: null,
      matcher: null,
      ...extra,
    });
    assert.equal(await node.handleMessage(req({})), "pong");
    assert.equal(await node.handleMessage(req({ destination: [] })), "pong");
    assert.equal(await node.handleMessage(req({ destination: ["w1@h"] })), "pong");
    assert.equal(await node.handleMessage(req({ destination: ["w2@h"] })), undefined);
    assert.equal(await node.handleMessage(req({ pattern: "w1*", matcher: "glob" })), "pong");
    assert.equal(await node.handleMessage(req({ pattern: "w2*", matcher: "glob" })), undefined);
    assert.equal(await node.handleMessage(req({ pattern: "w2*" })), undefined);
    assert.equal(await node.handleMessage(req({ pattern: "(", matcher: "pcre" })), undefined);
    assert.equal(await node.handleMessage(req({ pattern: "x", matcher: "unknown" })), undefined);
    assert.equal(await node.handleMessage("junk"), undefined);
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
  describe(`pidbox on ${broker.name}`, () => {
    let conn: Connection;
    before(() => {
      if (broker.skip.reason) return;
      conn = new Connection(broker.url);
    });
    after(() => {
      if (broker.skip.reason) return;
      return conn?.close();
    });

    for (const type of ["fanout", "direct"] as const) {
      it(`call, multiCall and patterns over a ${type} mailbox`, broker.skip.options(), async () => {
        const ns = `bk-${uuid()}`;
        const mailbox = new Mailbox(ns, { type, connection: conn });
        const nodes = ["a@x", "b@x", "c@y"].map((hostname) =>
          mailbox.node(hostname, { handlers: { who: () => hostname, echo: (_s, args) => args } })
        );
        try {
          for (const node of nodes) await node.listen();
          const options = { timeout: 5000 };
          assert.deepEqual(await mailbox.call(["b@x"], "echo", { k: [1, "é"] }, options), [
            { "b@x": { k: [1, "é"] } },
          ]);
          assert.deepEqual(
            sortReplies(await mailbox.multiCall("who", {}, { ...options, limit: 3 })),
            [{ "a@x": "a@x" }, { "b@x": "b@x" }, { "c@y": "c@y" }],
          );
          assert.deepEqual(
            sortReplies(
              await mailbox.multiCall("who", {}, { ...options, limit: 2, pattern: "*@x" }),
            ),
            [{ "a@x": "a@x" }, { "b@x": "b@x" }],
          );
        } finally {
          for (const node of nodes) await node.close();
          await mailbox.close();
        }
      });
    }
  });
}
