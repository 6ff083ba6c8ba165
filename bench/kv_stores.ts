/**
 * etcd (v2 keys API), ZooKeeper and Pyro against Python Kombu's transports of the same name,
 * side by side on one private etcd, one private ZooKeeper (started here, 127.0.0.1, data on
 * disk: every write is an fsync) and one private Pyro4 name server with Kombu's broker daemon
 * (queues in the daemon's memory: nothing is written to disk). Small JSON messages.
 *
 * - publish: each publish awaited before the next (etcd: one POST each, Kombu adds its lock's
 *   requests; ZooKeeper: one sequential create; Pyro: one `put` call);
 * - consume: a consumer acking every message (wakame: prefetch 100; etcd and ZooKeeper: each
 *   message moved to an unacked record and deleted on ack; Pyro, as Kombu: one `get` call, the
 *   message held in memory until acked; Kombu: delete on read).
 *
 * Run: `deno run -A bench/kv_stores.ts [N]` (or `deno task bench`). Prints a markdown table.
 */
import { Connection } from "../src/connection.ts";
import { Exchange, Queue } from "../src/entity.ts";
import type { Transport } from "../src/transport.ts";
import { EtcdTransport } from "../transports/etcd/mod.ts";
import { ZooKeeperTransport } from "../transports/zookeeper/mod.ts";
import { PyroTransport } from "../transports/pyro/mod.ts";
import { startEtcd } from "../tests/_support/etcd_server.ts";
import { startZooKeeper } from "../tests/_support/zookeeper_server.ts";
import { startPyro } from "../tests/_support/pyro_server.ts";
import { runPython } from "../tests/_support/python.ts";
import { messageCount } from "./_args.ts";

const N = messageCount(300, "kv_stores.ts");
const body = { id: 0, name: "wakame", tags: ["a", "b"], ok: true };
const etcd = await startEtcd();
const zookeeper = await startZooKeeper();
const pyro = await startPyro();
const etcdUrl = `etcd://127.0.0.1:${etcd.port}`;
const zookeeperUrl = `zookeeper://127.0.0.1:${zookeeper.port}/`;

async function wakame(
  url: string,
  transport: Transport,
  transportOptions: Record<string, unknown>,
): Promise<{ publish: number; consume: number }> {
  const name = `bench-wakame-${crypto.randomUUID()}`;
  await using conn = new Connection(url, { transport, transportOptions });
  const exchange = new Exchange("bench-wakame", { type: "direct" });
  const queue = new Queue(name, { exchange, routingKey: name });
  const producer = conn.producer();
  await producer.publish(body, { exchange, routingKey: name, declare: [queue] });
  await conn.defaultChannel().then((c) => c.queuePurge(name));
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    await producer.publish({ ...body, id: i }, { exchange, routingKey: name });
  }
  const t1 = performance.now();
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await using consumer = conn.consumer(queue, {
    prefetchCount: 100,
    callbacks: [async (_body, message) => {
      await message.ack();
      if (++got === N) done();
    }],
  });
  await consumer.consume();
  await finished;
  const t2 = performance.now();
  return { publish: N / ((t1 - t0) / 1000), consume: N / ((t2 - t1) / 1000) };
}

try {
  const rows: [string, { publish: number; consume: number }][] = [];
  const script = new URL("./python/kombu_publish_consume.py", import.meta.url).pathname;
  const kombu = async (url: string) =>
    JSON.parse((await runPython(script, [String(N), url], 600_000)).trim().split("\n").pop()!);
  rows.push(["etcd: wakame (unacked records, default)", await wakame(etcdUrl, EtcdTransport, {})]);
  rows.push([
    "etcd: wakame (`visibilityTimeout: 0`, Kombu's delete on read)",
    await wakame(etcdUrl, EtcdTransport, { visibilityTimeout: 0 }),
  ]);
  rows.push(["etcd: Python Kombu 5.2 (python-etcd)", await kombu(etcdUrl)]);
  rows.push([
    "ZooKeeper: wakame (session records, default)",
    await wakame(zookeeperUrl, ZooKeeperTransport, {}),
  ]);
  rows.push([
    "ZooKeeper: wakame (`ackEmulation: false`, Kombu's delete on read)",
    await wakame(zookeeperUrl, ZooKeeperTransport, { ackEmulation: false }),
  ]);
  rows.push(["ZooKeeper: Python Kombu 5.2 (kazoo)", await kombu(zookeeperUrl)]);
  rows.push(["Pyro: wakame", await wakame(pyro.url, PyroTransport, {})]);
  rows.push(["Pyro: Python Kombu 5.2 (Pyro4)", await kombu(pyro.url)]);
  console.log(`${N} messages, msg/s\n`);
  console.log("| client | publish | consume + ack |\n| --- | ---: | ---: |");
  for (const [name, r] of rows) {
    console.log(`| ${name} | ${Math.round(r.publish)} | ${Math.round(r.consume)} |`);
  }
} finally {
  await etcd.stop();
  await zookeeper.stop();
  await pyro.stop();
}
