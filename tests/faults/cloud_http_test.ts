/**
 * SQS (fauxqs) and Azure Storage Queues (Azurite) behind an HTTP fault proxy: from a seeded
 * random request on, a share of the requests fail: a 500, a reset before the emulator saw the
 * request, a reset in the middle of the answer after it did the work (a send that happened but
 * whose answer was lost; a receive whose messages never reached the consumer), and an ack whose
 * receipt the service calls expired. The ledger then holds: every publish settled, every
 * resolved one consumed, a copy only when flagged (redelivered, or a possible duplicate of a
 * retried send).
 */
import { after, describe, it } from "node:test";
import { Connection, Queue } from "../../mod.ts";
import { AzureStorageQueuesTransport } from "../../transports/azure_storage_queues/mod.ts";
import { SqsTransport } from "../../transports/sqs/mod.ts";
import {
  type Emulator,
  emulatorSkipReason,
  startAzurite,
  startFauxqs,
} from "../_support/emulators.ts";
import { type HttpFault, HttpFaultProxy } from "../_support/http_fault_proxy.ts";
import { envSkip } from "../_support/skips.ts";
import { consumeInto, Ledger } from "./_ledger.ts";
import { azureOptions, sqsOptions } from "./_transports.ts";

const COUNT = 60;

/** The answer of an expired receipt, per service. */
const EXPIRED: Record<"sqs" | "azure", HttpFault> = {
  sqs: {
    status: 400,
    headers: { "content-type": "application/x-amz-json-1.0" },
    body: JSON.stringify({
      __type: "com.amazonaws.sqs#ReceiptHandleIsInvalid",
      message: "The receipt handle has expired.",
    }),
  },
  azure: {
    status: 404,
    headers: { "content-type": "application/xml", "x-ms-error-code": "MessageNotFound" },
    body: '<?xml version="1.0" encoding="utf-8"?><Error><Code>MessageNotFound</Code>' +
      "<Message>The specified message does not exist.</Message></Error>",
  },
};

const SERVICES = [
  {
    name: "sqs" as const,
    emulator: "fauxqs" as const,
    start: startFauxqs,
    connect: (url: string) =>
      new Connection("sqs://", { transport: SqsTransport, transportOptions: sqsOptions(url) }),
  },
  {
    name: "azure" as const,
    emulator: "azurite" as const,
    start: startAzurite,
    connect: (url: string) =>
      new Connection("azurestoragequeues://", {
        transport: AzureStorageQueuesTransport,
        transportOptions: azureOptions(url),
      }),
  },
];

const skips = await Promise.all(
  SERVICES.map(async (s) => envSkip(import.meta.url, await emulatorSkipReason(s.emulator))),
);

describe("fault: SQS and Azure through an HTTP fault proxy", () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  for (const [i, service] of SERVICES.entries()) {
    const skip = skips[i];
    it(
      `${service.name}: 500s, resets before and mid-body, expired receipts`,
      skip.options(),
      async () => {
        const emulator: Emulator = await service.start();
        cleanup.push(() => emulator.stop());
        const proxy = await HttpFaultProxy.start(emulator.url);
        cleanup.push(() => proxy.close());
        const ledger = new Ledger(`${service.name} through the HTTP fault proxy`, COUNT);
        const name = `wk-faults-${ledger.run}`;
        const queue = new Queue(name);
        const producerConn = service.connect(proxy.url);
        const consumerConn = service.connect(proxy.url);
        cleanup.push(() => producerConn.close(), () => consumerConn.close());
        // Declared before the faults start (a queue creation is not what this tests).
        await (await producerConn.channel()).queueDeclare({ name });
        let requests = 0;
        const from = ledger.point(40, 5);
        const kinds: HttpFault[] = ["status500", "resetBefore", "resetMidBody"];
        ledger.note(`faults from request ${from}`);
        proxy.policy = (r) => {
          if (r.action === "Other" || ++requests < from) return "pass";
          // One in four requests fails; an ack (delete) may also meet an expired receipt.
          if (ledger.point(4, 0) !== 0) return "pass";
          const pick = ledger.point(r.action === "DeleteMessage" ? 4 : 3, 0);
          return pick === 3 ? EXPIRED[service.name] : kinds[pick];
        };
        let stop: (() => Promise<void>) | undefined;
        try {
          await ledger.watch(60_000, async () => {
            stop = await consumeInto(ledger, consumerConn, queue);
            const producer = producerConn.producer({ routingKey: name });
            await ledger.publishAll((body) => producer.publish(body), {
              tries: 20,
              retryDelayMs: 50,
            });
            await ledger.consumed(30_000);
          });
          ledger.note([...proxy.counts].map(([k, n]) => `${k} ×${n}`).join(", "));
          ledger.check({ delivered: ledger.confirmedCount });
        } finally {
          proxy.policy = () => "pass";
          await stop?.();
        }
      },
    );
  }
});
