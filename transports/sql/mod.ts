/**
 * The SQL transport, table-compatible with Python Kombu's SQLAlchemy transport
 * (`kombu.transport.sqlalchemy`): wakame, Python Kombu and Celery can share one PostgreSQL,
 * MariaDB/MySQL or SQLite database.
 *
 * URLs (Kombu's): `sqla+postgresql://user:password@host:5432/db` (also `sqla+postgres://`,
 * `sqla+postgresql+psycopg2://`), `sqla+mysql://user:password@host:3306/db` (also
 * `sqla+mysql+pymysql://`, `sqla+mysql+mysqldb://`), `sqla+sqlite:///relative.db`,
 * `sqla+sqlite:////absolute/path.db`; `sqlalchemy+` works as `sqla+`.
 *
 * Drivers, optional peer dependencies loaded only by this transport: `postgres` (Postgres.js),
 * `mysql2`, and for SQLite the runtime's own module (`bun:sqlite`, `node:sqlite` on Deno 2 and
 * Node 22.5+) or `better-sqlite3` 12 on Node 20.
 *
 * Options (declared once in `SQL_OPTIONS`; `transportOptions` in camelCase with durations in
 * ms, or Kombu's snake_case names in Kombu's seconds as in a Celery `broker_transport_options`;
 * the URL's query in Kombu's names and units, `?polling_interval=0.5`, plus `connect_timeout`
 * in seconds; an unknown key is refused naming the closest option): `queueTablename`
 * (`kombu_queue`), `messageTablename` (`kombu_message`), `pollingInterval` (1000), `poolSize`
 * (5; SQLAlchemy's `pool_size`), `connectArgs` (SQLAlchemy's `connect_args`: `connect_timeout`
 * / `timeout` in seconds are read, TLS keys refused, other keys logged once and ignored); and
 * wakame's own `visibilityTimeout` (300 000), `leaseTablename` (`<message table>_wakame_lease`),
 * `listen` (true). Kombu 5.2 passes every other transport option to SQLAlchemy's
 * `create_engine`; the common engine options of Celery configurations (`max_overflow`,
 * `pool_recycle`, `pool_timeout`, `pool_pre_ping`, `echo`, `isolation_level`, ...) mean nothing
 * to wakame's drivers and are accepted, logged once at `warn` level, and ignored. (Kombu 5.2
 * itself fails on `polling_interval` for this transport: it reaches `create_engine` too.)
 *
 * Layout: Kombu's tables byte for byte (created when missing, as Kombu's `create_all` does);
 * the envelope as Kombu writes it (`json.dumps` of the virtual transport's envelope). Beside
 * them wakame adds a lease table Kombu never reads and one index (`ix_<table>_wakame_take`).
 *
 * Better than Kombu, still compatible: rows are taken in batches with `FOR UPDATE SKIP LOCKED`
 * (PostgreSQL, MariaDB 10.6+), so consumers never queue behind each other; on PostgreSQL
 * wakame publishers `NOTIFY` and wakame consumers `LISTEN`, so they do not wait for the next
 * poll; a taken message is leased: acknowledged, its row is deleted; unacknowledged by a
 * consumer that died, it becomes visible again after `visibilityTimeout` and is delivered once
 * more, marked redelivered (Kombu loses it: its row stays hidden forever).
 *
 * Capabilities: direct and topic exchanges (bindings in the memory of each process, as in
 * Kombu); redelivered flag; persistent. No fanout across processes, no priority, no TTL.
 *
 * @example
 * ```ts ignore
 * import { Connection } from "@wakame/wakame";
 * import "@wakame/wakame/sql";
 * await using conn = new Connection("sqla+postgresql://postgres@127.0.0.1/test", {
 *   transportOptions: { visibilityTimeout: 60_000 },
 * });
 * const queue = await conn.simpleQueue("tasks");
 * await queue.put({ hello: "world" });
 * ```
 *
 * @module
 */

import { registerTransport } from "../../src/registry.ts";
import type { Capabilities, ConnectionParams, Transport } from "../../src/transport.ts";
import type { QueueBackend } from "../../src/virtual/backend.ts";
import { virtualTransport } from "../../src/virtual/transport.ts";
import { SqlBackend } from "./backend.ts";
import type { SqlDriver, SqlTarget } from "./driver.ts";
import { readSqlSettings, readSqlTarget, SQL_OPTIONS, withSqlQuery } from "./options.ts";
import { openMysql } from "./mysql_driver.ts";
import { openPostgres } from "./postgres_driver.ts";
import { openSqlite } from "./sqlite_driver.ts";

/** What the SQL transport can do. */
export const sqlCapabilities: Capabilities = {
  exchangeTypes: ["direct", "topic"],
  priority: "none",
  messageTtl: false,
  queueArguments: false,
  redeliveredFlag: true,
  confirms: false,
  mandatory: true,
  heartbeats: false,
  persistent: true,
  exclusive: false,
  exchangeBindings: false,
  crossProcess: false,
  fifo: true,
  queueEquivalence: false,
};

/** Each driver loads its npm package (or runtime module) only when it is opened. */
function openDriver(target: SqlTarget): Promise<SqlDriver> {
  switch (target.dialect) {
    case "postgresql":
      return openPostgres(target);
    case "mysql":
      return openMysql(target);
    case "sqlite":
      return openSqlite(target);
  }
}

function scopeOf(params: ConnectionParams): string {
  const t = readSqlTarget(params);
  return `sql|${t.dialect}|${t.hostname}:${t.port ?? ""}/${t.database}`;
}

const virtual: Transport = virtualTransport({
  name: "sqla",
  capabilities: sqlCapabilities,
  options: SQL_OPTIONS,
  scopeKey: (params) => `${scopeOf(params)}|${readSqlSettings(params).queueTable}`,
  async openBackend(params, context): Promise<QueueBackend> {
    const settings = readSqlSettings(params);
    const driver = await openDriver(readSqlTarget(params));
    try {
      return await SqlBackend.open(driver, settings, context, scopeOf(params));
    } catch (error) {
      await driver.close().catch(() => {});
      throw error;
    }
  },
});

/** The SQL transport (`sqla+postgresql://`, `sqla+mysql://`, `sqla+sqlite:///`). */
export const SqlTransport: Transport = {
  ...virtual,
  // The URL is SQLAlchemy's, unparsed by the core: its query is read here.
  connect: (params) => virtual.connect(withSqlQuery(params)),
};

/** Every scheme Kombu accepts for its SQLAlchemy transport (`sqla+` and `sqlalchemy+`). */
export const SQL_SCHEMES: readonly string[] = [
  "postgresql",
  "postgres",
  "postgresql+psycopg2",
  "postgresql+pg8000",
  "mysql",
  "mysql+pymysql",
  "mysql+mysqldb",
  "sqlite",
].flatMap((rest) => [`sqla+${rest}`, `sqlalchemy+${rest}`]);

// Importing this module makes its URL schemes resolve to it (also in bundles).
registerTransport(SQL_SCHEMES, SqlTransport, { rawUrl: true });
