/**
 * Kombu's own test expectations for `Connection` URLs (`t/unit/test_connection.py`,
 * `test_connection_utils`), checked through wakame's public API. `info()` masks the password
 * (README, "Differences from Kombu"), so the password is compared as `**` where one is used.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import "../../../transports/amqp/mod.ts";

type Expected = [userid: string, hostname: string, port: number, virtualHost: string];

/** RabbitMQ's URI spec examples (its Appendix A), as Kombu's test_rabbitmq_example_urls. */
const RABBITMQ_EXAMPLES: [string, Expected][] = [
  ["amqp://user:pass@host:10000/vhost", ["user", "host", 10000, "vhost"]],
  ["amqp://user%61:%61pass@ho%61st:10000/v%2fhost", ["usera", "hoast", 10000, "v/host"]],
  ["amqp://", ["guest", "localhost", 5672, "/"]],
  ["amqp://:@/", ["guest", "localhost", 5672, "/"]],
  ["amqp://user@/", ["user", "localhost", 5672, "/"]],
  ["amqp://user:pass@/", ["user", "localhost", 5672, "/"]],
  ["amqp://host", ["guest", "host", 5672, "/"]],
  ["amqp://:10000", ["guest", "localhost", 10000, "/"]],
  ["amqp:///vhost", ["guest", "localhost", 5672, "vhost"]],
  ["amqp://host/", ["guest", "host", 5672, "/"]],
  ["amqp://host/%2f", ["guest", "host", 5672, "/"]],
];

describe("Kombu test_connection.py: test_connection_utils", () => {
  it("reads RabbitMQ's example URLs with the defaults filled in (test_rabbitmq_example_urls)", async () => {
    const got: Record<string, Expected> = {};
    const want: Record<string, Expected> = {};
    for (const [url, expected] of RABBITMQ_EXAMPLES) {
      await using conn = new Connection(url);
      const info = await conn.info();
      got[url] = [info.userid!, info.hostname, info.port!, info.virtualHost!];
      want[url] = expected;
      assert.equal(info.password, "**", url);
    }
    assert.deepEqual(got, want);
  });

  it("asUri masks the password; with it, gives the URL back (test_parse_generated_as_uri)", async () => {
    const url = "amqp://user:pass@localhost:5672/my/vhost";
    await using conn = new Connection(url);
    const info = await conn.info();
    assert.deepEqual(
      [info.transport, info.userid, info.hostname, info.port, info.virtualHost],
      ["amqp", "user", "localhost", 5672, "my/vhost"],
    );
    assert.equal(conn.asUri(), "amqp://user:**@localhost:5672/my/vhost");
    assert.equal(conn.asUri({ includePassword: true }), url);
  });

  it("keeps a unix socket path in asUri (test_as_uri_when_prefix)", async () => {
    await using conn = new Connection("redis+socket:///var/spool/x/y/z/redis.sock");
    assert.equal(conn.asUri(), "redis+socket:///var/spool/x/y/z/redis.sock");
  });

  it("refuses an unknown scheme when the transport is needed (test_bogus_scheme)", async () => {
    await using conn = new Connection("bogus://localhost:7421");
    await assert.rejects(conn.connect(), /bogus/);
  });

  it("a copy keeps the alternates (test_connection_copy)", async () => {
    await using conn = new Connection("amqp://user:pass@localhost:5672/my/vhost", {
      alternates: ["amqp://host"],
    });
    await using clone = conn.clone();
    assert.deepEqual((await clone.info()).alternates, (await conn.info()).alternates);
    assert.equal((await clone.info()).alternates.length, 2);
  });
});
