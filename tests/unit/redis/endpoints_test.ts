import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bodyText, Connection, Queue } from "../../../mod.ts";
import { ConfigurationError, ConnectionError } from "../../../src/errors.ts";
import { RespConnection } from "../../../transports/redis/resp/client.ts";
import { connectSocket } from "../../../src/runtime/mod.ts";
import { haveBinary, PrivateRedis } from "./_server.ts";
import { envSkip } from "../../_support/skips.ts";

const noServer = haveBinary("redis-server")
  ? false
  : "redis-server is not installed (apt-get install redis-server)";
const unixTools = envSkip(import.meta.url, noServer);
const tlsTools = envSkip(
  import.meta.url,
  noServer ||
    (haveBinary("openssl") ? false : "openssl is not installed (apt-get install openssl)"),
);
const clusterTools = envSkip(
  import.meta.url,
  noServer ||
    (haveBinary("redis-cli") ? false : "redis-cli is not installed (apt-get install redis-tools)"),
);
const drivers = ["resp", "ioredis"] as const;

/** Publishes one message and reads it back with basicGet. */
async function roundTrip(conn: Connection, queue: string): Promise<unknown> {
  await conn.producer().publish({ queue }, { routingKey: queue, declare: [new Queue(queue)] });
  const channel = await conn.channel();
  const delivery = await channel.basicGet(queue);
  assert.ok(delivery, "the message came back");
  await channel.basicAck(delivery.deliveryTag);
  return JSON.parse(bodyText(delivery.body));
}

describe("redis+socket:// over a unix socket", () => {
  let server: PrivateRedis;
  let socket: string;
  before(async () => {
    if (unixTools.reason) return;
    server = await PrivateRedis.start((dir, port) => {
      socket = join(dir, "redis.sock");
      return ["--port", String(port), "--unixsocket", socket];
    });
  });
  after(async () => {
    if (unixTools.reason) return;
    await server?.dispose();
  });

  for (const driver of drivers) {
    it(`publishes and consumes (${driver} driver)`, unixTools.options(), async () => {
      await using conn = new Connection(`redis+socket://${socket}`, {
        transportOptions: { driver, db: 2 },
      });
      const queue = `unix-${driver}`;
      await conn.producer().publish({ queue }, { routingKey: queue, declare: [new Queue(queue)] });
      // It went to database 2 of this server.
      const raw = await RespConnection.connect({
        hostname: "127.0.0.1",
        port: server.port,
        db: 2,
        socketFactory: connectSocket,
      });
      assert.equal(await raw.send(["LLEN", queue]), 1);
      const channel = await conn.channel();
      const delivery = await channel.basicGet(queue);
      assert.deepEqual(JSON.parse(bodyText(delivery!.body)), { queue });
      await channel.basicAck(delivery!.deliveryTag);
      assert.equal(await raw.send(["LLEN", queue]), 0);
      await raw.close();
    });
  }
});

describe("rediss:// with TLS verification", () => {
  let server: PrivateRedis;
  let ca: string;
  let caFile: string;
  before(async () => {
    if (tlsTools.reason) return;
    server = await PrivateRedis.start((dir, port) => {
      caFile = join(dir, "ca.crt");
      const run = (args: string[]) => {
        const out = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
        if (out.status !== 0) throw new Error(`openssl ${args[0]} failed: ${out.stderr}`);
      };
      run([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=wakame test CA",
      ]);
      run([
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
      ]);
      spawnSync("sh", ["-c", "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext"], {
        cwd: dir,
      });
      run([
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
      ]);
      ca = readFileSync(join(dir, "ca.crt"), "utf8");
      return [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--tls-cert-file",
        join(dir, "server.crt"),
        "--tls-key-file",
        join(dir, "server.key"),
        "--tls-ca-cert-file",
        join(dir, "ca.crt"),
        "--tls-auth-clients",
        "no",
      ];
    });
  });
  after(async () => {
    if (tlsTools.reason) return;
    await server?.dispose();
  });

  for (const driver of drivers) {
    it(
      `refuses a certificate it cannot verify (${driver} driver)`,
      tlsTools.options(),
      async () => {
        const conn = new Connection(`rediss://127.0.0.1:${server.port}/0`, {
          transportOptions: { driver },
          connectTimeout: 3000,
        });
        await assert.rejects(conn.connect(), ConnectionError);
        await conn.close();
      },
    );

    it(`connects when given the CA (${driver} driver)`, tlsTools.options(), async () => {
      await using conn = new Connection(`rediss://127.0.0.1:${server.port}/0`, {
        ssl: { ca },
        transportOptions: { driver },
      });
      assert.deepEqual(await roundTrip(conn, `tls-${driver}`), { queue: `tls-${driver}` });
    });

    it(
      `connects with Kombu's ssl_* URL keys, the CA read from its file (${driver} driver)`,
      tlsTools.options(),
      async () => {
        const query = `ssl_cert_reqs=CERT_REQUIRED&ssl_ca_certs=${encodeURIComponent(caFile)}`;
        await using conn = new Connection(`rediss://127.0.0.1:${server.port}/0?${query}`, {
          transportOptions: { driver },
        });
        const queue = `tls-url-${driver}`;
        assert.deepEqual(await roundTrip(conn, queue), { queue });
        const missing = new Connection(
          `rediss://127.0.0.1:${server.port}/0?ssl_ca_certs=${encodeURIComponent(caFile)}.gone`,
          { transportOptions: { driver } },
        );
        await assert.rejects(missing.connect(), /Cannot read the TLS CA certificates/);
        await missing.close();
      },
    );
  }
});

describe("cluster mode on a real three-node Redis Cluster", () => {
  const nodes: PrivateRedis[] = [];
  before(async () => {
    if (clusterTools.reason) return;
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await PrivateRedis.start((dir, port) => [
          "--port",
          String(port),
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          join(dir, "nodes.conf"),
        ]),
      );
    }
    const created = spawnSync("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ], { encoding: "utf8", timeout: 30_000 });
    if (created.status !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}`);
    }
    // Wait (bounded) until every node says the cluster is up.
    for (const node of nodes) {
      for (let i = 0; i < 200; i++) {
        const info = spawnSync("redis-cli", ["-p", String(node.port), "CLUSTER", "INFO"], {
          encoding: "utf8",
        }).stdout;
        if (info.includes("cluster_state:ok")) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  after(async () => {
    if (clusterTools.reason) return;
    for (const node of nodes) await node.dispose();
  });

  it("refuses a key prefix without a hash tag", clusterTools.options(), async () => {
    const conn = new Connection(`redis://127.0.0.1:${nodes[0]!.port}/0`, {
      transportOptions: { cluster: true, globalKeyprefix: "plain:" },
    });
    await assert.rejects(conn.connect(), ConfigurationError);
    await conn.close();
  });

  for (const driver of drivers) {
    it(
      `works through any node: keys share one slot on its owner (${driver} driver)`,
      clusterTools.options(),
      async () => {
        const prefix = `{wk-${driver}}.`;
        for (const entry of nodes) {
          await using conn = new Connection(`redis://127.0.0.1:${entry.port}/0`, {
            transportOptions: { cluster: true, globalKeyprefix: prefix, driver },
          });
          assert.deepEqual(await roundTrip(conn, "jobs"), { queue: "jobs" });
        }
        {
          await using conn = new Connection(`redis://127.0.0.1:${nodes[0]!.port}/0`, {
            transportOptions: { cluster: true, globalKeyprefix: prefix, driver },
          });
          await conn.producer().publish({ left: true }, { routingKey: "jobs", priority: 9 });
          await conn.producer().publish({ left: true }, { routingKey: "jobs" });
          const channel = await conn.channel();
          // Taken and left unacked: the channel's close gives it back (restore at shutdown).
          assert.ok(await channel.basicGet("jobs"));
        }
        // All of the transport's keys live on one node: the owner of the slot of the tag.
        const holders = nodes.filter((n) =>
          spawnSync("redis-cli", ["-p", String(n.port), "--scan", "--pattern", `${prefix}*`], {
            encoding: "utf8",
          }).stdout.trim() !== ""
        );
        assert.equal(holders.length, 1);
        const keys = spawnSync("redis-cli", [
          "-p",
          String(holders[0]!.port),
          "--scan",
          "--pattern",
          `${prefix}*`,
        ], { encoding: "utf8" }).stdout.trim().split("\n").sort();
        assert.deepEqual(keys, [`${prefix}jobs`, `${prefix}jobs\x06\x169`]);
      },
    );
  }
});
