/**
 * What the SQL transport's tests share: one place per database to run raw SQL (not through the
 * store under test), per-run table names (PostgreSQL, SQLite) or a per-run database (MariaDB,
 * which names foreign keys per database, so Kombu's `FK_kombu_message_queue` exists once per
 * database), and an inspector counting a queue's ready and leased rows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import mysql from "mysql2";
import type { ConformanceInspector } from "../../../testing/conformance.ts";
import type { SqlDialect, SqlDriver } from "../../../transports/sql/driver.ts";
import { openSqlite } from "../../../transports/sql/sqlite_driver.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";

/** A run of raw SQL against one database. */
export interface RawSql {
  /** Runs a statement with `?` placeholders (numbered for PostgreSQL here). */
  query(sql: string, params?: (string | number | null)[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** One database the tests run on, with its own tables. */
export interface SqlTestTarget {
  readonly dialect: SqlDialect;
  /** The broker URL (Kombu's form). */
  readonly url: string;
  /** The tables' transport options (snake_case, as Kombu's). */
  readonly tables: { queue_tablename: string; message_tablename: string };
  /** Why the tests skip, or false. */
  readonly skip: string | false;
  /** Opens a raw connection. */
  raw(): Promise<RawSql>;
  /** Drops what the run created. */
  drop(): Promise<void>;
}

function tag(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

function rawPostgres(): Promise<RawSql> {
  const sql = postgres({ host: "127.0.0.1", user: "postgres", database: "test", max: 1 });
  return Promise.resolve({
    async query(text, params = []) {
      let n = 0;
      return [...await sql.unsafe(text.replace(/\?/g, () => `$${++n}`), params)];
    },
    close: () => sql.end({ timeout: 1 }),
  });
}

function rawMysql(database?: string): Promise<RawSql> {
  const pool = mysql.createPool({
    host: "127.0.0.1",
    user: "root",
    password: "",
    database,
    connectionLimit: 1,
  }).promise();
  return Promise.resolve({
    async query(text, params = []) {
      const [rows] = await pool.query(text, params);
      return Array.isArray(rows) ? rows as Record<string, unknown>[] : [];
    },
    close: () => pool.end(),
  });
}

function rawSqlite(path: string): Promise<RawSql> {
  return openSqlite({
    dialect: "sqlite",
    hostname: "",
    database: path,
    poolSize: 1,
    connectTimeout: 4000,
  }).then((driver: SqlDriver) => ({
    async query(text, params = []) {
      return (await driver.run(text, params)).rows;
    },
    close: () => driver.close(),
  }));
}

/** PostgreSQL on 127.0.0.1:5432, database `test`, tables of this run. */
export async function postgresTarget(): Promise<SqlTestTarget> {
  const t = tag();
  const tables = { queue_tablename: `wk_${t}_queue`, message_tablename: `wk_${t}_message` };
  return {
    dialect: "postgresql",
    url: "sqla+postgresql://postgres@127.0.0.1:5432/test",
    tables,
    skip: await brokerSkipReason("PostgreSQL", "127.0.0.1", 5432),
    raw: rawPostgres,
    async drop() {
      const raw = await rawPostgres();
      try {
        const m = tables.message_tablename;
        await raw.query(`DROP TABLE IF EXISTS ${m}_wakame_lease, ${m}, ${tables.queue_tablename}`);
      } finally {
        await raw.close();
      }
    },
  };
}

/** MariaDB on 127.0.0.1:3306 in a database of this run, Kombu's default table names. */
export async function mysqlTarget(): Promise<SqlTestTarget> {
  const database = `wakame_${tag()}`;
  const skip = await brokerSkipReason("MariaDB", "127.0.0.1", 3306);
  if (!skip) {
    const raw = await rawMysql();
    await raw.query(`CREATE DATABASE ${database}`);
    await raw.close();
  }
  return {
    dialect: "mysql",
    url: `sqla+mysql+pymysql://root@127.0.0.1:3306/${database}`,
    tables: { queue_tablename: "kombu_queue", message_tablename: "kombu_message" },
    skip,
    raw: () => rawMysql(database),
    async drop() {
      const raw = await rawMysql();
      try {
        await raw.query(`DROP DATABASE IF EXISTS ${database}`);
      } finally {
        await raw.close();
      }
    },
  };
}

/** A SQLite file in a temporary folder, Kombu's default table names. */
export function sqliteTarget(): Promise<SqlTestTarget> {
  const folder = mkdtempSync(join(tmpdir(), "wakame-sql-"));
  const path = join(folder, "broker.db");
  return Promise.resolve({
    dialect: "sqlite",
    url: `sqla+sqlite:///${path}`,
    tables: { queue_tablename: "kombu_queue", message_tablename: "kombu_message" },
    skip: false,
    raw: () => rawSqlite(path),
    drop: () => Promise.resolve(rmSync(folder, { recursive: true, force: true })),
  });
}

/**
 * Counts a queue's rows that are ready (visible) or leased (hidden, with a live lease).
 *
 * @param target the database
 */
export function sqlInspector(target: SqlTestTarget): ConformanceInspector {
  const { queue_tablename: q, message_tablename: m } = target.tables;
  return {
    async held(queue) {
      const raw = await target.raw();
      try {
        const rows = await raw.query(
          `SELECT COUNT(*) AS n FROM ${m} JOIN ${q} ON ${q}.id = ${m}.queue_id WHERE ` +
            `${q}.name = ? AND (${m}.visible = TRUE OR EXISTS (SELECT 1 FROM ${m}_wakame_lease ` +
            `l WHERE l.message_id = ${m}.id AND l.deadline IS NOT NULL))`,
          [queue],
        );
        return Number(rows[0]?.n ?? 0);
      } finally {
        await raw.close();
      }
    },
  };
}
