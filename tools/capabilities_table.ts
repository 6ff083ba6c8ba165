/**
 * Prints the README's transport table from each transport's Capabilities (the one place they
 * are written). `tests/unit/readme_test.ts` checks that README.md holds exactly this table.
 *
 * Usage: `deno run -A tools/capabilities_table.ts`
 */
import type { Capabilities } from "../src/transport.ts";

/** The transports shown in the README, with their URL form. */
export async function transportRows(): Promise<[string, string, Capabilities][]> {
  const { memoryCapabilities } = await import("../transports/memory/mod.ts");
  const { filesystemCapabilities } = await import("../transports/filesystem/mod.ts");
  const { AmqpTransport } = await import("../transports/amqp/mod.ts");
  const { AmqplibTransport } = await import("../transports/amqplib/mod.ts");
  const { redisCapabilities } = await import("../transports/redis/mod.ts");
  const { sqsCapabilities } = await import("../transports/sqs/mod.ts");
  const { sqlCapabilities } = await import("../transports/sql/mod.ts");
  const { azureStorageQueuesCapabilities } = await import(
    "../transports/azure_storage_queues/mod.ts"
  );
  const { etcdCapabilities } = await import("../transports/etcd/mod.ts");
  const { zookeeperCapabilities } = await import("../transports/zookeeper/mod.ts");
  const { pyroCapabilities } = await import("../transports/pyro/mod.ts");
  const rows: [string, string, Capabilities][] = [
    ["memory", "`memory://`", memoryCapabilities],
    ["filesystem", "`filesystem://`", filesystemCapabilities],
    ["amqp (native)", "`amqp://user:pass@host:5672/vhost`, `amqps://`", AmqpTransport.capabilities],
    ["amqplib (fallback)", "`amqplib://user:pass@host:5672/vhost`", AmqplibTransport.capabilities],
    ["redis", "`redis://[:pass@]host:6379/db`, `rediss://`, `sentinel://`", redisCapabilities],
    ["sqs", "`sqs://[key:secret@][endpoint]`", sqsCapabilities],
    ["sqla", "`sqla+postgresql://`, `sqla+mysql://`, `sqla+sqlite:///path`", sqlCapabilities],
    [
      "azurestoragequeues",
      "`azurestoragequeues://<key or SAS>@<account URL>`",
      azureStorageQueuesCapabilities,
    ],
    ["etcd", "`etcd://host:2379`", etcdCapabilities],
    ["zookeeper", "`zookeeper://host:2181/vhost`", zookeeperCapabilities],
    ["pyro", "`pyro://host/kombu.broker`", pyroCapabilities],
  ];
  return rows;
}

const yes = (v: boolean) => (v ? "yes" : "—");

/** The markdown table. */
export async function capabilitiesTable(): Promise<string> {
  const head = "| transport | URL | exchanges | priority | TTL | redelivered flag | confirms | " +
    "mandatory | heartbeats | persistent | FIFO | queue equivalence |\n" +
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";
  const lines = (await transportRows()).map(([name, url, c]) =>
    `| ${name} | ${url} | ${c.exchangeTypes.join(", ")} | ${
      c.priority === "none" ? "—" : c.priority
    } | ${yes(c.messageTtl)} | ${yes(c.redeliveredFlag)} | ${yes(c.confirms)} | ${
      yes(c.mandatory)
    } | ${yes(c.heartbeats)} | ${yes(c.persistent)} | ${yes(c.fifo)} | ${yes(c.queueEquivalence)} |`
  );
  return [head, ...lines].join("\n");
}

if (import.meta.main) console.log(await capabilitiesTable());
