import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { bodyText, Connection, Queue } from "../../../mod.ts";
import { ConfigurationError, ConnectionError } from "../../../src/errors.ts";
import { rawRedis } from "./_helpers.ts";
import { freePort, haveBinary, PrivateRedis, PrivateSentinel } from "./_server.ts";
import { envSkip } from "../../_support/skips.ts";

const tools = envSkip(
  import.meta.url,
  haveBinary("redis-server") && haveBinary("redis-sentinel")
    ? false
    : "redis-server and redis-sentinel are needed (apt-get install redis-server redis-sentinel)",
);

describe(
  "sentinel:// (a private redis-server watched by a private redis-sentinel)",
  () => {
    let server: PrivateRedis;
    let sentinel: PrivateSentinel;
    const master = `wk-master-${crypto.randomUUID().slice(0, 6)}`;
    before(async () => {
      if (tools.reason) return;
      server = await PrivateRedis.start();
      sentinel = await PrivateSentinel.start(master, server.port);
    });
    after(async () => {
      await sentinel?.dispose();
      await server?.dispose();
    });

    const connect = (url: string, options: Record<string, unknown>) =>
      new Connection(url, { transportOptions: options });

    it("finds the master through Sentinel and uses it", tools.options(), async () => {
      await using conn = connect(`sentinel://127.0.0.1:${sentinel.port}/0`, { masterName: master });
      await conn.producer().publish({ via: "sentinel" }, {
        routingKey: "sq",
        declare: [new Queue("sq")],
      });
      const raw = await rawRedis(server.port);
      try {
        assert.equal(await raw.send(["LLEN", "sq"]), 1, "the message is on the master");
      } finally {
        await raw.close();
      }
      const channel = await conn.channel();
      const delivery = await channel.basicGet("sq");
      assert.ok(delivery);
      assert.deepEqual(JSON.parse(bodyText(delivery.body)), { via: "sentinel" });
      await channel.basicAck(delivery.deliveryTag);
    });

    it("asks the next sentinel when the first does not answer", tools.options(), async () => {
      const dead = await freePort();
      await using conn = connect(`sentinel://127.0.0.1:${dead}/0`, {
        masterName: master,
        sentinels: [`127.0.0.1:${sentinel.port}`],
      });
      const channel = await conn.channel();
      assert.equal(await channel.basicGet("nothing-here"), undefined);
    });

    it("fails with a ConnectionError for a master no sentinel knows", tools.options(), async () => {
      const conn = connect(`sentinel://127.0.0.1:${sentinel.port}/0`, { masterName: "nobody" });
      await assert.rejects(conn.connect(), ConnectionError);
      await conn.close();
    });

    it("refuses to start without masterName", tools.options(), async () => {
      const conn = connect(`sentinel://127.0.0.1:${sentinel.port}/0`, {});
      await assert.rejects(conn.connect(), ConfigurationError);
      await conn.close();
    });
  },
);
