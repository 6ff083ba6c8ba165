/**
 * The HTTP transports against their local emulators: SQS on fauxqs, Azure Storage Queues on
 * Azurite (both started here, Node 20, in-memory, 127.0.0.1). Small JSON messages.
 *
 * - publish, one at a time: each publish awaited before the next (one HTTP request each).
 * - publish, concurrent: windows of 100 publishes in flight; SQS coalesces them into
 *   SendMessageBatch calls of up to 10, Azure (no batch API) sends them side by side.
 * - consume: a consumer with prefetch 100 acking every message (SQS receives 10 per call and
 *   deletes in batches; Azure receives up to 32 per call and deletes one by one).
 * - get + ack, one at a time: `basicGet` then ack, sequentially (a short poll each).
 *
 * Numbers measure wakame plus the emulator on one machine, not the cloud services.
 *
 * Run: `deno run -A bench/http_queues.ts [N]` (or `deno task bench`). Prints a markdown table.
 */
import { Connection } from "../src/connection.ts";
import { AzureStorageQueuesTransport } from "../transports/azure_storage_queues/mod.ts";
import { SqsTransport } from "../transports/sqs/mod.ts";
import { AZURITE_KEY, startAzurite, startFauxqs } from "../tests/_support/emulators.ts";
import { messageCount } from "./_args.ts";

const N = messageCount(1000, "http_queues.ts");
const WINDOW = 100;
const body = { id: 0, name: "wakame", tags: ["a", "b"], ok: true };

interface Row {
  name: string;
  single: number;
  concurrent: number;
  consume: number;
  getAck: number;
}

const rate = (count: number, ms: number) => Math.round(count / (ms / 1000));

async function measure(name: string, connect: () => Connection): Promise<Row> {
  const conn = connect();
  const run = crypto.randomUUID().slice(0, 8);
  try {
    const producer = conn.producer();
    const single = `bench-single-${run}`;
    const batched = `bench-batched-${run}`;
    await producer.publish(body, { routingKey: single });
    await producer.publish(body, { routingKey: batched });
    const small = Math.min(N, 300);

    let t0 = performance.now();
    for (let i = 1; i < small; i++) {
      await producer.publish({ ...body, id: i }, { routingKey: single });
    }
    const singleRate = rate(small - 1, performance.now() - t0);

    t0 = performance.now();
    for (let i = 1; i < N; i += WINDOW) {
      const window: Promise<void>[] = [];
      for (let j = i; j < Math.min(N, i + WINDOW); j++) {
        window.push(producer.publish({ ...body, id: j }, { routingKey: batched }));
      }
      await Promise.all(window);
    }
    const concurrentRate = rate(N - 1, performance.now() - t0);

    t0 = performance.now();
    let got = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const acks: Promise<void>[] = [];
    const consumer = conn.consumer(conn.simpleQueue(batched).queue, {
      prefetchCount: 100,
      callbacks: [(_b, message) => {
        acks.push(message.ack());
        if (++got === N) done();
      }],
    });
    await consumer.consume();
    await finished;
    await Promise.all(acks);
    const consumeRate = rate(N, performance.now() - t0);
    await consumer.cancel();

    const channel = await conn.channel();
    t0 = performance.now();
    let taken = 0;
    for (let i = 0; i < small * 2 && taken < small; i++) {
      const delivery = await channel.basicGet(single);
      if (!delivery) continue;
      await channel.basicAck(delivery.deliveryTag);
      taken++;
    }
    const getAckRate = rate(taken, performance.now() - t0);
    await channel.close();
    return {
      name,
      single: singleRate,
      concurrent: concurrentRate,
      consume: consumeRate,
      getAck: getAckRate,
    };
  } finally {
    await conn.close();
  }
}

const [sqs, azurite] = await Promise.all([startFauxqs(), startAzurite()]);
const rows: Row[] = [];
try {
  rows.push(
    await measure("sqs (fauxqs 1.9.2)", () =>
      new Connection("sqs://", {
        transport: SqsTransport,
        transportOptions: {
          endpoint: sqs.url,
          accessKeyId: "bench",
          secretAccessKey: "bench",
          waitTimeSeconds: 1,
        },
      })),
  );
  const connectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
    `AccountKey=${AZURITE_KEY};QueueEndpoint=${azurite.url}/devstoreaccount1;`;
  rows.push(
    await measure(
      "azurestoragequeues (Azurite 3.35.0)",
      () =>
        new Connection("azurestoragequeues://", {
          transport: AzureStorageQueuesTransport,
          transportOptions: { connectionString, pollingInterval: 20 },
        }),
    ),
  );
} finally {
  await Promise.all([sqs.stop(), azurite.stop()]);
}

console.log(`\n${N} messages (one-at-a-time rows: ${Math.min(N, 300)}), msg/s\n`);
console.log(
  "| transport | publish, one at a time | publish, 100 in flight | consume (prefetch 100, ack) | get + ack, one at a time |",
);
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(`| ${r.name} | ${r.single} | ${r.concurrent} | ${r.consume} | ${r.getAck} |`);
}
