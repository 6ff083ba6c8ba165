import { connectionInternals } from "../../../src/_connection_internals.ts";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { maybeDeclare, Queue } from "../../../src/entity.ts";
import {
  ChannelError,
  ConfigurationError,
  ConnectionError,
  MessageStateError,
  TimeoutError,
} from "../../../src/errors.ts";
import type { Message } from "../../../src/message.ts";
import type { RetryPolicy } from "../../../src/retry.ts";
import type { Channel, TransportEvent } from "../../../src/transport.ts";
import { FlakyTransport, uniqueVhost, until } from "./_fakes.ts";
import { bodyText } from "../../../mod.ts";

const now: RetryPolicy = { intervalStart: 0, intervalStep: 0, intervalMax: 0 };

/** A connection over the flaky fake, on a fresh memory store. */
function flaky(hosts = ["h1"], options: ConstructorParameters<typeof Connection>[1] = {}) {
  const transport = new FlakyTransport();
  const vhost = uniqueVhost("conn");
  const conn = new Connection(hosts.map((h) => `flaky://${h}/${vhost}`).join(";"), {
    transport,
    recoveryPolicy: { ...now, jitter: false },
    ...options,
  });
  return { conn, transport };
}

const decode = (m: Message) => m.payload;

describe("Connection: connecting", () => {
  it("connects lazily: nothing until connect() or channel()", async () => {
    const { conn, transport } = flaky();
    assert.equal(conn.connected, false);
    assert.deepEqual(transport.attempts, []);
    assert.equal(await conn.connect(), conn);
    assert.equal(conn.connected, true);
    await conn.connect();
    assert.deepEqual(transport.attempts, ["h1"]);
    await conn.close();
    const other = flaky();
    await other.conn.channel();
    assert.equal(other.conn.connected, true);
    await other.conn.close();
  });

  it("answers supports() from the transport's capabilities, after connect() for a URL", async () => {
    const conn = new Connection(`memory:///${uniqueVhost()}`);
    assert.throws(() => conn.supports("topic"), ConfigurationError);
    await conn.connect();
    assert.equal(conn.supports("topic"), true);
    assert.equal(conn.supports("priority"), false);
    assert.equal(conn.supports("persistent"), false);
    await conn.close();
    const { conn: given } = flaky();
    assert.equal(given.supports("headers"), true); // a Transport object is known at once
  });

  it("takes a transport by name instead of the URL's scheme", async () => {
    const conn = new Connection(`anything://ignored/${uniqueVhost()}`, { transport: "memory" });
    await conn.connect();
    assert.equal(conn.supports("fanout"), true);
    assert.equal(conn.capabilities?.crossProcess, false);
    const channel = await conn.channel();
    assert.equal((await channel.queueDeclare({ name: "by-name" })).queue, "by-name");
    await conn.close();
  });

  it("connect() tries each URL once, in order, then fails", async () => {
    const { conn, transport } = flaky(["h1", "h2", "h3"]);
    for (const h of ["h1", "h2", "h3"]) transport.down.add(h);
    await assert.rejects(conn.connect(), ConnectionError);
    assert.deepEqual(transport.attempts, ["h1", "h2", "h3"]);
    assert.equal(conn.connected, false);
    await conn.close();
  });

  it("fails over to the next URL after a failure", async () => {
    const { conn, transport } = flaky(["h1", "h2", "h3"]);
    transport.down.add("h1");
    await conn.connect();
    assert.deepEqual(transport.attempts, ["h1", "h2"]);
    assert.match(conn.asUri(), /^flaky:\/\/h2\//);
    await conn.close();
  });

  it("goes round-robin over the URLs while ensureConnection retries", async () => {
    const { conn, transport } = flaky(["h1", "h2", "h3"]);
    transport.failures = 4;
    await conn.ensureConnection(now);
    assert.deepEqual(transport.attempts, ["h1", "h2", "h3", "h1", "h2"]);
    await conn.close();
  });

  it("ensureConnection tries the next URL at once and waits after each full round (Kombu)", async () => {
    const { conn, transport } = flaky(["h1", "h2", "h3"]);
    transport.failures = 7;
    const waits: number[] = [];
    await conn.ensureConnection({
      intervalStart: 1,
      intervalStep: 2,
      intervalMax: 10,
      onRetry: (_e, _n, delay) => void waits.push(delay),
    });
    assert.deepEqual(waits, [0, 0, 1, 0, 0, 3, 0]);
    assert.equal(transport.attempts.length, 8);
    await conn.close();
    const one = flaky(["h1"]);
    one.transport.failures = 2;
    const single: number[] = [];
    await one.conn.ensureConnection({
      intervalStart: 1,
      intervalStep: 2,
      onRetry: (_e, _n, delay) => void single.push(delay),
    });
    assert.deepEqual(single, [1, 3]);
    await one.conn.close();
  });

  it("visits every URL once per round with the shuffle strategy", async () => {
    const hosts = ["h1", "h2", "h3", "h4"];
    const { conn, transport } = flaky(hosts, { failoverStrategy: "shuffle" });
    transport.failures = 8;
    await conn.ensureConnection(now);
    assert.equal(transport.attempts.length, 9);
    assert.deepEqual(transport.attempts.slice(0, 4).sort(), hosts);
    assert.deepEqual(transport.attempts.slice(4, 8).sort(), hosts);
    await conn.close();
  });

  it("follows a failover function", async () => {
    const { conn, transport } = flaky(["h1", "h2", "h3"], {
      failoverStrategy: (urls) => {
        let i = 0;
        const order = [2, 0, 1];
        return { next: () => ({ value: urls[order[i++ % 3]], done: false }) };
      },
    });
    transport.failures = 3;
    await conn.ensureConnection(now);
    assert.deepEqual(transport.attempts, ["h3", "h1", "h2", "h3"]);
    await conn.close();
  });

  it("ensureConnection retries a flaky transport and respects maxRetries", async () => {
    const { conn, transport } = flaky();
    transport.failures = 2;
    const retries: number[] = [];
    await conn.ensureConnection({ ...now, onRetry: (_e, n) => void retries.push(n) });
    assert.deepEqual(retries, [1, 2]);
    assert.equal(transport.attempts.length, 3);
    await conn.close();
    const second = flaky();
    second.transport.failures = 5;
    await assert.rejects(second.conn.ensureConnection({ ...now, maxRetries: 1 }), ConnectionError);
    assert.equal(second.transport.attempts.length, 2);
    await second.conn.close();
  });

  it("ensureConnection stops when its signal aborts", async () => {
    const { conn, transport } = flaky();
    transport.failures = 100;
    const controller = new AbortController();
    const running = conn.ensureConnection({
      intervalStart: 60_000,
      signal: controller.signal,
      onRetry: () => controller.abort(new Error("give up")),
    });
    await assert.rejects(running, /give up/);
    await conn.close();
  });

  it("close() stops a running ensureConnection, even one with its own signal", async () => {
    const { conn, transport } = flaky();
    transport.failures = 100;
    const own = new AbortController();
    let waiting!: () => void;
    const retried = new Promise<void>((resolve) => (waiting = resolve));
    const running = conn.ensureConnection({
      intervalStart: 60_000,
      signal: own.signal,
      onRetry: () => waiting(),
    });
    await retried;
    await conn.close();
    await assert.rejects(running, ConnectionError);
    await assert.rejects(conn.connect(), ConnectionError);
  });

  it("closes a connection that opens only after the connect timeout", async () => {
    const transport = new FlakyTransport();
    const real = transport.connect.bind(transport);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    transport.connect = async (params) => {
      await gate;
      return await real(params);
    };
    const conn = new Connection(`flaky://late/${uniqueVhost()}`, { transport, connectTimeout: 5 });
    await assert.rejects(conn.connect(), /timed out after 5 ms/);
    release();
    await until(() => transport.connections.length === 1, "the late connection");
    await until(() => transport.last.isClosed, "its close");
    assert.equal(conn.connected, false);
    await conn.close();
  });

  it("passes URL parts, query options and transport options to the transport", async () => {
    const transport = new FlakyTransport();
    const conn = new Connection(
      "flaky://u:p@host:1234/vh?polling_interval=0.5&topic_rules=kombu&batch_size=3",
      {
        transport,
        transportOptions: { batchSize: 7 },
        heartbeat: 10_000,
        connectTimeout: 1234,
      },
    );
    await conn.connect();
    const params = transport.last.params;
    assert.equal(params.hostname, "host");
    assert.equal(params.port, 1234);
    assert.equal(params.userid, "u");
    assert.equal(params.password, "p");
    assert.equal(params.virtualHost, "vh");
    assert.equal(params.heartbeat, 10);
    assert.equal(params.connectTimeout, 1234);
    assert.equal(params.ssl, false);
    // The URL's query reaches the transport as written (Kombu's names and units).
    assert.deepEqual(params.transportOptions, { batchSize: 7 });
    assert.deepEqual(params.queryOptions, {
      polling_interval: "0.5",
      topic_rules: "kombu",
      batch_size: "3",
    });
    await conn.close();
    const tls = new FlakyTransport();
    const secure = new Connection("flaky://h/?ssl=true", {
      transport: tls,
      hostname: "other",
      port: 9,
      virtualHost: "v2",
    });
    await secure.connect();
    assert.equal(tls.last.params.ssl, true);
    assert.equal(tls.last.params.hostname, "other");
    assert.equal(tls.last.params.port, 9);
    assert.equal(tls.last.params.virtualHost, "v2");
    await secure.close();
  });

  it("refuses an empty URL list", () => {
    assert.throws(() => new Connection(" ; "), ConfigurationError);
    assert.throws(() => new Connection([]), ConfigurationError);
  });

  it("shares one default channel and opens new ones on demand", async () => {
    const { conn } = flaky();
    const a = await conn.defaultChannel();
    assert.equal(await conn.defaultChannel(), a);
    const b = await conn.channel();
    assert.notEqual(a, b);
    await a.close();
    const c = await conn.defaultChannel();
    assert.notEqual(c, a);
    assert.equal(c.isOpen, true);
    await conn.close();
  });

  it("forwards transport events, and clones without connecting", async () => {
    const { conn, transport } = flaky(["h1", "h2"]);
    const events: TransportEvent[] = [];
    conn.onEvent = (e) => events.push(e);
    await conn.connect();
    transport.last.onEvent?.({ type: "blocked", reason: "low memory" });
    assert.deepEqual(events, [{ type: "blocked", reason: "low memory" }]);
    const copy = conn.clone();
    assert.equal(copy.connected, false);
    assert.deepEqual(copy.alternates, conn.alternates);
    await copy.close();
    await conn.release();
    assert.equal(conn.connected, false);
    await conn.close(); // twice is fine
    await assert.rejects(conn.connect(), ConnectionError);
  });

  it("closes with await using", async () => {
    let transport: FlakyTransport;
    {
      const made = flaky();
      transport = made.transport;
      await using conn = made.conn;
      await conn.connect();
    }
    assert.equal(transport.last.isClosed, true);
  });
});

describe("Connection: ensure and autoretry", () => {
  it("ensure reconnects and retries after a connection error, then revives", async () => {
    const { conn, transport } = flaky();
    await conn.connect();
    let calls = 0;
    const revived: Channel[] = [];
    const op = conn.ensure((x: number) => {
      calls++;
      if (calls === 1) return Promise.reject(new ConnectionError("socket closed"));
      return Promise.resolve(x * 2);
    }, { ...now, onRevive: (channel) => void revived.push(channel) });
    assert.equal(await op(21), 42);
    assert.equal(calls, 2);
    assert.equal(transport.connections.length, 2);
    assert.equal(transport.connections[0].isClosed, true);
    assert.equal(revived.length, 1);
    assert.equal(revived[0], await conn.defaultChannel());
    await conn.close();
  });

  it("ensure does not retry errors that reconnecting cannot cure", async () => {
    const { conn } = flaky();
    let calls = 0;
    const op = conn.ensure(() => {
      calls++;
      return Promise.reject(new ChannelError("not found", { replyCode: 404 }));
    }, now);
    await assert.rejects(op(), ChannelError);
    assert.equal(calls, 1);
    await conn.close();
  });

  it("ensure gives up after maxRetries", async () => {
    const { conn } = flaky();
    let calls = 0;
    const op = conn.ensure(() => {
      calls++;
      return Promise.reject(new ConnectionError(`down ${calls}`));
    }, { ...now, maxRetries: 2 });
    await assert.rejects(op(), /down 3/);
    assert.equal(calls, 3);
    await conn.close();
  });

  it("autoretry runs on the default channel and retries connection failures", async () => {
    const { conn, transport } = flaky();
    const channels: Channel[] = [];
    const op = conn.autoretry(async (channel) => {
      channels.push(channel);
      if (channels.length === 1) throw new ConnectionError("lost");
      return (await channel.queueDeclare({ name: "auto" })).queue;
    }, now);
    assert.equal(await op(), "auto");
    assert.equal(channels.length, 2);
    assert.notEqual(channels[0], channels[1]);
    assert.equal(transport.connections.length, 2);
    await conn.close();
  });

  it("publish with retry survives a dropped connection", async () => {
    const { conn, transport } = flaky();
    const producer = conn.producer();
    const q = new Queue("retry-q");
    await producer.publish("one", { routingKey: "retry-q", declare: [q] });
    await transport.last.lose();
    transport.failures = 1; // the first reconnect fails: only the retry gets it through
    await producer.publish("two", {
      routingKey: "retry-q",
      declare: [q],
      retry: true,
      retryPolicy: now,
    });
    assert.equal(transport.attempts.length, 3);
    const channel = await conn.channel();
    const got = [
      await channel.basicGet("retry-q", { noAck: true }),
      await channel.basicGet("retry-q", { noAck: true }),
    ];
    assert.deepEqual(got.map((d) => bodyText(d!.body)), ["one", "two"]);
    await conn.close();
  });
});

describe("Connection: recovery after a connection loss", () => {
  it("revives a consumer, which gets the unacked message again and then new ones", async () => {
    const { conn, transport } = flaky();
    const seen: Array<[unknown, boolean]> = [];
    let ackFirst = false;
    const consumer = conn.consumer(["rec-q"], {
      callbacks: [async (body, message) => {
        seen.push([body, message.deliveryInfo.redelivered]);
        if (body !== "m1" || ackFirst) await message.ack();
      }],
    });
    await consumer.consume();
    const producer = conn.producer();
    await producer.publish("m1", { routingKey: "rec-q" });
    await until(() => seen.length === 1, "m1");
    ackFirst = true;
    transport.failures = 2; // the first reconnects fail too
    await transport.last.lose();
    await until(() => transport.connections.length === 2, "a reconnect");
    await conn.recovered();
    assert.equal(conn.connected, true);
    await until(() => seen.length === 2, "m1 again");
    await producer.publish("m2", { routingKey: "rec-q" });
    await until(() => seen.length === 3, "m2");
    assert.deepEqual(seen, [["m1", false], ["m1", true], ["m2", false]]);
    assert.equal(transport.attempts.length, 4);
    assert.equal(consumer.consuming, true);
    await consumer.cancel();
    await conn.close();
  });

  it("revives consumers when ensure() drops a broken connection", async () => {
    const { conn, transport } = flaky();
    const seen: unknown[] = [];
    const consumer = conn.consumer(["drop-q"], {
      callbacks: [async (body, message) => {
        seen.push(body);
        await message.ack();
      }],
    });
    await consumer.consume();
    let calls = 0;
    const op = conn.ensure(
      () => (calls++ === 0
        ? Promise.reject(new ConnectionError("broken pipe"))
        : Promise.resolve()),
      now,
    );
    await op();
    await conn.recovered();
    assert.equal(transport.connections.length, 2);
    await conn.producer().publish("after the drop", { routingKey: "drop-q" });
    await until(() => seen.length === 1, "a delivery on the new connection");
    assert.deepEqual(seen, ["after the drop"]);
    await consumer.cancel();
    await conn.close();
  });

  it("keeps a for-await loop going across a lost connection; old deliveries cannot be acked", async () => {
    const { conn, transport } = flaky();
    const producer = conn.producer();
    await producer.publish("before", { routingKey: "iter-q", declare: [new Queue("iter-q")] });
    const seen: Array<[unknown, boolean]> = [];
    let stale: Message | undefined;
    for await (const message of conn.consumer(["iter-q"])) {
      seen.push([message.payload, message.deliveryInfo.redelivered]);
      if (seen.length === 1) {
        stale = message; // left unacked: the lost connection gives it back
        await transport.last.lose();
        await conn.recovered();
        await assert.rejects(stale.ack(), MessageStateError);
        await producer.publish("after", { routingKey: "iter-q" });
        continue;
      }
      await message.ack();
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen.slice(0, 1), [["before", false]]);
    assert.deepEqual(
      seen.slice(1).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      [["after", false], ["before", true]],
    );
    await conn.close();
  });

  it("ends a for-await loop when the connection is closed", async () => {
    const { conn } = flaky();
    const consumer = conn.consumer(["closing-iter-q"]);
    const iterating = (async () => {
      for await (const message of consumer) await message.ack();
    })();
    await until(() => consumer.consumerTags.size === 1, "consuming");
    await conn.close();
    await iterating; // a shutdown does not hang on the loop
    assert.equal(consumer.consuming, false);
  });

  it("clears the declaration cache on reconnect, so entities are declared again", async () => {
    const { conn, transport } = flaky();
    let declarations = 0;
    const q = new Queue("decl-q", { onDeclared: () => declarations++ });
    const producer = conn.producer();
    await producer.publish(1, { routingKey: "decl-q", declare: [q] });
    await producer.publish(2, { routingKey: "decl-q", declare: [q] });
    assert.equal(declarations, 1);
    assert.ok(connectionInternals(conn)!.declared.size > 0);
    await transport.last.lose();
    assert.equal(connectionInternals(conn)!.declared.size, 0);
    await producer.publish(3, { routingKey: "decl-q", declare: [q] });
    assert.equal(declarations, 2);
    await conn.close();
  });

  it("fails a waiting drainEvents with the connection's error", async () => {
    const { conn, transport } = flaky();
    await conn.connect();
    const waiting = conn.drainEvents({ timeout: 60_000 });
    const lost = new ConnectionError("peer went away");
    await transport.last.lose(lost);
    await assert.rejects(waiting, (error: unknown) => error === lost);
    await conn.close();
  });

  it("does not reconnect after close(), and drainEvents fails on close", async () => {
    const { conn, transport } = flaky();
    const consumer = conn.consumer(["closed-q"], { callbacks: [(_b, m) => void decode(m)] });
    await consumer.consume();
    const waiting = conn.drainEvents();
    await conn.close();
    await assert.rejects(waiting, ConnectionError);
    await transport.last.lose();
    await conn.recovered();
    assert.equal(transport.connections.length, 1);
    await assert.rejects(
      conn.drainEvents({ timeout: 10 }),
      (e: unknown) => e instanceof ConnectionError || e instanceof TimeoutError,
    );
  });
});

describe("Connection: a public surface without the plumbing", () => {
  it("keeps the declaration cache, revival and drain activity off the class", async () => {
    await using conn = new Connection("memory://");
    for (const name of ["declaredEntities", "notifyActivity", "attach", "detach"]) {
      assert.equal(name in conn, false, name);
    }
    const q = new Queue("surface-q");
    const channel = await conn.defaultChannel();
    // maybeDeclare still caches per connection when given the connection itself.
    assert.equal(await maybeDeclare(q, channel, conn), true);
    assert.equal(await maybeDeclare(q, channel, conn), false);
    assert.ok(connectionInternals(conn)!.declared.has(q.declarationKey));
  });
});
