/**
 * The SQL transport's URL and options, read in one place.
 *
 * URL: Kombu's `sqla+<SQLAlchemy URL>` (or `sqlalchemy+...`): `sqla+postgresql://`,
 * `sqla+postgres://`, `sqla+mysql://`, `sqla+mysql+pymysql://`, any `+driver` suffix being
 * ignored, and `sqla+sqlite:///relative.db`, `sqla+sqlite:////absolute.db`, `sqla+sqlite://`
 * (in memory).
 *
 * Options: Kombu's snake_case names with Kombu's units, or camelCase with milliseconds:
 * `queue_tablename` / `queueTablename` (`kombu_queue`), `message_tablename` /
 * `messageTablename` (`kombu_message`), `polling_interval` (seconds) / `pollingInterval` (ms,
 * default 1000), and wakame's own `visibility_timeout` (seconds) / `visibilityTimeout` (ms,
 * default 300 000), `lease_tablename` / `leaseTablename` (`<message table>_wakame_lease`),
 * `listen` (PostgreSQL `LISTEN/NOTIFY` wake-ups, default true), `pool_size` / `poolSize` (5).
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import type { ConnectionParams } from "../../src/transport.ts";
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

function pick(options: Record<string, unknown>, camel: string, snake: string): unknown {
  return options[camel] ?? options[snake];
}

function tableName(value: unknown, option: string, fallback: string): string {
  if (value === undefined || value === null || value === "") return fallback;
  if (typeof value !== "string" || !IDENTIFIER.test(value)) {
    throw new ConfigurationError(
      `Cannot use transport option "${option}" = ${JSON.stringify(value)}: ` +
        "expected a lower-case SQL name (a-z, 0-9, _; at most 48 characters), as Kombu's " +
        "tables are unquoted",
    );
  }
  return value;
}

/**
 * A duration option given in ms (camelCase) or in Kombu's seconds (snake_case).
 *
 * @returns milliseconds
 */
function duration(
  options: Record<string, unknown>,
  camel: string,
  snake: string,
  fallback: number,
): number {
  const [raw, scale, name] = options[camel] !== undefined
    ? [options[camel], 1, camel]
    : [options[snake], 1000, snake];
  if (raw === undefined || raw === null || raw === "") return fallback;
  const n = typeof raw === "string" ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) {
    throw new ConfigurationError(
      `Cannot use transport option "${name}" = ${JSON.stringify(raw)}: expected a number >= 0`,
    );
  }
  return n * scale;
}

/**
 * Reads the store's settings from the transport options.
 *
 * @param options the connection's `transportOptions`
 * @returns the settings
 * @throws {ConfigurationError} for a table name that is not a plain lower-case SQL name or a
 *   duration that is not a number
 */
export function readSqlSettings(options: Record<string, unknown>): SqlSettings {
  const messageTable = tableName(
    pick(options, "messageTablename", "message_tablename"),
    "messageTablename",
    "kombu_message",
  );
  const visibilityTimeout = duration(options, "visibilityTimeout", "visibility_timeout", 300_000);
  if (visibilityTimeout < 1000) {
    throw new ConfigurationError(
      `Cannot use a visibility timeout of ${visibilityTimeout} ms: the least is 1000 ms`,
    );
  }
  return {
    queueTable: tableName(
      pick(options, "queueTablename", "queue_tablename"),
      "queueTablename",
      "kombu_queue",
    ),
    messageTable,
    leaseTable: tableName(
      pick(options, "leaseTablename", "lease_tablename"),
      "leaseTablename",
      `${messageTable}_wakame_lease`,
    ),
    pollingInterval: duration(options, "pollingInterval", "polling_interval", 1000),
    visibilityTimeout,
    listen: options.listen !== false && options.listen !== "false",
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
 * after `sqla+` to `create_engine`).
 *
 * @param params the connection parameters (`params.url` is the whole URL)
 * @returns the database to open
 * @throws {ConfigurationError} for a URL that names no supported database
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
  const options = params.transportOptions;
  const poolSize = Number(pick(options, "poolSize", "pool_size") ?? 5) || 5;
  const rest = match[2];
  if (dialect === "sqlite") {
    // SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db, sqlite:// in memory.
    const path = decodeURIComponent(rest.replace(/\?.*$/, "").replace(/^\//, ""));
    return {
      dialect,
      hostname: "",
      database: path === "" ? ":memory:" : path,
      poolSize: 1,
      connectTimeout: params.connectTimeout,
    };
  }
  const url = new URL(`${dialect}://${rest}`);
  const decode = (text: string) => (text === "" ? undefined : decodeURIComponent(text));
  return {
    dialect,
    hostname: url.hostname.replace(/^\[|\]$/g, "") || "localhost",
    port: url.port === "" ? undefined : Number(url.port),
    user: decode(url.username),
    password: decode(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, "")) ||
      (dialect === "postgresql" ? "postgres" : ""),
    poolSize,
    connectTimeout: params.connectTimeout,
  };
}
