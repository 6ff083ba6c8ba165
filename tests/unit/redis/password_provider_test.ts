/**
 * A `password` function on Redis: a private redis-server whose password is changed while the
 * connection is up; the links opened after that (a reconnect) use the new one.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection, Queue } from "../../../mod.ts";
import { connectSocket } from "../../../src/runtime/mod.ts";
import { RespConnection } from "../../../transports/redis/resp/client.ts";
import { haveBinary, PrivateRedis } from "./_server.ts";
import { killClientsNamed } from "./_helpers.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(
  import.meta.url,
  haveBinary("redis-server")
    ? false
    : "redis-server is not installed (apt-get install redis-server)",
);

describe("Redis: a password function", () => {
  let server: PrivateRedis;
  before(async () => {
    if (skip.reason) return;
    server = await PrivateRedis.start((_dir, port) => [
      "--port",
      String(port),
      "--requirepass",
      "pw-1",
    ]);
  });
  after(async () => {
    if (skip.reason) return;
    await server.dispose();
  });

  it("is asked again for every link opened later", skip.options(), async () => {
    let current = "pw-1";
    const clientName = `wk-pw-${crypto.randomUUID().slice(0, 8)}`;
    const asked: string[] = [];
    await using conn = new Connection(`redis://127.0.0.1:${server.port}/0`, {
      password: () => {
        asked.push(current);
        return current;
      },
      transportOptions: { clientName },
    });
    const queue = new Queue(`pw-q-${crypto.randomUUID()}`);
    const simple = conn.simpleQueue(queue);
    await simple.put("before the change");
    const first = await simple.get({ timeout: 5000 });
    assert.equal(first.payload, "before the change");
    await first.ack();
    await simple.close(); // no consumer left to race the get below
    assert.deepEqual(new Set(asked), new Set(["pw-1"]));

    // The server's password changes; the links already open stay authenticated until killed.
    const admin = await RespConnection.connect({
      hostname: "127.0.0.1",
      port: server.port,
      password: "pw-1",
      socketFactory: connectSocket,
    });
    try {
      await admin.send(["CONFIG", "SET", "requirepass", "pw-2"]);
      current = "pw-2";
      const before = asked.length;
      assert.ok(await killClientsNamed(admin, clientName) > 0);
      // Every link the connection opens from now on (its reconnect, the links it opens again)
      // authenticates with the new password.
      await conn.producer().publish("after the kill", {
        routingKey: queue.name,
        retry: true,
        retryPolicy: { intervalStart: 50, intervalStep: 50, maxRetries: 40 },
      });
      const fetched = await queue.bind(await conn.channel()).get();
      assert.equal(fetched?.payload, "after the kill");
      assert.ok(asked.length > before, asked.join());
      assert.deepEqual(new Set(asked.slice(before)), new Set(["pw-2"]));
    } finally {
      await admin.close();
    }

    // A new connection asks again too (the old password would be refused now).
    await using other = new Connection(`redis://127.0.0.1:${server.port}/0`, {
      password: () => current,
    });
    await using otherQueue = other.simpleQueue(queue);
    await otherQueue.put("after the change");
    assert.equal((await otherQueue.get({ timeout: 5000 })).payload, "after the change");
  });
});
