/**
 * SQLite through the runtime's own module where it has one: `bun:sqlite` on Bun, `node:sqlite`
 * on Deno 2 and Node 22.5+; on Node 20, which has none, npm's `better-sqlite3` (an optional peer
 * dependency, a native addon). The runtime's module costs no download and no native build, so
 * it comes first. All three are synchronous: statements of one connection run one at a time
 * (an async lock keeps a transaction's statements together), and a busy database is waited for
 * by SQLite's `busy_timeout`. The file is switched to WAL so that readers in other processes
 * (Python Kombu included) do not block writers.
 *
 * @module
 */

import { importHidden, importOptional } from "../../src/_import.ts";
import { ConfigurationError, ConnectionError, OperationalError } from "../../src/errors.ts";
import type { SqlDriver, SqlExecutor, SqlResult, SqlRow, SqlTarget, SqlValue } from "./driver.ts";

/** The npm package for Node 20 (an optional peer dependency). */
const BETTER_SQLITE3 = {
  name: "better-sqlite3",
  range: "^12",
  feature: "the sqla+sqlite:// transport on Node 20 (Node 22.5+, Bun and Deno need nothing)",
} as const;

/** One prepared statement, in the shape the three modules share. */
interface Statement {
  all(...params: SqlValue[]): unknown[];
  run(...params: SqlValue[]): { changes: number | bigint };
}

/** A synchronous database handle. */
interface Handle {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  close(): void;
}

type HandleClass = new (path: string) => Handle;

async function openHandle(path: string): Promise<Handle> {
  const g = globalThis as { Bun?: unknown; process?: { versions?: { node?: string } } };
  if (g.Bun !== undefined) {
    const { Database } = await importHidden<{
      Database: new (path: string) => Handle & {
        query(sql: string): Statement;
      };
    }>("bun:sqlite");
    const db = new Database(path);
    // bun:sqlite's prepare() is the uncached form of query(); both take positional values.
    return {
      prepare: (sql) => db.prepare(sql),
      exec: (sql) => db.exec(sql),
      close: () => db.close(),
    };
  }
  try {
    const { DatabaseSync } = await importHidden<{ DatabaseSync: HandleClass }>("node:sqlite");
    return new DatabaseSync(path);
  } catch (error) {
    if (g.process?.versions?.node === undefined) throw error;
  }
  const module = await importOptional<{ default: HandleClass }>(BETTER_SQLITE3);
  return new module.default(path);
}

function wrap(error: unknown): Error {
  if (error instanceof OperationalError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new OperationalError(`Cannot run a SQLite statement: ${text}`, { cause: error });
}

/** Statements that give rows (a query, or a change with `RETURNING`). */
const RETURNS_ROWS = /^\s*(SELECT|WITH|PRAGMA)\b|\bRETURNING\b/i;

class SqliteDriver implements SqlDriver {
  readonly dialect = "sqlite" as const;
  readonly serverVersion: string;
  readonly #db: Handle;
  readonly #statements = new Map<string, Statement>();
  #lock: Promise<unknown> = Promise.resolve();

  constructor(db: Handle) {
    this.#db = db;
    this.serverVersion = String(
      (this.#exec("SELECT sqlite_version() AS version", []).rows[0] ?? {}).version,
    );
  }

  #exec(sql: string, params: readonly SqlValue[]): SqlResult {
    try {
      let statement = this.#statements.get(sql);
      if (!statement) {
        statement = this.#db.prepare(sql);
        this.#statements.set(sql, statement);
      }
      if (RETURNS_ROWS.test(sql)) {
        const rows = statement.all(...params) as SqlRow[];
        return { rows, count: rows.length };
      }
      return { rows: [], count: Number(statement.run(...params).changes) };
    } catch (error) {
      throw wrap(error);
    }
  }

  /** Runs `work` after everything queued before it (one statement or one transaction). */
  #serial<T>(work: () => Promise<T> | T): Promise<T> {
    const result = this.#lock.then(work);
    this.#lock = result.catch(() => {});
    return result;
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<SqlResult> {
    return this.#serial(() => this.#exec(sql, params));
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      this.#exec("BEGIN IMMEDIATE", []);
      try {
        const result = await work({
          run: (sql, params = []) => Promise.resolve(this.#exec(sql, params)),
        });
        this.#exec("COMMIT", []);
        return result;
      } catch (error) {
        try {
          this.#exec("ROLLBACK", []);
        } catch {
          // no transaction left to roll back
        }
        throw error;
      }
    });
  }

  close(): Promise<void> {
    return this.#serial(() => {
      this.#statements.clear();
      this.#db.close();
    });
  }
}

/**
 * Opens a SQLite database file (created when missing).
 *
 * @param target the file in `database` (`:memory:` for a private in-memory database)
 * @returns the driver
 * @throws {ConnectionError} when the file cannot be opened
 */
export async function openSqlite(target: SqlTarget): Promise<SqlDriver> {
  let db: Handle;
  try {
    db = await openHandle(target.database);
    db.exec(`PRAGMA busy_timeout = ${Math.max(1000, Math.round(target.connectTimeout))}`);
    if (target.database !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
  } catch (error) {
    if (error instanceof ConfigurationError) throw error; // no SQLite module: say which to add
    throw new ConnectionError(
      `Cannot open the SQLite database "${target.database}": ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
  return new SqliteDriver(db);
}
