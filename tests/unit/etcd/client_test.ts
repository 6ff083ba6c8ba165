import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigurationError, HttpError, OperationalError } from "../../../src/errors.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import {
  EtcdClient,
  EtcdError,
  etcdQueueKey,
  readEtcdSettings,
} from "../../../transports/etcd/mod.ts";
import { keyPath } from "../../../transports/etcd/client.ts";

/** A fake etcd: records requests, answers from a list. */
function fakeFetch(answers: (() => Response)[]) {
  const seen: { method: string; url: string; body: string }[] = [];
  const fetch = async (request: Request) => {
    seen.push({ method: request.method, url: request.url, body: await request.text() });
    const next = answers.shift();
    if (!next) throw new Error("no answer left");
    return next();
  };
  return { fetch, seen };
}

const json = (status: number, body: unknown, index = 7) => () =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "x-etcd-index": String(index) },
  });

const client = (fetch: (r: Request) => Promise<Response>, attempts = 3) =>
  new EtcdClient({ baseUrl: "http://etcd:2379", fetch, requestTimeout: 1000, attempts });

const params = (transportOptions: Record<string, unknown>, extra: Partial<ConnectionParams> = {}) =>
  ({ hostname: "", port: undefined, transportOptions, ...extra }) as ConnectionParams;

describe("etcd v2 client", () => {
  it("appends with a form POST to the directory, as python-etcd does", async () => {
    const node = { key: "/kombu/q/00000000000000000008", value: "{}", modifiedIndex: 8 };
    const { fetch, seen } = fakeFetch([json(201, { action: "create", node }, 8)]);
    const answer = await client(fetch).append("kombu/q", '{"body": "x"}');
    assert.deepEqual(seen, [{
      method: "POST",
      url: "http://etcd:2379/v2/keys/kombu/q",
      body: "value=%7B%22body%22%3A+%22x%22%7D",
    }]);
    assert.equal(answer.node.key, node.key);
    assert.equal(answer.index, 8);
  });

  it("sends conditions of a delete in the query", async () => {
    const { fetch, seen } = fakeFetch([json(200, { action: "compareAndDelete", node: {} })]);
    await client(fetch).delete("kombu/q/00000000000000000008", { prevIndex: 8 });
    assert.equal(seen[0].url, "http://etcd:2379/v2/keys/kombu/q/00000000000000000008?prevIndex=8");
  });

  it("turns an error answer into EtcdError with etcd's code and index", async () => {
    const { fetch } = fakeFetch([
      json(404, { errorCode: 100, message: "Key not found", cause: "/kombu/x", index: 12 }),
    ]);
    const error = await client(fetch).get("kombu/x").catch((e) => e);
    assert.ok(error instanceof EtcdError);
    assert.ok(error instanceof HttpError);
    assert.equal(error.errorCode, 100);
    assert.equal(error.index, 12);
    assert.equal(error.status, 404);
    assert.match(error.message, /Key not found/);
  });

  it("retries a read when etcd cannot be reached, not a write", async () => {
    const down = () => {
      throw new TypeError("connection refused");
    };
    const read = fakeFetch([down, json(200, { action: "get", node: { key: "/k" } })]);
    assert.equal((await client(read.fetch).get("k")).action, "get");
    assert.equal(read.seen.length, 2);
    const write = fakeFetch([down]);
    await assert.rejects(client(write.fetch).append("kombu/q", "v"), OperationalError);
    assert.equal(write.seen.length, 1, "an append is not sent twice");
  });

  it("encodes every key segment and keeps the slashes", () => {
    assert.equal(keyPath("/kombu/a b/ü?#"), "/v2/keys/kombu/a%20b/%C3%BC%3F%23");
    fc.assert(fc.property(fc.string({ minLength: 1 }), (name) => {
      fc.pre(!name.includes("/"));
      const path = keyPath(`kombu/${name}`);
      const last = path.slice(path.lastIndexOf("/") + 1);
      assert.equal(decodeURIComponent(last), name);
    }));
  });
});

describe("etcd keys and options", () => {
  it("puts queues under Kombu's prefix and refuses names that are paths", () => {
    assert.equal(etcdQueueKey("kombu", "celery"), "kombu/celery");
    for (const bad of ["", "a/b", ".", ".."]) {
      assert.throws(() => etcdQueueKey("kombu", bad), /Cannot use queue/);
    }
  });

  it("reads Kombu's URL defaults and both spellings of durations", () => {
    const defaults = readEtcdSettings(params({}));
    assert.equal(defaults.baseUrl, "http://localhost:2379");
    assert.equal(defaults.prefix, "kombu");
    assert.equal(defaults.unackedPrefix, "wakame.unacked");
    assert.equal(defaults.visibilityTimeout, 1_800_000);
    assert.equal(defaults.requestTimeout, 10_000);
    const snake = readEtcdSettings(params({ visibility_timeout: 60, timeout: 2 }));
    assert.equal(snake.visibilityTimeout, 60_000);
    assert.equal(snake.requestTimeout, 2000);
    const camel = readEtcdSettings(
      params({ visibilityTimeout: 0, prefix: "/other/", isSecure: true }, {
        hostname: "etcd.example",
        port: 4001,
      }),
    );
    assert.equal(camel.visibilityTimeout, 0);
    assert.equal(camel.prefix, "other");
    assert.equal(camel.baseUrl, "https://etcd.example:4001");
  });

  it("refuses invalid options with the option's name", () => {
    assert.throws(() => readEtcdSettings(params({ visibilityTimeout: -1 })), ConfigurationError);
    assert.throws(
      () => readEtcdSettings(params({ visibility_timeout: "soon" })),
      /visibility_timeout/,
    );
    assert.throws(() => readEtcdSettings(params({ prefix: "/" })), /prefix/);
    assert.throws(() => readEtcdSettings(params({ fetch: "no" })), /fetch/);
  });
});
