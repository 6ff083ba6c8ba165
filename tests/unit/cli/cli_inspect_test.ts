/**
 * `wakame inspect`: RabbitMQ's management API (a fake one on loopback, shaped like RabbitMQ
 * 3.x's answers; the shared broker has no management plugin) and Redis `unacked` entries
 * filtered to the named queues.
 *
 * @module
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Connection } from "../../../src/connection.ts";
import { Queue } from "../../../src/entity.ts";
import { uuid } from "../../../src/utils/uuid.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { envSkip } from "../../_support/skips.ts";
import { dropPrefix, randomPrefix, rawRedis } from "../redis/_helpers.ts";
import { wakame } from "./_cli.ts";

const AMQP = "amqp://guest:guest@127.0.0.1:5672//";
const amqpSkip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));
const redisSkip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));

/** A queue as RabbitMQ 3.x's `GET /api/queues/<vhost>` lists it (the fields inspect reads and some others). */
function queue(name: string, ready: number, unacked: number, consumers: number) {
  return {
    name,
    vhost: "/",
    durable: true,
    auto_delete: false,
    exclusive: false,
    arguments: {},
    node: "rabbit@localhost",
    state: "running",
    type: "classic",
    messages: ready + unacked,
    messages_ready: ready,
    messages_unacknowledged: unacked,
    consumers,
    consumer_utilisation: null,
    memory: 14_000,
  };
}

function exchange(name: string, type: string) {
  return {
    name,
    vhost: "/",
    type,
    durable: true,
    auto_delete: false,
    internal: false,
    arguments: {},
    user_who_performed_action: "rmq-internal",
  };
}

function binding(source: string, destination: string, routingKey: string) {
  return {
    source,
    vhost: "/",
    destination,
    destination_type: "queue",
    routing_key: routingKey,
    arguments: {},
    properties_key: routingKey === "" ? "~" : routingKey,
  };
}

describe("wakame inspect on amqp:// with the management API", () => {
  const skip = amqpSkip;
  const name = `cli-mgmt-${uuid()}`;
  const conn = new Connection(AMQP);
  const requests: { url: string; auth: string }[] = [];
  let password = "guest";
  let server: Server;
  let base = "";
  const answers: Record<string, unknown> = {
    "/api/queues/%2F": [queue(`${name}-jobs`, 7, 2, 3), queue(`${name}-idle`, 0, 0, 0)],
    "/api/exchanges/%2F": [
      exchange("", "direct"),
      exchange("amq.direct", "direct"),
      exchange(`${name}-x`, "topic"),
    ],
    "/api/bindings/%2F": [
      binding("", `${name}-jobs`, `${name}-jobs`),
      binding("", `${name}-idle`, `${name}-idle`),
      binding(`${name}-x`, `${name}-jobs`, "jobs.#"),
      binding(`${name}-x`, `${name}-idle`, "idle"),
    ],
  };
  before(async () => {
    if (skip.reason) return;
    await new Queue(`${name}-real`, { durable: false }).bind(await conn.defaultChannel())
      .declare();
    server = createServer((req, res) => {
      const auth = req.headers.authorization ?? "";
      requests.push({ url: req.url ?? "", auth });
      const body = answers[req.url ?? ""];
      res.setHeader("content-type", "application/json");
      if (auth !== `Basic ${btoa(`guest:${password}`)}`) {
        res.statusCode = 401;
        res.end('{"error":"not_authorized","reason":"Login failed"}');
      } else if (body === undefined) {
        res.statusCode = 404;
        res.end('{"error":"Object Not Found","reason":"Not Found"}');
      } else res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    if (skip.reason) return;
    await new Promise((resolve) => server.close(resolve));
    const channel = await conn.channel();
    await channel.queueDelete(`${name}-real`).catch(() => undefined);
    await conn.close();
  });

  it(
    "--management URL: every queue, exchange and binding of the vhost",
    skip.options(),
    async () => {
      const all = await wakame(["inspect", AMQP, "--management", `${base}/`]);
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(requests.map((r) => r.url), [
        "/api/queues/%2F",
        "/api/exchanges/%2F",
        "/api/bindings/%2F",
      ]);
      assert.ok(requests.every((r) => r.auth === `Basic ${btoa("guest:guest")}`));
      assert.match(all.stdout, new RegExp(`^  ${name}-jobs +7 +2 +3 *$`, "m"));
      assert.match(all.stdout, new RegExp(`^  ${name}-idle +0 +0 +0 *$`, "m"));
      assert.match(all.stdout, new RegExp(`^  ${name}-x +topic *$`, "m"));
      assert.match(all.stdout, /^ {2}amq\.direct +direct *$/m);
      assert.match(all.stdout, new RegExp(`^  ${name}-x +jobs\\.# +${name}-jobs *$`, "m"));
      assert.doesNotMatch(
        all.stdout,
        /^ {2}(?: +)?${name}-jobs +${name}-jobs/m,
        "default exchange",
      );
      const one = await wakame(["inspect", AMQP, `${name}-jobs`, "--management", base, "--json"]);
      assert.equal(one.code, 0, one.stderr);
      const report = JSON.parse(one.stdout);
      assert.deepEqual(report.queues, [{
        name: `${name}-jobs`,
        depth: 7,
        unacked: 2,
        consumers: 3,
      }]);
      assert.deepEqual(report.exchanges, [{ name: `${name}-x`, type: "topic" }]);
      assert.deepEqual(report.bindings, [
        { exchange: `${name}-x`, routingKey: "jobs.#", queue: `${name}-jobs` },
      ]);
    },
  );

  it(
    "a 401 from the API: one note, passive declares of the named queues",
    skip.options(),
    async () => {
      password = "management-only";
      const run = await wakame(["inspect", AMQP, `${name}-real`, "--management", base]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^  ${name}-real +0 +- +0 *$`, "m"));
      const notes = run.stdout.split("\n").filter((l) => l.startsWith("note:"));
      assert.equal(notes.length, 1, run.stdout);
      assert.match(
        notes[0],
        /^note: management API at http:\/\/127\.0\.0\.1:\d+ not usable \(HTTP 401 from .*\/api\/queues: the URL's user and password were refused\); queues named on the command line are shown$/,
      );
      assert.doesNotMatch(run.stdout + run.stderr, /guest:guest/);
    },
  );
});

describe("wakame inspect on redis://: unacked entries", () => {
  const skip = redisSkip;
  const prefix = randomPrefix();
  const url = `redis://127.0.0.1:6379/0?global_keyprefix=${encodeURIComponent(prefix)}`;
  const sep = "\x06\x16";
  const entry = (tag: string, exchange: string, routingKey: string) =>
    JSON.stringify([
      {
        body: "e30=",
        "content-encoding": "utf-8",
        "content-type": "application/json",
        headers: {},
        properties: {
          body_encoding: "base64",
          delivery_info: { exchange, routing_key: routingKey },
          delivery_mode: 2,
          delivery_tag: tag,
          priority: 0,
        },
      },
      exchange,
      routingKey,
    ]);
  before(async () => {
    if (skip.reason) return;
    const raw = await rawRedis();
    try {
      await raw.send(["SADD", `${prefix}_kombu.binding.ex`, `a${sep}${sep}qa`, `b${sep}${sep}qb`]);
      const now = Date.now() / 1000;
      for (const [tag, exchange, key] of [["t1", "ex", "a"], ["t2", "ex", "b"], ["t3", "", "qa"]]) {
        await raw.send(["HSET", `${prefix}unacked`, tag, entry(tag, exchange, key)]);
        await raw.send(["ZADD", `${prefix}unacked_index`, now.toFixed(6), tag]);
      }
    } finally {
      await raw.close();
    }
  });
  after(async () => {
    if (skip.reason) return;
    const raw = await rawRedis();
    await dropPrefix(raw, prefix);
    await raw.close();
  });

  it(
    "named queues show only their entries, found through the bindings",
    skip.options(),
    async () => {
      const one = await wakame(["inspect", url, "qa", "--json"]);
      assert.equal(one.code, 0, one.stderr);
      const report = JSON.parse(one.stdout);
      assert.deepEqual(
        report.unacked.map((u: { tag: string; queue: string }) => [u.tag, u.queue]).sort(),
        [["t1", "qa"], ["t3", "qa"]],
      );
      assert.ok(
        report.notes.includes(
          "note: 1 unacked entry of other queues not shown (name no queue to see all)",
        ),
      );
      const all = await wakame(["inspect", url, "--json"]);
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(
        JSON.parse(all.stdout).unacked.map((u: { tag: string; queue: string }) => [u.tag, u.queue])
          .sort(),
        [["t1", "qa"], ["t2", "qb"], ["t3", "qa"]],
      );
      const text = await wakame(["inspect", url, "qb"]);
      assert.match(text.stdout, /^Unacked \(1, oldest /m);
      assert.match(text.stdout, /^ {2}t2 +qb +/m);
    },
  );
});
