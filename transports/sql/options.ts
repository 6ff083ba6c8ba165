/**
 * The SQL transport's URL and options, declared once ({@link SQL_OPTIONS}).
 *
 * URL: Kombu's `sqla+<SQLAlchemy URL>` (or `sqlalchemy+...`): `sqla+postgresql://`,
 * `sqla+postgres://`, `sqla+mysql://`, `sqla+mysql+pymysql://`, any `+driver` suffix being
 * ignored, and `sqla+sqlite:///relative.db`, `sqla+sqlite:////absolute.db`, `sqla+sqlite://`
 * (in memory). The URL's query holds transport options in Kombu's names and units
 * (`?polling_interval=0.5`) and `connect_timeout` (seconds); any other key (a DBAPI's
 * `sslmode`, `charset`) is refused naming the closest option, as wakame's drivers would not
 * honour it.
 *
 * Options: Kombu's snake_case names in Kombu's units, or camelCase in ms. Kombu 5.2 hands every
 * transport option but the two table names to SQLAlchemy's `create_engine`, so Celery
 * configurations carry engine options: `pool_size` is wakame's `poolSize` (most connections);
 * `connect_args` is read for `connect_timeout` / `timeout` (seconds), TLS keys in it are refused
 * (the drivers open no TLS connection) and other keys are logged once and ignored; the other
 * common engine options (`max_overflow`, `pool_recycle`, `pool_pre_ping`, `echo`, ...) mean
 * nothing to wakame's drivers and are accepted, logged once and ignored ({@link
 * SQL_ENGINE_OPTIONS}).
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import { getLogger } from "../../src/logger.ts";
import { declareOptions, type OptionSpec, readOptions } from "../../src/options/declare.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import { VIRTUAL_OPTIONS } from "../../src/virtual/options.ts";
import type { SqlDialect, SqlTarget } from "./driver.ts";

/** The table names and timings of one SQL store. */
export interface SqlSettings {
  /** Kombu's queue table (`kombu_queue`). */
  readonly queueTable: string;
  /** Kombu's message table (`kombu_message`). */
  readonly messageTable: string;
  /** wakame's lease table, which Kombu never reads. */
  readonly leaseTable: string;
  /** Milliseconds between polls when nothing wakes the consumer. */
  readonly pollingInterval: number;
  /** Milliseconds a taken, unacknowledged message stays hidden without renewal. */
  readonly visibilityTimeout: number;
  /** Whether consumers wait on PostgreSQL notifications. */
  readonly listen: boolean;
}

/** A lower-case SQL name short enough that the derived names (`_wakame_lease`) fit in 63. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,47}$/;

function tableName(value: unknown, _spelling: unknown, fail: (expected: string) => never): string {
  if (typeof value !== "string" || !IDENTIFIER.test(value)) {
    return fail(
      "a lower-case SQL name (a-z, 0-9, _; at most 48 characters), as Kombu's tables are unquoted",
    );
  }
  return value;
}

/** What `connect_args` (the DBAPI's `connect()` arguments) gives wakame. */
interface ConnectArgs {
  /** `connect_timeout` (psycopg2, PyMySQL) or `timeout` (sqlite3), in ms. */
  readonly connectTimeout?: number;
}

const TLS_ARG = /^(ssl|sslmode|sslrootcert|sslcert|sslkey|sslcrl|sslpassword|ssl_.*|tls.*)$/i;

function connectArgs(value: unknown, fail: (expected: string) => never): ConnectArgs {
  const expected = "an object of DBAPI connect() arguments";
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail(expected);
  let connectTimeout: number | undefined;
  const ignored: string[] = [];
  for (const [key, arg] of Object.entries(value)) {
    if (TLS_ARG.test(key)) {
      return fail(
        `${expected} without "${key}": wakame's SQL drivers open no TLS connection, and a ` +
          "TLS setting is refused rather than dropped",
      );
    }
    if (key === "connect_timeout" || key === "timeout") {
      const seconds = typeof arg === "string" ? Number(arg) : arg;
      if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
        return fail(`${expected} with "${key}" in seconds >= 0`);
      }
      connectTimeout = seconds * 1000;
    } else ignored.push(key);
  }
  if (ignored.length > 0) warnOnce(`connect_args ${ignored.join(", ")}`, ignored.join(", "));
  return connectTimeout === undefined ? {} : { connectTimeout };
}

const warned = new Set<string>();

function warnOnce(id: string, keys: string): void {
  if (warned.has(id)) return;
  warned.add(id);
  getLogger("options").warn(
    `SQL option "connect_args" keys ${keys} are accepted and ignored: wakame's drivers take ` +
      "no DBAPI arguments but the connect timeout",
  );
}

const ENGINE = "SQLAlchemy `create_engine` option (Kombu passes it on); ignored: ";

/**
 * SQLAlchemy `create_engine` options common in Celery configurations, which Kombu 5.2 hands to
 * SQLAlchemy and wakame's drivers have no use for: accepted, logged once, ignored.
 */
export const SQL_ENGINE_OPTIONS = {
  maxOverflow: {
    kind: "integer",
    min: 0,
    ignored: true,
    doc: ENGINE + "the pool holds `poolSize`",
  },
  poolRecycle: { kind: "number", ignored: true, doc: ENGINE + "the drivers reopen dead links" },
  poolTimeout: { kind: "number", ignored: true, doc: ENGINE + "see `connectTimeout`" },
  poolPrePing: { kind: "boolean", ignored: true, doc: ENGINE + "the drivers reopen dead links" },
  poolUseLifo: { kind: "boolean", ignored: true, doc: ENGINE + "the drivers' own pool order" },
  poolResetOnReturn: { kind: "any", ignored: true, doc: ENGINE + "transactions always end" },
  poolclass: { kind: "any", ignored: true, doc: ENGINE + "a Python class" },
  echo: { kind: "any", ignored: true, doc: ENGINE + "use `WAKAME_LOG`" },
  echoPool: { kind: "any", ignored: true, doc: ENGINE + "use `WAKAME_LOG`" },
  loggingName: { kind: "any", ignored: true, doc: ENGINE + "use `WAKAME_LOG`" },
  poolLoggingName: { kind: "any", ignored: true, doc: ENGINE + "use `WAKAME_LOG`" },
  hideParameters: { kind: "boolean", ignored: true, doc: ENGINE + "statements are not logged" },
  isolationLevel: { kind: "any", ignored: true, doc: ENGINE + "the store picks its own" },
  executionOptions: { kind: "any", ignored: true, doc: ENGINE + "the store's own statements" },
  future: { kind: "any", ignored: true, doc: ENGINE + "SQLAlchemy 2.0 API switch" },
  queryCacheSize: { kind: "any", ignored: true, doc: ENGINE + "no SQLAlchemy compiler" },
  jsonSerializer: { kind: "any", ignored: true, doc: ENGINE + "Kombu's envelope is text" },
  jsonDeserializer: { kind: "any", ignored: true, doc: ENGINE + "Kombu's envelope is text" },
} as const satisfies Record<string, OptionSpec>;

/** Every option of the SQL transport (with the virtual base's), declared once. */
export const SQL_OPTIONS = declareOptions("SQL", {
  ...VIRTUAL_OPTIONS,
  queueTablename: {
    kind: "string",
    default: "kombu_queue",
    doc: "Kombu's queue table",
    parse: tableName,
  },
  messageTablename: {
    kind: "string",
    default: "kombu_message",
    doc: "Kombu's message table",
    parse: tableName,
  },
  leaseTablename: {
    kind: "string",
    own: true,
    doc: "wakame's lease table (default `<message table>_wakame_lease`)",
    parse: tableName,
  },
  visibilityTimeout: {
    kind: "duration",
    default: 300_000,
    min: 1000,
    own: true,
    doc: "Time a taken, unacknowledged message stays hidden without renewal",
  },
  listen: {
    kind: "boolean",
    default: true,
    own: true,
    doc: "PostgreSQL `LISTEN/NOTIFY` wake-ups",
  },
  poolSize: {
    kind: "integer",
    default: 5,
    min: 1,
    doc: "Most connections to PostgreSQL / MySQL (SQLAlchemy's `pool_size`)",
  },
  connectArgs: {
    kind: "object",
    doc:
      "DBAPI arguments: `connect_timeout` / `timeout` (s) read, TLS keys refused, others ignored",
    parse: (value, _spelling, fail): ConnectArgs => connectArgs(value, fail),
  },
  ...SQL_ENGINE_OPTIONS,
});

/**
 * The parameters with the `sqla+` URL's query read (Kombu hands the whole URL to SQLAlchemy;
 * wakame reads its query as transport options in Kombu's names and units): `queryOptions` holds
 * the query but `connect_timeout`, which sets `connectTimeout` (seconds, as Kombu's).
 *
 * @param params the connection parameters as the core resolved them (the URL unparsed)
 * @returns the parameters the transport and the virtual base read
 * @throws {ConfigurationError} for a `connect_timeout` that is not a number of seconds
 */
export function withSqlQuery(params: ConnectionParams): ConnectionParams {
  const at = params.url.indexOf("?");
  const query: Record<string, string> = {};
  if (at >= 0) {
    for (const [key, value] of new URLSearchParams(params.url.slice(at + 1))) query[key] = value;
  }
  const { connect_timeout: raw, ...rest } = query;
  if (raw === undefined) return { ...params, queryOptions: rest };
  const seconds = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(seconds) || seconds < 0) {
    throw new ConfigurationError(
      `Cannot use SQL option "connect_timeout" (in the URL) = ${
        JSON.stringify(raw)
      }: expected a duration >= 0 seconds`,
    );
  }
  return { ...params, queryOptions: rest, connectTimeout: seconds * 1000 };
}

/**
 * Reads the store's settings from the transport options and the URL's query.
 *
 * @param params the connection parameters (`transportOptions`, `queryOptions`: see
 *   {@link withSqlQuery})
 * @returns the settings
 * @throws {ConfigurationError} for an unknown option (naming the closest), a table name that is
 *   not a plain lower-case SQL name or a duration that is not a number
 */
export function readSqlSettings(params: ConnectionParams): SqlSettings {
  const o = readOptions(SQL_OPTIONS, params);
  return {
    queueTable: o.queueTablename,
    messageTable: o.messageTablename,
    leaseTable: o.leaseTablename ?? `${o.messageTablename}_wakame_lease`,
    pollingInterval: o.pollingInterval,
    visibilityTimeout: o.visibilityTimeout,
    listen: o.listen,
  };
}

const DIALECTS: Record<string, SqlDialect> = {
  postgresql: "postgresql",
  postgres: "postgresql",
  mysql: "mysql",
  mariadb: "mysql",
  sqlite: "sqlite",
};

/**
 * Reads where to connect from a `sqla+...` URL, as SQLAlchemy reads it (Kombu hands the URL
 * after `sqla+` to `create_engine`), with `poolSize` and the connect timeout from the options.
 *
 * @param params the connection parameters (`params.url` is the whole URL; options read as
 *   {@link readSqlSettings} reads them)
 * @returns the database to open
 * @throws {ConfigurationError} for a URL that names no supported database, or a bad option
 */
export function readSqlTarget(params: ConnectionParams): SqlTarget {
  const match = /^(?:sqla|sqlalchemy)\+([a-z0-9]+)(?:\+[a-z0-9_]+)?:\/\/(.*)$/i.exec(params.url);
  const dialect = match ? DIALECTS[match[1].toLowerCase()] : undefined;
  if (!match || !dialect) {
    throw new ConfigurationError(
      `Cannot parse SQL broker URL "${params.url.replace(/:[^:@/]*@/, ":***@")}": expected ` +
        "sqla+postgresql://, sqla+mysql:// or sqla+sqlite:///path",
    );
  }
  const o = readOptions(SQL_OPTIONS, params);
  const connectTimeout = (o.connectArgs as ConnectArgs | undefined)?.connectTimeout ??
    params.connectTimeout;
  const rest = match[2];
  if (dialect === "sqlite") {
    // SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db, sqlite:// in memory.
    const path = decodeURIComponent(rest.replace(/\?.*$/, "").replace(/^\//, ""));
    return {
      dialect,
      hostname: "",
      database: path === "" ? ":memory:" : path,
      poolSize: 1,
      connectTimeout,
    };
  }
  const url = new URL(`${dialect}://${rest.replace(/\?.*$/, "")}`);
  const decode = (text: string) => (text === "" ? undefined : decodeURIComponent(text));
  return {
    dialect,
    hostname: url.hostname.replace(/^\[|\]$/g, "") || "localhost",
    port: url.port === "" ? undefined : Number(url.port),
    user: decode(url.username),
    password: decode(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, "")) ||
      (dialect === "postgresql" ? "postgres" : ""),
    poolSize: o.poolSize,
    connectTimeout,
  };
}
