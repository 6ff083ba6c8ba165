/**
 * A Cloudflare Worker that uses wakame the way an edge function would: publish to SQS and to
 * Azure Storage Queues over HTTP, and round-trip a message through `memory://`. Bundled by
 * `workerd_test.ts` with esbuild and served by workerd.
 */
import { Connection } from "../../src/connection.ts";
import { AzureStorageQueuesTransport } from "../../transports/azure_storage_queues/mod.ts";
import { MemoryTransport } from "../../transports/memory/mod.ts";
import { SqsTransport } from "../../transports/sqs/mod.ts";

interface Env {
  SQS_ENDPOINT: string;
  AZURE_CONNECTION_STRING: string;
}

async function publishTo(connection: Connection, queue: string, body: unknown): Promise<void> {
  try {
    await connection.producer().publish(body, { routingKey: queue });
  } finally {
    await connection.close();
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const id = new URL(request.url).searchParams.get("id") ?? "none";
    const body = { from: "workerd", id };
    try {
      const memory = new Connection("memory://", { transport: MemoryTransport });
      const simple = memory.simpleQueue(`edge-${id}`);
      await simple.put(body);
      const echoed = await simple.get({ timeout: 1000 });
      await echoed.ack();
      await memory.close();

      await publishTo(
        new Connection("sqs://", {
          transport: SqsTransport,
          transportOptions: {
            endpoint: env.SQS_ENDPOINT,
            accessKeyId: "edge",
            secretAccessKey: "edge",
            waitTimeSeconds: 0,
          },
        }),
        `edge-${id}`,
        body,
      );
      await publishTo(
        new Connection("azurestoragequeues://", {
          transport: AzureStorageQueuesTransport,
          transportOptions: { connectionString: env.AZURE_CONNECTION_STRING },
        }),
        `edge-${id}`,
        body,
      );
      return Response.json({ ok: true, memory: echoed.payload });
    } catch (error) {
      return Response.json({ ok: false, error: String((error as Error)?.stack ?? error) });
    }
  },
};
