import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Connection } from "../../../src/connection.ts";
import { ChannelError, ConnectionError, PreconditionFailedError } from "../../../src/errors.ts";
import type { Delivery, OutgoingMessage, ReturnedMessage } from "../../../src/transport.ts";
import {
  POSSIBLE_DUPLICATE_HEADER,
  type QueueBackend,
  type QueueBatch,
  type StoredMessage,
} from "../../../src/virtual/backend.ts";
import { Ledger } from "../../../src/virtual/ledger.ts";
import { VirtualChannel } from "../../../src/virtual/channel.ts";
import { VirtualState } from "../../../src/virtual/state.ts";
import type { CycleName } from "../../../src/utils/fair_cycle.ts";
import { bindingRouter, DEAD_LETTER_QUEUE } from "../../../src/virtual/router.ts";
import { MemoryBackend } from "../../../transports/memory/mod.ts";
import { uniqueVhost, until } from "./_fakes.ts";
import { bodyText } from "../../../mod.ts";

const text = (d: Delivery | undefined) => (d ? bodyText(d.body) : undefined);
const msg = (body: string, headers?: Record<string, string>): OutgoingMessage => ({
  body: new TextEncoder().encode(body),
  properties: headers ? { headers } : {},
});

function open(
  backend: QueueBackend = new MemoryBackend(),
  extra: { warnings?: string[]; fatal?: Error[]; queueOrder?: CycleName } = {},
) {
  const state = new VirtualState();
  const make = () =>
    new VirtualChannel(backend, state, {
      pollingInterval: 5,
      batchSize: 100,
      queueOrder: extra.queueOrder,
      onFatal: (error) => void extra.fatal?.push(error),
      onWarning: (message) => void extra.warnings?.push(message),
    });
  return { channel: make(), make, backend, state };
}

/** The store without getMany: the base polls get. */
function pollingOnly(memory: MemoryBackend): QueueBackend {
  return {
    put: (q, m) => memory.put(q, m),
    get: (q) => memory.get(q),
    purge: (q) => memory.purge(q),
    size: (q) => memory.size(q),
    delete: (q) => memory.delete(q),
  };
}

async function drain(channel: VirtualChannel, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < 100; i++) {
    const d = await channel.basicGet(queue, { noAck: true });
    if (!d) return out;
    out.push(text(d)!);
  }
  throw new Error("queue never emptied");
}

describe("VirtualChannel: exchanges and routing", () => {
  it("routes direct, topic, fanout and headers exchanges", async () => {
    const { channel } = open();
    for (const type of ["direct", "topic", "fanout", "headers"] as const) {
      await channel.exchangeDeclare({ name: `x-${type}`, type });
    }
    await channel.queueBind("q1", "x-direct", "k");
    await channel.queueBind("q2", "x-topic", "a.#");
    await channel.queueBind("q3", "x-fanout", "");
    await channel.queueBind("q4", "x-fanout", "");
    await channel.queueBind("q5", "x-headers", "", { "x-match": "all", kind: "pdf" });
    await channel.basicPublish("x-direct", "k", msg("d"));
    await channel.basicPublish("x-direct", "other", msg("lost"));
    await channel.basicPublish("x-topic", "a", msg("t"));
    await channel.basicPublish("x-fanout", "whatever", msg("f"));
    await channel.basicPublish("x-headers", "", msg("h", { kind: "pdf" }));
    await channel.basicPublish("x-headers", "", msg("lost", { kind: "zip" }));
    await channel.basicPublish("", "q1", msg("default"));
    assert.deepEqual(await drain(channel, "q1"), ["d", "default"]);
    assert.deepEqual(await drain(channel, "q2"), ["t"]);
    assert.deepEqual(await drain(channel, "q3"), ["f"]);
    assert.deepEqual(await drain(channel, "q4"), ["f"]);
    assert.deepEqual(await drain(channel, "q5"), ["h"]);
  });

  it("refuses to redeclare an exchange with another type, and keeps bindings on a redeclaration", async () => {
    const { channel } = open();
    await channel.exchangeDeclare({ name: "e", type: "topic" });
    await channel.queueBind("q", "e", "a.*");
    await channel.exchangeDeclare({ name: "e", type: "topic", durable: false });
    await channel.exchangeDeclare({ name: "e", type: "direct", passive: true });
    await assert.rejects(
      channel.exchangeDeclare({ name: "e", type: "direct" }),
      (error: unknown) => {
        assert.ok(error instanceof PreconditionFailedError);
        assert.equal((error as PreconditionFailedError).replyCode, 406);
        assert.match((error as Error).message, /exchange "e"/);
        return true;
      },
    );
    await channel.basicPublish("e", "a.b", msg("kept"));
    assert.deepEqual(await drain(channel, "q"), ["kept"]);
  });

  it("returns unroutable mandatory messages with 312 NO_ROUTE and drops the others", async () => {
    const { channel, backend } = open();
    const returned: ReturnedMessage[] = [];
    channel.onReturn = (m) => returned.push(m);
    await channel.exchangeDeclare({ name: "nowhere", type: "direct" });
    await channel.basicPublish("nowhere", "k", msg("m"), { mandatory: true });
    await channel.basicPublish("nowhere", "k", msg("n"));
    assert.equal(returned.length, 1);
    assert.equal(returned[0].replyCode, 312);
    assert.equal(returned[0].replyText, "NO_ROUTE");
    assert.equal(returned[0].exchange, "nowhere");
    assert.equal(bodyText(returned[0].body), "m");
    assert.equal(await backend.size("k"), 0);
  });

  it("unbinds, forgets deleted exchanges and never binds the default exchange", async () => {
    const { channel, state } = open();
    await channel.exchangeDeclare({ name: "e", type: "direct" });
    await channel.queueBind("q", "e", "k");
    await channel.queueBind("q", "e", "j");
    await channel.queueUnbind("q", "e", "k");
    await channel.queueBind("q", "", "q");
    assert.deepEqual(state.bindings.listNow(""), []);
    await channel.basicPublish("e", "k", msg("unbound"));
    await channel.basicPublish("e", "j", msg("bound"));
    assert.deepEqual(await drain(channel, "q"), ["bound"]);
    await channel.exchangeDelete("e");
    assert.equal(state.exchanges.has("e"), false);
    assert.deepEqual(state.bindings.listNow("e"), []);
  });
});

describe("VirtualChannel: queues", () => {
  it("declares, counts, purges and deletes queues", async () => {
    const { channel } = open();
    const named = await channel.queueDeclare({ name: "" });
    assert.match(named.queue, /^amq\.gen-/);
    for (const b of ["1", "2", "3"]) await channel.basicPublish("", "q", msg(b));
    assert.deepEqual(await channel.queueDeclare({ name: "q", passive: true }), {
      queue: "q",
      messageCount: 3,
      consumerCount: 0,
    });
    assert.equal(await channel.queuePurge("q"), 3);
    await channel.basicPublish("", "q", msg("x"));
    await assert.rejects(channel.queueDelete("q", { ifEmpty: true }), PreconditionFailedError);
    assert.equal(await channel.queueDelete("q"), 1);
    assert.equal(await channel.basicGet("q"), undefined);
  });

  it("refuses ifUnused deletion of a consumed queue, and a deletion cancels its consumers", async () => {
    const { channel } = open();
    await channel.exchangeDeclare({ name: "e", type: "fanout" });
    await channel.queueBind("q", "e", "");
    const cancelled: string[] = [];
    const tag = await channel.basicConsume("q", {}, {
      onDelivery: () => {},
      onCancel: (t) => cancelled.push(t),
    });
    assert.equal((await channel.queueDeclare({ name: "q" })).consumerCount, 1);
    await assert.rejects(channel.queueDelete("q", { ifUnused: true }), PreconditionFailedError);
    await channel.queueDelete("q");
    assert.deepEqual(cancelled, [tag]);
    await channel.basicPublish("e", "", msg("after delete"));
    assert.equal(await channel.basicGet("q"), undefined);
  });
});

describe("VirtualChannel: acknowledgements", () => {
  it("numbers deliveries and forgets acked ones", async () => {
    const { channel } = open();
    for (const b of ["a", "b"]) await channel.basicPublish("", "q", msg(b));
    const first = await channel.basicGet("q");
    const second = await channel.basicGet("q");
    assert.equal(typeof first!.deliveryTag, "number");
    assert.ok(Number(second!.deliveryTag) > Number(first!.deliveryTag));
    assert.equal(first!.redelivered, false);
    assert.equal(first!.routingKey, "q");
    await channel.basicAck(first!.deliveryTag);
    await assert.rejects(channel.basicAck(first!.deliveryTag), (error: unknown) => {
      assert.ok(error instanceof PreconditionFailedError);
      assert.match((error as Error).message, /unknown delivery tag/);
      return true;
    });
    await assert.rejects(channel.basicReject(999, true), PreconditionFailedError);
    await channel.basicAck(second!.deliveryTag);
    await channel.close();
  });

  it("requeues a rejected message marked redelivered, drops it otherwise", async () => {
    const { channel } = open();
    await channel.basicPublish("", "q", msg("again"));
    await channel.basicPublish("", "q", msg("gone"));
    const again = await channel.basicGet("q");
    const gone = await channel.basicGet("q");
    await channel.basicReject(again!.deliveryTag, true);
    await channel.basicReject(gone!.deliveryTag, false);
    const back = await channel.basicGet("q", { noAck: true });
    assert.equal(text(back), "again");
    assert.equal(back!.redelivered, true);
    assert.equal(await channel.basicGet("q"), undefined);
  });

  it("acks everything up to a tag with multiple", async () => {
    const { channel, make } = open();
    for (const b of ["1", "2", "3"]) await channel.basicPublish("", "q", msg(b));
    const tags = [];
    for (let i = 0; i < 3; i++) tags.push((await channel.basicGet("q"))!.deliveryTag);
    await channel.basicAck(tags[1], true);
    await channel.close(); // only the third goes back
    const other = make();
    assert.deepEqual(await drain(other, "q"), ["3"]);
  });

  it("puts unacked messages back, redelivered, on recover and on close; not no-ack ones", async () => {
    const { channel, make } = open();
    for (const b of ["1", "2", "3"]) await channel.basicPublish("", "q", msg(b));
    await channel.basicGet("q");
    await channel.basicRecover();
    await channel.basicGet("q", { noAck: true });
    await channel.basicGet("q");
    await channel.close();
    assert.equal(channel.isOpen, false);
    await channel.close();
    const other = make();
    const left: Array<[string, boolean]> = [];
    for (
      let d = await other.basicGet("q", { noAck: true });
      d;
      d = await other.basicGet("q", { noAck: true })
    ) {
      left.push([text(d)!, d.redelivered]);
    }
    assert.equal(left.length, 2);
    assert.ok(left.every(([, redelivered]) => redelivered));
  });

  it("refuses work once closed", async () => {
    const { channel } = open();
    await channel.close();
    await assert.rejects(channel.basicPublish("", "q", msg("x")), ChannelError);
    await assert.rejects(channel.queueDeclare({ name: "q" }), ChannelError);
    await assert.rejects(channel.basicGet("q"), ChannelError);
    await assert.rejects(channel.basicAck(1), ChannelError);
    await assert.rejects(channel.basicConsume("q", {}, { onDelivery: () => {} }), ChannelError);
  });
});

describe("VirtualChannel: consumers", () => {
  it("delivers in order, respects prefetch and refuses a tag in use", async () => {
    const { channel, backend } = open();
    await channel.basicQos({ prefetchCount: 2 });
    const got: Delivery[] = [];
    const tag = await channel.basicConsume("q", { consumerTag: "mine" }, {
      onDelivery: (d) => void got.push(d),
    });
    assert.equal(tag, "mine");
    await assert.rejects(
      channel.basicConsume("q", { consumerTag: "mine" }, { onDelivery: () => {} }),
      (e: unknown) => {
        assert.ok(e instanceof ChannelError);
        assert.equal((e as ChannelError).replyCode, 530);
        return true;
      },
    );
    for (let n = 0; n < 5; n++) await channel.basicPublish("", "q", msg(String(n)));
    await until(() => got.length === 2, "two deliveries");
    assert.equal(await backend.size("q"), 3);
    assert.deepEqual(got.map(text), ["0", "1"]);
    assert.ok(got.every((d) => d.consumerTag === "mine"));
    await channel.basicAck(got[1].deliveryTag, true);
    await until(() => got.length === 4, "two more");
    assert.equal(await backend.size("q"), 1);
    await channel.basicCancel("mine");
    await channel.close();
    assert.equal(await backend.size("q"), 3); // the unacked two came back
  });

  it("takes turns between queues (fair round-robin)", async () => {
    const { channel } = open();
    await channel.basicQos({ prefetchCount: 1 });
    const order: string[] = [];
    const onDelivery = (d: Delivery) => {
      order.push(text(d)!);
      void channel.basicAck(d.deliveryTag);
    };
    await channel.basicConsume("qa", {}, { onDelivery });
    await channel.basicConsume("qb", {}, { onDelivery });
    // Both queues fill before the consumer loop runs again (no await in between).
    const pending: Promise<void>[] = [];
    for (let n = 0; n < 4; n++) {
      pending.push(channel.basicPublish("", "qa", msg(`a${n}`)));
      pending.push(channel.basicPublish("", "qb", msg(`b${n}`)));
    }
    await Promise.all(pending);
    await until(() => order.length === 8, "eight deliveries");
    for (let i = 1; i < order.length; i++) {
      assert.notEqual(order[i][0], order[i - 1][0], order.join(","));
    }
    await channel.close();
  });

  it("visits queues in the order of queueOrder (Kombu's queue_order_strategy)", async () => {
    for (
      const [queueOrder, want] of [
        ["priority", "aaabbb"],
        ["round_robin", "ababab"],
      ] as const
    ) {
      for (const backend of [new MemoryBackend(), pollingOnly(new MemoryBackend())]) {
        const { channel } = open(backend, { queueOrder });
        await channel.basicQos({ prefetchCount: 1 });
        const order: string[] = [];
        const onDelivery = (d: Delivery) => {
          order.push(text(d)!);
          void channel.basicAck(d.deliveryTag);
        };
        await channel.basicConsume("qa", {}, { onDelivery });
        await channel.basicConsume("qb", {}, { onDelivery });
        // Both queues fill before the consumer loop runs again (no await in between).
        const pending: Promise<void>[] = [];
        for (let n = 0; n < 3; n++) {
          pending.push(channel.basicPublish("", "qa", msg("a")));
          pending.push(channel.basicPublish("", "qb", msg("b")));
        }
        await Promise.all(pending);
        await until(() => order.length === 6, "six deliveries");
        assert.equal(order.join(""), want, queueOrder);
        await channel.close();
      }
    }
  });

  it("interleaves the per-queue batches of one round", async () => {
    const { channel } = open();
    const order: string[] = [];
    const onDelivery = (d: Delivery) => void order.push(text(d)!);
    await channel.basicConsume("qa", { noAck: true }, { onDelivery });
    await channel.basicConsume("qb", { noAck: true }, { onDelivery });
    const pending: Promise<void>[] = [];
    for (let n = 0; n < 3; n++) {
      pending.push(channel.basicPublish("", "qa", msg(`a${n}`)));
      pending.push(channel.basicPublish("", "qb", msg(`b${n}`)));
    }
    await Promise.all(pending);
    await until(() => order.length === 6, "six deliveries");
    assert.deepEqual(order, ["a0", "b0", "a1", "b1", "a2", "b2"]);
    await channel.close();
  });

  it("stops delivering after basicCancel; no-ack deliveries are not tracked", async () => {
    const { channel, backend } = open();
    const got: Delivery[] = [];
    const tag = await channel.basicConsume("q", { noAck: true }, {
      onDelivery: (d) => void got.push(d),
    });
    await channel.basicPublish("", "q", msg("1"));
    await until(() => got.length === 1, "a delivery");
    await channel.basicCancel(tag);
    await channel.basicPublish("", "q", msg("2"));
    assert.equal(await backend.size("q"), 1);
    await channel.close();
    assert.equal(await backend.size("q"), 1); // the no-ack one is not restored
  });

  it("polls backends that cannot block, and reports fetch failures", async () => {
    const memory = new MemoryBackend();
    let failNext = 1;
    const polling: QueueBackend = {
      put: (q, m) => memory.put(q, m),
      get: (q) => {
        if (failNext-- > 0) return Promise.reject(new Error("store hiccup"));
        return memory.get(q);
      },
      purge: (q) => memory.purge(q),
      size: (q) => memory.size(q),
      delete: (q) => memory.delete(q),
    };
    const warnings: string[] = [];
    const { channel } = open(polling, { warnings });
    const got: string[] = [];
    await channel.basicConsume("q", { noAck: true }, {
      onDelivery: (d) => void got.push(text(d)!),
    });
    await channel.basicPublish("", "q", msg("polled"));
    await until(() => got.length === 1, "a polled delivery");
    assert.deepEqual(got, ["polled"]);
    assert.ok(warnings.some((w) => /Cannot fetch/.test(w)), warnings.join());
    await channel.close();
  });

  it("tells the connection when the store is gone", async () => {
    const broken: QueueBackend = {
      put: () => Promise.resolve(),
      get: () => Promise.reject(new ConnectionError("store unreachable")),
      purge: () => Promise.resolve(0),
      size: () => Promise.resolve(0),
      delete: () => Promise.resolve(),
    };
    const fatal: Error[] = [];
    const { channel } = open(broken, { fatal });
    await channel.basicConsume("q", {}, { onDelivery: () => {} });
    await until(() => fatal.length === 1, "the fatal error");
    assert.match(fatal[0].message, /store unreachable/);
    await channel.close();
  });

  it("settles and releases through a store's Lease, marking releases redelivered", async () => {
    const memory = new MemoryBackend();
    const calls: string[] = [];
    const name = (m: StoredMessage) => bodyText(m.body);
    const store: QueueBackend = {
      put: (q, m) => memory.put(q, m),
      get: (q) => memory.get(q),
      purge: (q) => memory.purge(q),
      size: (q) => memory.size(q),
      delete: (q) => memory.delete(q),
      lease: {
        settle: (_q, m, outcome) => Promise.resolve(void calls.push(`${outcome} ${name(m)}`)),
        release: (_q, m, { position }) =>
          Promise.resolve(
            void calls.push(`release ${name(m)} ${position}${m.redelivered ? " redelivered" : ""}`),
          ),
      },
    };
    const { channel } = open(store);
    for (const b of ["a", "b", "c", "d", "e"]) await channel.basicPublish("", "q", msg(b));
    const [a, b, c] = [
      await channel.basicGet("q"),
      await channel.basicGet("q"),
      await channel.basicGet("q"),
    ];
    await channel.basicGet("q", { noAck: true });
    await channel.basicGet("q");
    await channel.basicAck(a!.deliveryTag);
    await channel.basicReject(b!.deliveryTag, true);
    await channel.basicReject(c!.deliveryTag, false);
    await channel.close();
    assert.deepEqual(calls, [
      "ack d",
      "ack a",
      "release b back redelivered",
      "reject c",
      "release e front redelivered",
    ]);
  });
});

describe("VirtualChannel: no message lost or duplicated (property)", () => {
  type Op =
    | { kind: "publish" }
    | { kind: "get"; noAck: boolean }
    | { kind: "ack" | "drop" | "requeue"; pick: number }
    | { kind: "recover" }
    | { kind: "reopen" };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.constant({ kind: "publish" as const }),
    fc.record({ kind: fc.constant("get" as const), noAck: fc.boolean() }),
    fc.record({
      kind: fc.constantFrom("ack" as const, "drop" as const, "requeue" as const),
      pick: fc.nat(),
    }),
    fc.constant({ kind: "recover" as const }),
    fc.constant({ kind: "reopen" as const }),
  );

  it("accounts for every published message exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const { channel: first, make, backend } = open();
        let channel = first;
        let held: Delivery[] = [];
        let next = 0;
        const settled: string[] = []; // acked, dropped or taken without ack
        for (const o of ops) {
          if (o.kind === "publish") {
            await channel.basicPublish("", "q", msg(String(next++)));
          } else if (o.kind === "get") {
            const d = await channel.basicGet("q", { noAck: o.noAck });
            if (d && o.noAck) settled.push(text(d)!);
            else if (d) held.push(d);
          } else if (o.kind === "recover") {
            await channel.basicRecover();
            held = [];
          } else if (o.kind === "reopen") {
            await channel.close();
            channel = make();
            held = [];
          } else if (held.length > 0) {
            const [d] = held.splice(o.pick % held.length, 1);
            if (o.kind === "ack") await channel.basicAck(d.deliveryTag);
            else await channel.basicReject(d.deliveryTag, o.kind === "requeue");
            if (o.kind !== "requeue") settled.push(text(d)!);
          }
        }
        await channel.close();
        const left: string[] = [];
        for (let m = await backend.get("q"); m; m = await backend.get("q")) {
          left.push(bodyText(m.body));
        }
        const all = [...settled, ...left].map(Number).sort((a, b) => a - b);
        assert.deepEqual(all, Array.from({ length: next }, (_, i) => i));
      }),
      { numRuns: 150 },
    );
  });
});

describe("memory:// transport", () => {
  it("shares queues within a virtual host and keeps virtual hosts apart", async () => {
    const vhost = uniqueVhost("mem");
    await using a = new Connection(`memory:///${vhost}`);
    await using b = new Connection(`memory:///${vhost}`);
    await using c = new Connection(`memory:///${vhost}-other`);
    await (await a.channel()).basicPublish("", "shared", msg("hello"));
    assert.equal(await (await c.channel()).basicGet("shared"), undefined);
    assert.equal(text(await (await b.channel()).basicGet("shared", { noAck: true })), "hello");
  });

  it("getMany waits for a put, takes per-queue batches within the shares and stops on abort", async () => {
    const backend = new MemoryBackend();
    const stored = (body: string): StoredMessage => ({
      body: new TextEncoder().encode(body),
      properties: {},
      exchange: "",
      routingKey: "",
      tag: body,
      redelivered: false,
    });
    const waiting = backend.getMany(["x", "y"], { max: 10, signal: new AbortController().signal });
    await backend.put("y", stored("y1"));
    const tags = (batches: QueueBatch[]) =>
      batches.map(({ queue, messages }) => [queue, messages.map((m) => m.tag)]);
    assert.deepEqual(tags(await waiting), [["y", ["y1"]]]);
    for (const t of ["x1", "x2", "x3"]) await backend.put("x", stored(t));
    await backend.put("y", stored("y2"));
    const round = await backend.getMany(["x", "y"], {
      max: 3,
      perQueue: 2,
      signal: new AbortController().signal,
    });
    assert.deepEqual(tags(round), [["x", ["x1", "x2"]], ["y", ["y2"]]]);
    const controller = new AbortController();
    const idle = backend.getMany(["empty"], { max: 1, signal: controller.signal });
    controller.abort();
    assert.deepEqual(await idle, []);
    assert.equal(await backend.size("x"), 1);
  });

  it("keeps order across many messages", async () => {
    const backend = new MemoryBackend();
    for (let i = 0; i < 3000; i++) {
      await backend.put("big", {
        body: new Uint8Array(0),
        properties: {},
        exchange: "",
        routingKey: "",
        tag: String(i),
        redelivered: false,
      });
    }
    const tags: string[] = [];
    for (let m = await backend.get("big"); m; m = await backend.get("big")) tags.push(m.tag);
    assert.equal(tags.length, 3000);
    assert.ok(tags.every((t, i) => t === String(i)));
    assert.equal(await backend.purge("big"), 0);
  });
});

describe("bindingRouter (Kombu's _lookup for restored messages)", () => {
  it("routes by the declared type, else by what the bindings show; dead-letters the rest", async () => {
    const state = new VirtualState();
    const warnings: string[] = [];
    const route = bindingRouter(
      () => state.bindings,
      (exchange) => state.exchanges.get(exchange)?.type,
      "amqp",
      (message) => void warnings.push(message),
    );
    await state.bindings.add("docs", {
      queue: "pdfs",
      routingKey: "",
      arguments: { "x-match": "all", kind: "pdf" },
    });
    await state.bindings.add("logs", { queue: "errors", routingKey: "*.error", pattern: "^x$" });
    await state.bindings.add("jobs", { queue: "q", routingKey: "k" });
    state.exchanges.set("news", { name: "news", type: "fanout" });
    await state.bindings.add("news", { queue: "n1", routingKey: "a" });
    await state.bindings.add("news", { queue: "n2", routingKey: "b" });
    assert.deepEqual(await route("docs", "", { headers: { kind: "pdf" } }), ["pdfs"]);
    assert.deepEqual(await route("logs", "app.error"), ["errors"]);
    assert.deepEqual(await route("jobs", "k"), ["q"]);
    assert.deepEqual(await route("news", "zzz"), ["n1", "n2"]);
    assert.deepEqual(await route("", "direct-queue"), ["direct-queue"]);
    assert.deepEqual(warnings, []);
    assert.deepEqual(await route("jobs", "nothing"), [DEAD_LETTER_QUEUE]);
    assert.equal(warnings.length, 1);
  });
});

describe("Ledger: what the base decides for every store", () => {
  const stored = (body: string, extra: Partial<StoredMessage> = {}): StoredMessage => ({
    body: new TextEncoder().encode(body),
    properties: {},
    exchange: "",
    routingKey: "q",
    tag: body,
    redelivered: false,
    ...extra,
  });

  it("marks redelivered from deliveryCount and shows the possible-duplicate header", () => {
    const ledger = new Ledger(new MemoryBackend(), () => {}, () => {});
    const first = ledger.deliver("q", stored("a", { deliveryCount: 1 }), true, undefined);
    const again = ledger.deliver("q", stored("b", { deliveryCount: 3 }), true, undefined);
    const dup = ledger.deliver("q", stored("c", { possibleDuplicate: true }), true, undefined);
    assert.equal(first.redelivered, false);
    assert.equal(again.redelivered, true);
    assert.equal(dup.properties.headers?.[POSSIBLE_DUPLICATE_HEADER], true);
    assert.equal(first.properties.headers, undefined);
  });

  it("extends an extendable lease while a delivery is held, and stops once it is settled", async () => {
    const memory = new MemoryBackend();
    const extended: string[] = [];
    const store: QueueBackend = {
      ...pollingOnly(memory),
      lease: {
        duration: 400,
        settle: () => Promise.resolve(),
        release: () => Promise.resolve(),
        extend: (_q, m, ms) => Promise.resolve(void extended.push(`${m.tag}:${ms}`)),
      },
    };
    const ledger = new Ledger(store, () => {}, () => {});
    const { deliveryTag } = ledger.deliver("q", stored("held"), false, undefined);
    await until(() => extended.length >= 2, "two renewals");
    assert.ok(extended.every((e) => e === "held:400"), extended.join());
    await ledger.ack(deliveryTag, false);
    const count = extended.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(extended.length, count);
    ledger.close();
  });
});
