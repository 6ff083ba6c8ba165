/**
 * The conformance suite every wakame transport runs unchanged (in the spirit of Watermill's
 * `pubsub/tests`). A case is skipped only when the transport's Capabilities say it lacks the
 * feature, and the skip names the feature.
 *
 * Third-party transports can run it too:
 * ```ts ignore
 * import { conformanceSuite } from "@wakame/wakame/testing";
 * conformanceSuite({ name: "my-store", url: "mystore://localhost", capabilities: myCapabilities });
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection, type ConnectionOptions } from "../src/connection.ts";
import type { Consumer } from "../src/consumer.ts";
import { Exchange, type ExchangeOptions, Queue, type QueueOptions } from "../src/entity.ts";
import { ChannelError, MessageStateError, TimeoutError } from "../src/errors.ts";
import type { Message } from "../src/message.ts";
import type {
  Capabilities,
  Channel,
  Feature,
  FieldTable,
  ReturnedMessage,
} from "../src/transport.ts";
import { hasFeature } from "../src/transport.ts";
import { serializers } from "../src/serialization.ts";

/**
 * Why a conformance case was skipped: `"env"`, the target is missing from this machine;
 * `"capability"`, the transport lacks the feature the case checks, by design.
 */
export type ConformanceSkipKind = "env" | "capability";

/** What the suite runs against. */
export interface ConformanceTarget {
  /** Name shown in the report. */
  name: string;
  /** Broker URL. */
  url: string;
  /** The transport's capabilities (its exported object): they decide which cases are skipped. */
  capabilities: Capabilities;
  /** Connection options (transport options such as a short polling interval). */
  options?: ConnectionOptions;
  /**
   * Skip every case with this reason: the target is missing from this machine (a broker that
   * is not running). Reported as an `"env"` skip.
   */
  skip?: string | false;
  /**
   * Called once for each skipped case, as the suite registers it: `"env"` when `skip` is set,
   * `"capability"` (with the feature's name) when the capabilities lack what the case needs.
   * By default it prints `WAKAME-SKIP <kind> conformance <name>: <reason>`, the line wakame's
   * own runner counts; give your own to count skips another way.
   */
  onSkip?: (kind: ConformanceSkipKind, reason: string) => void;
  /** Longest wait for one expected message, in ms (default 5000). */
  timeout?: number;
  /** Queue options every case adds (SQS or Azure naming, durability). */
  queueOptions?: QueueOptions;
  /** Runs before the suite (start an emulator). */
  setup?: () => Promise<void>;
  /** Runs after the suite. */
  teardown?: () => Promise<void>;
  /**
   * Looks at the store from outside the connections under test. Required when the capabilities
   * say `persistent`: the store outlives a connection, so an ack that only updated the client's
   * own bookkeeping leaves a record behind that no other question would find.
   */
  inspect?: ConformanceInspector;
}

/** How the suite looks at a store without going through the transport under test. */
export interface ConformanceInspector {
  /**
   * Counts what the store still holds for `queue`: messages ready for delivery plus deliveries
   * not acknowledged yet (Redis's `unacked` hash, SQS in-flight messages, Azure invisible ones).
   * The suite asks only about queues it filled through the default exchange (routing key = queue
   * name), and only after closing the connection that consumed from them, so a broker that gives
   * unacknowledged messages back on close (AMQP) may answer with its ready count.
   *
   * @param queue the queue's name as the suite declared it
   * @returns how many messages the store holds for it
   */
  held(queue: string): Promise<number>;
}

/**
 * One topic-routing table, written by hand from RabbitMQ's semantics (not computed by any
 * matcher) and checked on every transport with topic exchanges, RabbitMQ included. Each row:
 * binding key, routing key, whether a queue bound with that key gets the message. Words are
 * split on `.`; a word may be empty; `*` is exactly one word, `#` zero or more.
 */
export const TOPIC_TABLE: ReadonlyArray<
  readonly [bindingKey: string, routingKey: string, matches: boolean]
> = [
  ["a.b", "a.b", true],
  ["a.b", "a.bb", false],
  ["a.b", "a.b.c", false],
  ["a.b", "A.B", false],
  ["a.#", "a", true],
  ["a.#", "a.b", true],
  ["a.#", "a.b.c", true],
  ["a.#", "b.a", false],
  ["a.#", "ab", false],
  ["#", "", true],
  ["#", "a", true],
  ["#", "anything.at.all", true],
  ["#.#", "", true],
  ["#.#", "a", true],
  ["#.#", "a.b.c", true],
  ["#.c", "c", true],
  ["#.c", "a.b.c", true],
  ["#.c", "a.c.d", false],
  ["*.c", "b.c", true],
  ["*.c", "a.b.c", false],
  ["*.c", "c", false],
  ["*.c", ".c", true],
  ["a.*", "a", false],
  ["a.*", "a.b", true],
  ["a.*", "a.b.c", false],
  ["a.*", "a.", true],
  ["a.*.c", "a.b.c", true],
  ["a.*.c", "a.b.b.c", false],
  ["a.*.c", "a.c", false],
  ["a.*.c", "a..c", true],
  ["a.#.c", "a.c", true],
  ["a.#.c", "a.x.y.c", true],
  ["a.#.c", "a.c.x", false],
  ["a..b", "a..b", true],
  ["a..b", "a.b", false],
  ["a..b", "a.x.b", false],
  ["*.*", "a.b", true],
  ["*.*", "a", false],
  ["*.*", "a.b.c", false],
  ["*.#", "a", true],
  ["*.#", "a.b.c", true],
  ["#.b.#", "b", true],
  ["#.b.#", "a.b.c", true],
  ["#.b.#", "a.bc", false],
];

let counter = 0;

/** A name no other case or run uses. */
export function uniqueName(prefix: string): string {
  return `wk-${prefix}-${Date.now().toString(36)}${(++counter).toString(36)}${
    Math.random().toString(36).slice(2, 6)
  }`;
}

/**
 * Registers the suite's cases with `node:test`.
 *
 * @param target the transport under test
 */
export function conformanceSuite(target: ConformanceTarget): void {
  const timeout = target.timeout ?? 5000;
  const capabilities: Capabilities = target.capabilities;
  const open: Connection[] = [];

  const connect = async (): Promise<Connection> => {
    const conn = new Connection(target.url, target.options);
    open.push(conn);
    await conn.connect();
    return conn;
  };

  const lacks = (feature: Feature): string | false =>
    hasFeature(capabilities, feature) ? false : `${target.name} lacks "${feature}"`;

  const report = target.onSkip ??
    ((kind: ConformanceSkipKind, reason: string) =>
      console.log(`WAKAME-SKIP ${kind} conformance ${target.name}: ${reason}`));

  /**
   * Options for one case: skipped when the whole target is (`target.skip`, an environment
   * skip), or when the transport lacks one of `features` (a capability skip, by name). Each
   * skipped case is reported once, as it is registered, so every runner can count it (Bun and
   * Node leave a skipped `describe` out of their counts).
   */
  const needs = (...features: Feature[]): { skip: string | false } => {
    if (target.skip) {
      report("env", target.skip);
      return { skip: target.skip };
    }
    const missing = features.map(lacks).find((reason) => reason !== false) ?? false;
    if (missing) report("capability", missing);
    return { skip: missing };
  };

  const queue = (prefix: string, options: QueueOptions = {}): Queue =>
    new Queue(uniqueName(prefix), { ...target.queueOptions, ...options });

  describe(`conformance: ${target.name}`, () => {
    before(async () => {
      if (target.skip) return;
      await target.setup?.();
      await connect();
    });

    after(async () => {
      if (target.skip) return;
      await Promise.allSettled(open.map((conn) => conn.close()));
      await target.teardown?.();
    });

    /**
     * Starts a consumer that collects exactly `n` messages; resolves once it is consuming, with
     * `done` resolving to the messages (or failing after the timeout).
     */
    async function startCollect(
      conn: Connection,
      queues: Queue[],
      n: number,
      options: { ack?: boolean; prefetchCount?: number } = {},
    ): Promise<{ done: Promise<Message[]> }> {
      const got: Message[] = [];
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      const consumer = conn.consumer(queues, {
        prefetchCount: options.prefetchCount,
        callbacks: [async (_body, message) => {
          got.push(message);
          if (options.ack !== false) await message.ack();
          if (got.length >= n) finish();
        }],
      });
      await consumer.consume();
      const done = (async () => {
        try {
          await withTimeout(finished, timeout, () => `expected ${n} messages, got ${got.length}`);
        } finally {
          await consumer.cancel();
        }
        return got;
      })();
      return { done };
    }

    /** Collects exactly `n` messages from a consumer, failing after the timeout. */
    async function collect(
      conn: Connection,
      queues: Queue[],
      n: number,
      options: { ack?: boolean; prefetchCount?: number } = {},
    ): Promise<Message[]> {
      return await (await startCollect(conn, queues, n, options)).done;
    }

    /**
     * Proves a queue holds nothing any more by asking: a fresh connection's basicGet answers
     * undefined, and the store itself (through `target.inspect`) counts nothing ready or
     * unacknowledged. Call it after closing the connection that consumed, so that anything not
     * really settled has gone back to the queue.
     */
    async function assertGone(name: string): Promise<void> {
      const conn = await connect();
      assert.deepEqual(await drainByGet(conn, name), [], `queue "${name}" still delivers`);
      const held = target.inspect?.held;
      if (held) {
        const count = await eventually(() => held(name), (n) => n === 0, timeout);
        assert.equal(count, 0, `the store still holds ${count} message(s) of queue "${name}"`);
      }
    }

    const requireInspector = (): void => {
      if (!capabilities.persistent) return;
      assert.ok(
        target.inspect,
        `${target.name} is persistent: give the suite inspect.held(queue) to look at the store`,
      );
    };

    /**
     * Takes what is in a queue now with basicGet (proving absence by asking). It asks on the
     * producers' channel: AMQP orders a publish before a later get only within one channel.
     */
    async function drainByGet(conn: Connection, name: string): Promise<unknown[]> {
      const channel = await conn.defaultChannel();
      const bodies: unknown[] = [];
      for (let i = 0; i < 1000; i++) {
        const delivery = await channel.basicGet(name, { noAck: true });
        if (!delivery) break;
        const { contentType, contentEncoding } = delivery.properties;
        bodies.push(serializers.loads(delivery.body, contentType, contentEncoding));
      }
      return bodies;
    }

    /** Gets one message by polling basicGet for up to the timeout (for stores that lag). */
    async function getOne(conn: Connection, name: string): Promise<Message | undefined> {
      // Passive: the queue exists with its own arguments (x-max-priority ...), which a plain
      // redeclaration would contradict (RabbitMQ answers 406).
      const q = new Queue(name, { passive: true });
      const simple = conn.simpleQueue(q);
      try {
        return await simple.get({ timeout });
      } catch (error) {
        if (error instanceof TimeoutError) return undefined;
        throw error;
      }
    }

    it("connects and answers supports() from its capabilities", needs(), async () => {
      const conn = await connect();
      assert.equal(conn.connected, true);
      assert.deepEqual(conn.capabilities, capabilities);
      for (const type of capabilities.exchangeTypes) assert.equal(conn.supports(type), true);
      assert.equal(conn.supports("priority"), capabilities.priority !== "none");
    });

    it(
      "publishes to a direct exchange and consumes with body, headers and properties",
      needs(),
      async () => {
        const conn = await connect();
        const exchange = new Exchange(uniqueName("direct"), { type: "direct" });
        const q = queue("direct", { exchange, routingKey: "rk" });
        await conn.producer().publish({ hello: "wörld", n: 1 }, {
          exchange,
          routingKey: "rk",
          declare: [q],
          headers: { "x-trace": "t-1", count: 3 },
          correlationId: "corr-1",
          replyTo: "reply-queue",
          messageId: "mid-1",
          type: "greeting",
          appId: "conformance",
        });
        const [message] = await collect(conn, [q], 1);
        assert.deepEqual(message.payload, { hello: "wörld", n: 1 });
        assert.equal(message.contentType, "application/json");
        assert.equal(message.headers["x-trace"], "t-1");
        assert.equal(Number(message.headers["count"]), 3);
        assert.equal(message.correlationId, "corr-1");
        assert.equal(message.replyTo, "reply-queue");
        assert.equal(message.properties.messageId, "mid-1");
        assert.equal(message.properties.type, "greeting");
        assert.equal(message.properties.appId, "conformance");
        assert.equal(message.deliveryInfo.exchange, exchange.name);
        assert.equal(message.deliveryInfo.routingKey, "rk");
        assert.equal(message.deliveryInfo.redelivered, false);
      },
    );

    it("routes the default exchange by queue name", needs(), async () => {
      const conn = await connect();
      const q = queue("default");
      await conn.producer().publish("plain", { routingKey: q.name, declare: [q] });
      const [message] = await collect(conn, [q], 1);
      assert.equal(message.payload, "plain");
    });

    it("get() on an empty queue answers undefined", needs(), async () => {
      const conn = await connect();
      const channel = await conn.channel();
      const q = queue("empty").bind(channel);
      await q.declare();
      assert.equal(await q.get(), undefined);
    });

    it("keeps the order of publication in a queue", needs("fifo"), async () => {
      const conn = await connect();
      const q = queue("order");
      const producer = conn.producer();
      for (let i = 0; i < 20; i++) await producer.publish(i, { routingKey: q.name, declare: [q] });
      const got = await collect(conn, [q], 20);
      assert.deepEqual(got.map((m) => m.payload), Array.from({ length: 20 }, (_, i) => i));
    });

    it("routes a topic exchange as RabbitMQ does", needs("topic"), async () => {
      const conn = await connect();
      const channel = await conn.channel();
      // One exchange and one queue per binding key: the queue must get exactly the routing keys
      // the table marks as matching, read back by asking (basicGet until undefined).
      const groups = new Map<string, [string, boolean][]>();
      for (const [binding, key, matches] of TOPIC_TABLE) {
        let rows = groups.get(binding);
        if (!rows) groups.set(binding, rows = []);
        rows.push([key, matches]);
      }
      const missing: string[] = [];
      const extra: string[] = [];
      for (const [binding, rows] of groups) {
        const exchange = new Exchange(uniqueName("topic"), { type: "topic" });
        const q = queue("topic", { exchange, routingKey: binding }).bind(channel);
        await q.declare();
        const producer = conn.producer({ exchange });
        for (const [key] of rows) await producer.publish({ key }, { routingKey: key });
        const got = (await drainByGet(conn, q.name)).map((b) => (b as { key: string }).key);
        for (const [key, matches] of rows) {
          if (matches && !got.includes(key)) missing.push(`"${binding}" <- "${key}"`);
          if (!matches && got.includes(key)) extra.push(`"${binding}" <- "${key}"`);
        }
      }
      assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
    });

    it("copies a fanout message to every bound queue", needs("fanout"), async () => {
      const conn = await connect();
      const exchange = new Exchange(uniqueName("fanout"), { type: "fanout" });
      const a = queue("fan-a", { exchange });
      const b = queue("fan-b", { exchange });
      const consumerConn = await connect();
      // A store-side fanout (Redis PUB/SUB) reaches only queues bound when it publishes: wait
      // for each consumer to be ready (consume() resolves once its queue is declared and bound).
      const gotA = await startCollect(consumerConn, [a], 1);
      const gotB = await startCollect(consumerConn, [b], 1);
      await conn.producer().publish({ to: "all" }, { exchange });
      const [[ma], [mb]] = await Promise.all([gotA.done, gotB.done]);
      assert.deepEqual(ma.payload, { to: "all" });
      assert.deepEqual(mb.payload, { to: "all" });
    });

    it(
      "matches a headers exchange with x-match all and any",
      needs("headers"),
      async () => {
        const conn = await connect();
        const exchange = new Exchange(uniqueName("headers"), { type: "headers" });
        const all = queue("hdr-all", {
          exchange,
          bindingArguments: { "x-match": "all", format: "pdf", type: "report" },
        });
        const any = queue("hdr-any", {
          exchange,
          bindingArguments: { "x-match": "any", format: "pdf", type: "log" },
        });
        const producer = conn.producer({ exchange });
        await producer.publish({ n: 1 }, {
          headers: { format: "pdf", type: "report" },
          declare: [all, any],
        });
        await producer.publish({ n: 2 }, { headers: { format: "zip", type: "log" } });
        await producer.publish({ n: 3 }, { headers: { format: "zip", type: "report" } });
        assert.deepEqual(await drainByGet(conn, all.name), [{ n: 1 }]);
        assert.deepEqual(await drainByGet(conn, any.name), [{ n: 1 }, { n: 2 }]);
      },
    );

    it(
      "acks remove a message from the store; a second ack throws MessageStateError",
      needs(),
      async () => {
        requireInspector();
        const q = queue("ack");
        const conn = await connect();
        await conn.producer().publish(1, { routingKey: q.name, declare: [q] });
        const [message] = await collect(conn, [q], 1);
        await assert.rejects(message.ack(), MessageStateError);
        await assert.rejects(message.reject(), MessageStateError);
        // Closing gives back whatever the broker still counts as unacknowledged.
        await conn.close();
        await assertGone(q.name);
      },
    );

    it("requeue puts a message back, marked redelivered", needs(), async () => {
      const conn = await connect();
      const q = queue("requeue");
      await conn.producer().publish("again", { routingKey: q.name, declare: [q] });
      const [first] = await collect(conn, [q], 1, { ack: false });
      assert.equal(first.deliveryInfo.redelivered, false);
      await first.requeue();
      const [second] = await collect(conn, [q], 1);
      assert.equal(second.payload, "again");
      if (!lacks("redeliveredFlag")) assert.equal(second.deliveryInfo.redelivered, true);
    });

    it("reject without requeue drops the message", needs(), async () => {
      requireInspector();
      const q = queue("reject");
      const conn = await connect();
      await conn.producer().publish("drop me", { routingKey: q.name, declare: [q] });
      const [message] = await collect(conn, [q], 1, { ack: false });
      await message.reject({ requeue: false });
      await conn.close();
      await assertGone(q.name);
    });

    it("gives unacked messages back when their connection closes", needs(), async () => {
      const q = queue("restore");
      const first = await connect();
      await first.producer().publish("unacked", { routingKey: q.name, declare: [q] });
      const [message] = await collect(first, [q], 1, { ack: false });
      assert.equal(message.acknowledged, false);
      await first.close();
      await assert.rejects(message.ack(), MessageStateError);
      const second = await connect();
      const again = await getOne(second, q.name);
      assert.ok(again, "the unacked message came back");
      assert.equal(again.payload, "unacked");
      if (!lacks("redeliveredFlag")) assert.equal(again.deliveryInfo.redelivered, true);
      await again.ack();
    });

    it("never has more unacked deliveries than the prefetch count", needs(), async () => {
      const conn = await connect();
      const q = queue("prefetch");
      const producer = conn.producer();
      for (let i = 0; i < 6; i++) await producer.publish(i, { routingKey: q.name, declare: [q] });
      const held: Message[] = [];
      let twoArrived!: () => void;
      const arrived = new Promise<void>((resolve) => (twoArrived = resolve));
      const consumer = conn.consumer([q], {
        prefetchCount: 2,
        callbacks: [(_body, message) => {
          held.push(message);
          if (held.length === 2) twoArrived();
        }],
      });
      await consumer.consume();
      await withTimeout(arrived, timeout, () => `expected 2 deliveries, got ${held.length}`);
      // Ask the broker: four are still waiting, so no third delivery is in flight.
      const ok = await (await conn.channel()).queueDeclare({
        name: q.name,
        passive: true,
        durable: q.durable,
      });
      if (ok.messageCount !== -1) assert.equal(ok.messageCount, 4);
      assert.equal(held.length, 2);
      const rest = collectFrom(held, 6, timeout);
      for (const message of [...held]) await message.ack();
      await rest.wait(async (message) => await message.ack());
      await consumer.cancel();
      assert.deepEqual(held.map((m) => m.payload).sort(), [0, 1, 2, 3, 4, 5]);
    });

    it("purges a queue and reports its size", needs(), async () => {
      const conn = await connect();
      const simple = conn.simpleQueue(queue("purge"));
      for (let i = 0; i < 3; i++) await simple.put(i);
      assert.equal(await eventually(() => simple.qsize(), (n) => n === 3, timeout), 3);
      assert.equal(await simple.clear(), 3);
      assert.equal(await simple.qsize(), 0);
      await simple.close();
    });

    it("returns an unroutable mandatory message", needs("mandatory"), async () => {
      const conn = await connect();
      const exchange = new Exchange(uniqueName("mandatory"), { type: "direct" });
      const returned = new Promise<ReturnedMessage>((resolve) => {
        const producer = conn.producer({ exchange, onReturn: resolve });
        void producer.publish("lost", { routingKey: "nowhere", mandatory: true });
      });
      const message = await withTimeout(returned, timeout, () => "no basic.return");
      assert.equal(message.replyCode, 312);
      assert.equal(message.routingKey, "nowhere");
    });

    it("round-trips a zlib-compressed body with Kombu's header", needs(), async () => {
      const conn = await connect();
      const q = queue("zlib");
      const big = { text: "wakame ".repeat(500) };
      await conn.producer().publish(big, { routingKey: q.name, declare: [q], compression: "zlib" });
      const [message] = await collect(conn, [q], 1);
      assert.equal(message.headers.compression, "application/x-gzip");
      assert.ok(message.body.length < 200, "the body on the wire is compressed");
      assert.deepEqual(message.payload, big);
    });

    it("survives undecodable, disallowed and failing messages", needs(), async () => {
      const conn = await connect();
      const q = queue("poison");
      const producer = conn.producer();
      await producer.publish("{not json", {
        routingKey: q.name,
        declare: [q],
        contentType: "application/json",
      });
      await producer.publish("pickled?", {
        routingKey: q.name,
        contentType: "application/x-python-serialize",
        contentEncoding: "binary",
      });
      await producer.publish({ boom: true }, { routingKey: q.name });
      await producer.publish({ ok: true }, { routingKey: q.name });
      const decodeErrors: string[] = [];
      const callbackErrors: unknown[] = [];
      const bodies: unknown[] = [];
      let finished!: () => void;
      const done = new Promise<void>((resolve) => (finished = resolve));
      const consumer = conn.consumer([q], {
        onDecodeError: async (message, error) => {
          decodeErrors.push((error as Error).name);
          await message.reject({ requeue: false });
        },
        onError: (error) => callbackErrors.push(error),
        callbacks: [async (body, message) => {
          bodies.push(body);
          await message.ack();
          if ((body as { boom?: boolean }).boom) throw new Error("callback failed");
          finished();
        }],
      });
      await consumer.consume();
      await withTimeout(done, timeout, () => `consumer stopped after ${bodies.length} messages`);
      await consumer.cancel();
      assert.deepEqual(decodeErrors.sort(), ["ContentDisallowedError", "DecodeError"]);
      assert.equal(callbackErrors.length, 1);
      assert.deepEqual(bodies, [{ boom: true }, { ok: true }]);
    });

    it("iterates with for await and cancels on break", needs(), async () => {
      const conn = await connect();
      const q = queue("iterate");
      const producer = conn.producer();
      for (let i = 0; i < 3; i++) await producer.publish(i, { routingKey: q.name, declare: [q] });
      const consumer: Consumer = conn.consumer([q], { prefetchCount: 3 });
      const seen: unknown[] = [];
      const loop = (async () => {
        for await (const message of consumer) {
          seen.push(message.payload);
          await message.ack();
          if (seen.length === 2) break;
        }
      })();
      await withTimeout(loop, timeout, () => `iterated ${seen.length} messages`);
      assert.equal(seen.length, 2);
      assert.equal(consumer.consuming, false);
      const left = await getOne(conn, q.name);
      assert.ok(left, "the message not taken by the loop is still there");
      await left.ack();
      assert.deepEqual([...seen, left.payload].sort(), [0, 1, 2]);
    });

    it("consumes from several queues", needs(), async () => {
      const conn = await connect();
      const a = queue("multi-a");
      const b = queue("multi-b");
      const producer = conn.producer();
      for (let i = 0; i < 3; i++) {
        await producer.publish({ q: "a", i }, { routingKey: a.name, declare: [a] });
        await producer.publish({ q: "b", i }, { routingKey: b.name, declare: [b] });
      }
      const got = await collect(conn, [a, b], 6);
      const count = (name: string) =>
        got.filter((m) => (m.payload as { q: string }).q === name).length;
      assert.equal(count("a"), 3);
      assert.equal(count("b"), 3);
    });

    it("SimpleQueue puts and gets; getNowait raises when empty", needs(), async () => {
      const conn = await connect();
      await using simple = conn.simpleQueue(queue("simple"));
      await simple.put({ n: 1 });
      const message = await simple.get({ timeout });
      assert.deepEqual(message.payload, { n: 1 });
      await message.ack();
      await assert.rejects(simple.getNowait(), TimeoutError);
    });

    it("keeps messages across connections", needs("persistent"), async () => {
      const q = queue("persist");
      const first = await connect();
      await first.producer().publish("kept", { routingKey: q.name, declare: [q] });
      await first.close();
      const second = await connect();
      const message = await getOne(second, q.name);
      assert.equal(message?.payload, "kept");
      await message?.ack();
    });

    it("delivers by priority", needs("priority"), async () => {
      const conn = await connect();
      const q = queue("priority", { maxPriority: 10 });
      const producer = conn.producer();
      await producer.publish("low", { routingKey: q.name, declare: [q], priority: 0 });
      await producer.publish("high", { routingKey: q.name, priority: 9 });
      await eventually(async () => (await drainCount(conn, q.name)), (n) => n === 2, timeout);
      const first = await getOne(conn, q.name);
      // RabbitMQ serves the highest first; Kombu's Redis steps serve priority 0 first.
      const expected = capabilities.priority === "steps" ? "low" : "high";
      assert.equal(first?.payload, expected);
      await first?.ack();
    });

    it("expires messages after their TTL", needs("messageTtl"), async () => {
      const conn = await connect();
      const q = queue("ttl");
      await conn.producer().publish("short", {
        routingKey: q.name,
        declare: [q],
        expiration: 50,
      });
      await conn.producer().publish("long", { routingKey: q.name });
      await new Promise((resolve) => setTimeout(resolve, 300)); // let the first TTL pass
      assert.deepEqual(await drainByGet(conn, q.name), ["long"]);
    });

    /**
     * What a declaration or binding ends in: `ok`, or the error's class and reply code, so that
     * a case compares every outcome at once and a failure shows all of them.
     */
    async function outcome(attempt: (channel: Channel) => Promise<unknown>): Promise<string> {
      const conn = await connect();
      // A fresh channel each time: AMQP closes a channel on a channel error.
      const channel = await conn.channel();
      try {
        await attempt(channel);
        return "ok";
      } catch (error) {
        if (!(error instanceof ChannelError)) throw error;
        return `${error.name} ${error.replyCode}`;
      } finally {
        if (channel.isOpen) await channel.close();
      }
    }

    /** Deletes what a case declared (RabbitMQ keeps durable entities). */
    async function cleanUp(exchanges: string[], queues: string[]): Promise<void> {
      const channel = await (await connect()).channel();
      for (const name of exchanges) await channel.exchangeDelete(name);
      for (const name of queues) await channel.queueDelete(name);
      await channel.close();
    }

    it(
      "refuses an exchange redeclared with another type or durability (406)",
      needs(),
      async () => {
        const name = uniqueName("equiv");
        const declare = (options: ExchangeOptions) => (channel: Channel) =>
          new Exchange(name, options).declareOn(channel);
        try {
          const got = {
            first: await outcome(declare({ type: "direct", durable: true })),
            same: await outcome(declare({ type: "direct", durable: true })),
            otherType: await outcome(declare({ type: "fanout", durable: true })),
            otherDurable: await outcome(declare({ type: "direct", durable: false })),
          };
          assert.deepEqual(got, {
            first: "ok",
            same: "ok",
            otherType: "PreconditionFailedError 406",
            otherDurable: "PreconditionFailedError 406",
          });
        } finally {
          await cleanUp([name], []);
        }
      },
    );

    it(
      "finds only existing exchanges passively; binds only to existing ones (404)",
      needs(),
      async () => {
        const name = uniqueName("exists");
        const missing = uniqueName("missing");
        const q = queue("bind404");
        const passive = (exchange: string) => (channel: Channel) =>
          new Exchange(exchange, { type: "direct", passive: true }).declareOn(channel);
        try {
          const got = {
            declare: await outcome((channel) => new Exchange(name).declareOn(channel)),
            passiveExisting: await outcome(passive(name)),
            passiveMissing: await outcome(passive(missing)),
            queue: await outcome((channel) => q.bind(channel).declare()),
            bindExisting: await outcome((channel) => channel.queueBind(q.name, name, "k")),
            bindMissing: await outcome((channel) => channel.queueBind(q.name, missing, "k")),
          };
          assert.deepEqual(got, {
            declare: "ok",
            passiveExisting: "ok",
            passiveMissing: "NotFoundError 404",
            queue: "ok",
            bindExisting: "ok",
            bindMissing: "NotFoundError 404",
          });
        } finally {
          await cleanUp([name], [q.name]);
        }
      },
    );

    it(
      "refuses a queue redeclared with other arguments (406) and a binding of a missing one (404)",
      needs("queueEquivalence"),
      async () => {
        const exchange = uniqueName("qequiv");
        const name = queue("qequiv").name;
        const declare = (args: FieldTable) => (channel: Channel) =>
          new Queue(name, { ...target.queueOptions, queueArguments: args }).declareOn(channel);
        try {
          const got = {
            first: await outcome(declare({ "x-message-ttl": 60000 })),
            same: await outcome(declare({ "x-message-ttl": 60000 })),
            otherTtl: await outcome(declare({ "x-message-ttl": 30000 })),
            withoutTtl: await outcome(declare({})),
            exchange: await outcome((channel) => new Exchange(exchange).declareOn(channel)),
            bindMissingQueue: await outcome((channel) =>
              channel.queueBind(uniqueName("noqueue"), exchange, "k")
            ),
          };
          assert.deepEqual(got, {
            first: "ok",
            same: "ok",
            otherTtl: "PreconditionFailedError 406",
            withoutTtl: "PreconditionFailedError 406",
            exchange: "ok",
            bindMissingQueue: "NotFoundError 404",
          });
        } finally {
          await cleanUp([exchange], [name]);
        }
      },
    );

    it(
      "confirms publishes: an accepted one resolves, a refused one rejects",
      needs("confirms", "queueArguments"),
      async () => {
        // The observable effect of confirms: without confirm.select the broker drops a publish
        // to a full queue silently and basicPublish resolves; with it, the broker nacks it.
        const conn = await connect();
        const channel = await conn.channel();
        assert.ok(channel.confirmSelect, `${target.name} has confirms but no confirmSelect()`);
        await channel.confirmSelect();
        const open = queue("confirm").bind(channel);
        await open.declare();
        const full = queue("confirm-full", {
          maxLength: 0,
          queueArguments: { "x-overflow": "reject-publish" },
        }).bind(channel);
        await full.declare();
        const body = { body: new TextEncoder().encode('"c"'), properties: JSON_PROPERTIES };
        await channel.basicPublish("", open.name, body);
        assert.equal(await drainCount(conn, open.name), 1);
        await assert.rejects(
          channel.basicPublish("", full.name, body),
          "a publish the broker refused (x-overflow: reject-publish) was not nacked",
        );
        assert.equal(await drainCount(conn, full.name), 0);
      },
    );
  });

  async function drainCount(conn: Connection, name: string): Promise<number> {
    const channel = await conn.channel();
    try {
      return (await channel.queueDeclare({ name, passive: true })).messageCount;
    } finally {
      await channel.close();
    }
  }
}

const JSON_PROPERTIES = { contentType: "application/json", contentEncoding: "utf-8" } as const;

function collectFrom(
  held: Message[],
  total: number,
  timeout: number,
): { wait(each: (m: Message) => Promise<void>): Promise<void> } {
  return {
    async wait(each) {
      const deadline = Date.now() + timeout;
      let acked = 2;
      while (held.length < total || acked < held.length) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${total} deliveries, got ${held.length}`);
        }
        while (acked < held.length) await each(held[acked++]);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
  };
}

async function eventually<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  timeout: number,
): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
