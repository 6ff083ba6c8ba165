/**
 * The task message on the wire: the same task sent by Python Celery 5.2's `send_task` and by
 * `app.sendTask`, every option set, read back raw from Redis (Kombu's JSON envelope): headers,
 * properties, body and content type are the same, apart from the sender's `origin` and the
 * random delivery tag.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Celery, signature } from "../../celery/mod.ts";
import { uuid } from "../../mod.ts";
import { RespConnection } from "../../transports/redis/mod.ts";
import "../../transports/redis/mod.ts";
import { connectSocket } from "../../src/runtime/mod.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { celerySkipReason, peerEnv, runPeer } from "../_support/celery_peer.ts";
import { envSkip } from "../_support/skips.ts";

const REDIS = "redis://127.0.0.1:6379/3";
const skip = envSkip(
  import.meta.url,
  celerySkipReason() || (await brokerSkipReason("Redis", "127.0.0.1", 6379)),
);

const stepKeys = (queue: string) => [queue, ...[3, 6, 9].map((step) => `${queue}\x06\x16${step}`)];

describe("Celery's task message, Python and TypeScript side by side", () => {
  const run = uuid().slice(0, 8);
  const [pyQueue, tsQueue] = [`parity.py.${run}`, `parity.ts.${run}`];
  let redis: RespConnection;

  before(async () => {
    if (skip.reason) return;
    redis = await RespConnection.connect({
      hostname: "127.0.0.1",
      port: 6379,
      db: 3,
      connectTimeout: 5000,
      commandTimeout: 5000,
      socketFactory: connectSocket,
    });
  });

  after(async () => {
    if (skip.reason) return;
    await redis.send(["DEL", ...stepKeys(pyQueue), ...stepKeys(tsQueue)]);
    await redis.close();
  });

  async function envelope(queue: string): Promise<Record<string, unknown>> {
    // Priority 5 puts the message in a priority step list (`<queue>\x06\x163`).
    const raw: Uint8Array[] = [];
    for (const key of stepKeys(queue)) {
      raw.push(...await redis.send(["LRANGE", key, 0, -1]) as Uint8Array[]);
    }
    assert.equal(raw.length, 1);
    return JSON.parse(new TextDecoder().decode(raw[0]));
  }

  it("writes what send_task writes", skip.options(), async () => {
    const id = uuid();
    await runPeer(["celery_send.py", pyQueue, id, "reply-q"], peerEnv(REDIS, "rpc://", pyQueue));
    await using app = new Celery({ broker: REDIS });
    await app.sendTask("parity.task", {
      args: [1, "two", [3.5, null, true]],
      kwargs: { k: "it's", n: { x: false } },
      queue: tsQueue,
      taskId: id,
      replyTo: "reply-q",
      eta: new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678)),
      expires: new Date(Date.UTC(2030, 0, 3, 3, 4, 5)),
      priority: 5,
      timeLimit: 30_000,
      softTimeLimit: 20_500,
      rootId: "root-1",
      parentId: "parent-1",
      groupId: "group-1",
      groupIndex: 2,
      shadow: "shadow-name",
      link: signature("parity.cb", { args: [1] }),
      linkError: signature("parity.eb"),
      headers: { custom: "yes" },
    });
    const [py, ts] = [await envelope(pyQueue), await envelope(tsQueue)];
    const normalize = (e: Record<string, unknown>, queue: string) => {
      const headers = { ...(e.headers as Record<string, unknown>) };
      assert.match(String(headers.origin), /^gen\d+@/);
      headers.origin = "gen@host";
      const properties = { ...(e.properties as Record<string, unknown>) };
      assert.match(String(properties.delivery_tag), /^[0-9a-f-]{36}$/);
      properties.delivery_tag = "tag";
      // The message TTL is the time left until `expires` when each was sent.
      const ttl = Number(properties.expiration);
      assert.ok(Math.abs(ttl - (Date.UTC(2030, 0, 3, 3, 4, 5) - Date.now())) < 60_000, `${ttl}`);
      properties.expiration = "ttl";
      const info = properties.delivery_info as Record<string, unknown>;
      assert.equal(info.routing_key, queue);
      properties.delivery_info = { ...info, routing_key: "queue" };
      const body = JSON.parse(new TextDecoder().decode(
        Uint8Array.from(atob(String(e.body)), (c) => c.charCodeAt(0)),
      ));
      return { ...e, headers, properties, body };
    };
    assert.deepEqual(normalize(ts, tsQueue), normalize(py, pyQueue));
  });
});
