/**
 * Transport names and aliases, resolved lazily (Kombu's `kombu.transport.TRANSPORT_ALIASES`):
 * a transport's code is loaded only when a URL names it.
 *
 * @module
 */

import { UnknownTransportError } from "./errors.ts";
import { closestNames } from "./utils/closest.ts";
import type { Transport } from "./transport.ts";
import {
  importSibling,
  isModuleNotFound,
  missingPackageError,
  type OptionalPackage,
} from "./_import.ts";

/** Loads a transport on first use. */
export type TransportLoader = () => Promise<Transport>;

interface Entry {
  readonly load: TransportLoader;
  /** The transport takes the whole URL itself (its form is not `host:port/vhost`). */
  readonly rawUrl: boolean;
  loaded?: Promise<Transport>;
}

const table = new Map<string, Entry>();

/**
 * Registers a transport under a name and aliases (Kombu's `TRANSPORT_ALIASES`).
 *
 * @param names the scheme names (`amqp`, `pyamqp`, ...)
 * @param transport the transport or a loader that imports it
 * @param options `rawUrl` when the transport parses its own URL form
 * @example
 * ```ts
 * import { registerTransport } from "@wakame/wakame";
 * import { MemoryTransport } from "@wakame/wakame/memory";
 * registerTransport(["my-mem"], MemoryTransport);
 * ```
 */
export function registerTransport(
  names: string | readonly string[],
  transport: Transport | TransportLoader,
  options: { rawUrl?: boolean } = {},
): void {
  const load: TransportLoader = typeof transport === "function"
    ? transport
    : () => Promise.resolve(transport);
  for (const name of typeof names === "string" ? [names] : names) {
    table.set(name.toLowerCase(), { load, rawUrl: options.rawUrl ?? false });
  }
}

/** The registered names, sorted. */
export function transportNames(): string[] {
  return [...table.keys()].sort();
}

function entryFor(name: string): Entry {
  const entry = table.get(name.toLowerCase());
  if (entry) return entry;
  const names = transportNames();
  const close = closestNames(name, names).map((candidate) => `"${candidate}"`);
  const hint = close.length ? ` Did you mean ${close.slice(0, 3).join(" or ")}?` : "";
  throw new UnknownTransportError(
    `Cannot find transport "${name}".${hint} Known transports: ${names.join(", ")}.`,
  );
}

/** Whether a scheme's transport parses the whole URL itself. */
export function takesRawUrl(name: string): boolean {
  return table.get(name.toLowerCase())?.rawUrl ?? false;
}

/**
 * Loads the transport registered under a name.
 *
 * @param name a scheme or alias
 * @returns the transport
 * @throws {UnknownTransportError} with a "did you mean" for names that are not registered
 */
export function resolveTransport(name: string): Promise<Transport> {
  const entry = entryFor(name);
  entry.loaded ??= entry.load();
  return entry.loaded;
}

/** A built-in transport's module, loaded only when a URL names it (see `_import.ts`). */
function builtin(path: string, name: string, needs?: OptionalPackage): TransportLoader {
  return async () => {
    let module: Record<string, unknown>;
    try {
      module = await importSibling<Record<string, unknown>>(path, import.meta.url);
    } catch (cause) {
      if (needs !== undefined && isModuleNotFound(cause, needs.name)) {
        throw missingPackageError(needs, cause);
      }
      throw new UnknownTransportError(
        `Cannot load the transport module "${path}" (${
          cause instanceof Error ? cause.message : cause
        }). ` +
          `Bundled code must import the transport's subpath (@wakame/wakame/<transport>) itself.`,
        { cause },
      );
    }
    return module[name] as Transport;
  };
}

// memory:// is small and pure, so every bundle may carry it; the others load on first use.
registerTransport(
  ["memory"],
  () => import("../transports/memory/mod.ts").then((m) => m.MemoryTransport),
);
registerTransport(["filesystem"], builtin("../transports/filesystem/mod", "FilesystemTransport"));
registerTransport(
  ["amqp", "amqps", "pyamqp", "librabbitmq"],
  builtin("../transports/amqp/mod", "AmqpTransport"),
);
registerTransport(
  ["amqplib", "amqplibs"],
  builtin("../transports/amqplib/mod", "AmqplibTransport"),
);
registerTransport(["redis"], builtin("../transports/redis/mod", "redisTransport"));
registerTransport(["rediss"], builtin("../transports/redis/mod", "redissTransport"));
registerTransport(["redis+socket"], builtin("../transports/redis/mod", "redisSocketTransport"));
registerTransport(["sentinel"], builtin("../transports/redis/mod", "sentinelTransport"));
registerTransport(
  ["sqs"],
  builtin("../transports/sqs/mod", "SqsTransport", {
    name: "@aws-sdk/client-sqs",
    range: "^3",
    feature: "the sqs:// transport",
  }),
);
registerTransport(["etcd"], builtin("../transports/etcd/mod", "EtcdTransport"));
registerTransport(["pyro"], builtin("../transports/pyro/mod", "PyroTransport"));
registerTransport(
  ["zookeeper"],
  builtin("../transports/zookeeper/mod", "ZooKeeperTransport"),
);
registerTransport(
  ["azurestoragequeues"],
  builtin("../transports/azure_storage_queues/mod", "AzureStorageQueuesTransport"),
  { rawUrl: true },
);
registerTransport(
  [
    ...["postgresql", "postgres", "postgresql+psycopg2", "postgresql+pg8000", "mysql"],
    ...["mysql+pymysql", "mysql+mysqldb", "sqlite"],
  ].flatMap((rest) => [`sqla+${rest}`, `sqlalchemy+${rest}`]),
  builtin("../transports/sql/mod", "SqlTransport"),
  { rawUrl: true },
);
