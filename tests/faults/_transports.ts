/**
 * The fault suite's transports: a connection factory per transport, each on its own private
 * place (a temporary folder, a random Redis key prefix, a fresh emulator, unique AMQP queues),
 * with the reason it is skipped when its broker or emulator is missing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connection } from "../../mod.ts";
import { AmqpTransport } from "../../transports/amqp/mod.ts";
import { AzureStorageQueuesTransport } from "../../transports/azure_storage_queues/mod.ts";
import { FilesystemTransport } from "../../transports/filesystem/mod.ts";
import { MemoryTransport } from "../../transports/memory/mod.ts";
import { redisTransport } from "../../transports/redis/mod.ts";
import { SqsTransport } from "../../transports/sqs/mod.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import {
  AZURITE_KEY,
  type Emulator,
  emulatorSkipReason,
  startAzurite,
  startFauxqs,
} from "../_support/emulators.ts";

/** One transport's place for a scenario. */
export interface Place {
  /** Opens a new connection there (each consumer or producer may get its own). */
  connect(extra?: Record<string, unknown>): Connection;
  /** Removes what the place holds. */
  dispose(): Promise<void>;
}

/** A transport the suite runs on. */
export interface FaultTransport {
  name: string;
  /** Why it cannot run here, or false. */
  skipReason(): Promise<string | false>;
  /** Makes a fresh place. */
  open(): Promise<Place>;
}

const recovery = { intervalStart: 50, intervalStep: 50, intervalMax: 200 };

/** Azure's connection string for an Azurite at `url`. */
export function azuriteConnectionString(url: string): string {
  return "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
    `AccountKey=${AZURITE_KEY};QueueEndpoint=${url}/devstoreaccount1;`;
}

/** Options of an SQS connection to the emulator at `url` (fast polling, short timeouts). */
export function sqsOptions(url: string, extra: Record<string, unknown> = {}) {
  return {
    endpoint: url,
    accessKeyId: "unit",
    secretAccessKey: "unit",
    waitTimeSeconds: 1,
    pollingInterval: 50,
    visibilityTimeout: 2000,
    ...extra,
  };
}

/** Options of an Azure connection to the Azurite at `url`. */
export function azureOptions(url: string, extra: Record<string, unknown> = {}) {
  return {
    connectionString: azuriteConnectionString(url),
    pollingInterval: 50,
    visibilityTimeout: 2000,
    ...extra,
  };
}

function emulated(
  name: string,
  emulator: "fauxqs" | "azurite",
  connect: (e: Emulator, extra: Record<string, unknown>) => Connection,
): FaultTransport {
  return {
    name,
    skipReason: () => emulatorSkipReason(emulator),
    async open() {
      const e = await (emulator === "fauxqs" ? startFauxqs() : startAzurite());
      return { connect: (extra = {}) => connect(e, extra), dispose: () => e.stop() };
    },
  };
}

/** Every transport of the suite. */
export const TRANSPORTS: FaultTransport[] = [
  {
    name: "memory",
    skipReason: () => Promise.resolve(false),
    open() {
      // One memory broker per scope: a unique virtual host keeps each place apart.
      const vhost = `faults-${crypto.randomUUID().slice(0, 8)}`;
      return Promise.resolve({
        connect: (extra = {}) =>
          new Connection(`memory:///${vhost}`, {
            transport: MemoryTransport,
            transportOptions: { pollingInterval: 10, ...extra },
          }),
        dispose: () => Promise.resolve(),
      });
    },
  },
  {
    name: "filesystem",
    skipReason: () => Promise.resolve(false),
    open() {
      const dir = mkdtempSync(join(tmpdir(), "wk-faults-fs-"));
      return Promise.resolve({
        connect: (extra = {}) =>
          new Connection("filesystem://", {
            transport: FilesystemTransport,
            transportOptions: {
              dataFolderIn: join(dir, "q"),
              dataFolderOut: join(dir, "q"),
              processedFolder: join(dir, "processed"),
              controlFolder: join(dir, "control"),
              pollingInterval: 10,
              ...extra,
            },
          }),
        dispose: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
      });
    },
  },
  {
    name: "redis",
    skipReason: () => brokerSkipReason("Redis", "127.0.0.1", 6379),
    open() {
      const prefix = `wk-faults-${crypto.randomUUID().slice(0, 8)}:`;
      return Promise.resolve({
        connect: (extra = {}) =>
          new Connection("redis://127.0.0.1:6379/0", {
            transport: redisTransport,
            transportOptions: { globalKeyprefix: prefix, visibilityTimeout: 2000, ...extra },
            recoveryPolicy: recovery,
          }),
        // The keys go with the prefix: the tests remove their queues themselves.
        dispose: () => Promise.resolve(),
      });
    },
  },
  emulated("sqs", "fauxqs", (e, extra) =>
    new Connection("sqs://", {
      transport: SqsTransport,
      transportOptions: sqsOptions(e.url, extra),
    })),
  emulated("azure", "azurite", (e, extra) =>
    new Connection("azurestoragequeues://", {
      transport: AzureStorageQueuesTransport,
      transportOptions: azureOptions(e.url, extra),
    })),
  {
    name: "amqp",
    skipReason: () => brokerSkipReason("RabbitMQ", "127.0.0.1", 5672),
    open() {
      return Promise.resolve({
        connect: (extra = {}) =>
          new Connection("amqp://guest:guest@127.0.0.1:5672//", {
            transport: AmqpTransport,
            transportOptions: { confirmPublish: true, ...extra },
            recoveryPolicy: recovery,
          }),
        dispose: () => Promise.resolve(),
      });
    },
  },
];

/** A queue name unique to this run (lower case, for SQS and Azure). */
export function uniqueQueue(tag: string): string {
  return `wk-faults-${tag}-${crypto.randomUUID().slice(0, 8)}`;
}
