/**
 * `ConformanceInspector`s of the built-in transports: each counts what a store holds for a queue
 * (ready plus unacknowledged) without going through the transport under test's connections.
 */
import { readdir } from "node:fs/promises";
import amqplib from "amqplib";
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { ConformanceInspector } from "../../testing/conformance.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import { AzureQueueClient } from "../../transports/azure_storage_queues/client.ts";
import { azureQueueName } from "../../transports/azure_storage_queues/names.ts";
import { readAzureSettings } from "../../transports/azure_storage_queues/options.ts";
import { sqsQueueName } from "../../transports/sqs/names.ts";
import { rawRedis, text } from "../unit/redis/_helpers.ts";
import { ZkClient } from "../../transports/zookeeper/client.ts";
import { connectSocket } from "../../src/runtime/mod.ts";

/** Kombu's priority-step separator in Redis list names (`queue\x06\x16<step>`). */
const REDIS_STEP_SEP = "\x06\x16";
/** Kombu's default priority steps beyond 0 (step 0 is the bare queue name). */
const REDIS_STEPS = [3, 6, 9];

/**
 * Redis in Kombu's layout: the queue's lists (every priority step) plus the entries of the
 * `unacked` hash whose `[envelope, exchange, routing_key]` points back to the queue.
 *
 * @param prefix the harness's `globalKeyprefix`
 */
export function redisInspector(prefix: string): ConformanceInspector {
  return {
    async held(queue) {
      const raw = await rawRedis();
      try {
        let total = 0;
        for (const key of [queue, ...REDIS_STEPS.map((s) => `${queue}${REDIS_STEP_SEP}${s}`)]) {
          total += Number(await raw.send(["LLEN", `${prefix}${key}`]));
        }
        const values = await raw.send(["HVALS", `${prefix}unacked`]) as unknown[];
        for (const value of values) {
          const [, exchange, routingKey] = JSON.parse(text(value as Uint8Array));
          if (exchange === "" && routingKey === queue) total++;
        }
        return total;
      } finally {
        await raw.close();
      }
    },
  };
}

/**
 * RabbitMQ through the amqplib package (not the transport under test): a passive declare's
 * message count. Unacknowledged messages are not counted until their channel closes, which the
 * suite does before asking.
 *
 * @param url an `amqp://` URL
 */
export function rabbitmqInspector(url: string): ConformanceInspector {
  return {
    async held(queue) {
      const conn = await amqplib.connect(url);
      try {
        const channel = await conn.createChannel();
        return (await channel.checkQueue(queue)).messageCount;
      } finally {
        await conn.close();
      }
    },
  };
}

/**
 * SQS through the AWS SDK: visible, in-flight (received, not deleted) and delayed messages.
 *
 * @param endpoint the emulator's URL, read when asked (known only once it runs)
 */
export function sqsInspector(endpoint: () => string): ConformanceInspector {
  return {
    async held(queue) {
      const client = new SQSClient({
        endpoint: endpoint(),
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      });
      try {
        const { QueueUrl } = await client.send(
          new GetQueueUrlCommand({ QueueName: sqsQueueName("", queue) }),
        );
        const { Attributes = {} } = await client.send(
          new GetQueueAttributesCommand({
            QueueUrl,
            AttributeNames: [
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
              "ApproximateNumberOfMessagesDelayed",
            ],
          }),
        );
        return Object.values(Attributes).reduce((sum, n) => sum + Number(n), 0);
      } finally {
        client.destroy();
      }
    },
  };
}

/**
 * Azure Storage Queues: the queue metadata's approximate count, which includes messages made
 * invisible by a receive that was never deleted.
 *
 * @param transportOptions the harness's transport options (read when asked)
 */
export function azureInspector(transportOptions: Record<string, unknown>): ConformanceInspector {
  return {
    async held(queue) {
      const client = new AzureQueueClient(
        readAzureSettings({ transportOptions, hostname: "", virtualHost: "" } as ConnectionParams),
      );
      const answer = await client.call(
        `inspect queue "${queue}"`,
        "GET",
        `/${azureQueueName("", queue)}`,
        { query: { comp: "metadata" } },
      );
      return Number(answer.headers.get("x-ms-approximate-messages-count"));
    },
  };
}

/**
 * The filesystem transport: message files of the queue in the data folder (`<ms>_<uuid>.<queue>.msg`;
 * a message is taken by moving its file away, so there is no separate unacknowledged record).
 *
 * @param folder the `dataFolderIn`
 */
export function filesystemInspector(folder: string): ConformanceInspector {
  return {
    async held(queue) {
      const names = await readdir(folder).catch(() => [] as string[]);
      return names.filter((name) => name.endsWith(`.${queue}.msg`)).length;
    },
  };
}

/**
 * etcd in Kombu's layout, read over plain HTTP: the in-order keys of `/kombu/<queue>` plus
 * wakame's unacked records `/wakame.unacked/<queue>/*`.
 *
 * @param url the server's URL, read when asked (known only once it runs)
 */
export function etcdInspector(url: () => string): ConformanceInspector {
  const count = async (key: string): Promise<number> => {
    const answer = await fetch(`${url()}/v2/keys/${key}`);
    const json = await answer.json() as { node?: { nodes?: unknown[] } };
    return json.node?.nodes?.length ?? 0;
  };
  return {
    async held(queue) {
      const name = encodeURIComponent(queue);
      return await count(`kombu/${name}`) + await count(`wakame.unacked/${name}`);
    },
  };
}

/**
 * ZooKeeper in Kombu's layout, through kazoo-free plain protocol calls of a separate session:
 * the entries of `/<queue>` plus wakame's records `/wakame.unacked/<queue>/*`.
 *
 * @param port the server's port, read when asked
 */
export function zookeeperInspector(port: () => number): ConformanceInspector {
  return {
    async held(queue) {
      const client = new ZkClient({
        hosts: [{ hostname: "127.0.0.1", port: port() }],
        sessionTimeout: 5000,
        connectTimeout: 5000,
        socketFactory: connectSocket,
        warn: () => {},
      });
      await client.start();
      const count = async (path: string) => {
        try {
          const answer = await client.call({ op: "getChildren", path, watch: false });
          return answer.op === "getChildren" ? answer.children.length : 0;
        } catch {
          return 0;
        }
      };
      try {
        return await count(`/${queue}`) + await count(`/wakame.unacked/${queue}`);
      } finally {
        await client.close();
      }
    },
  };
}
