/**
 * MariaDB and MySQL through npm's `mysql2` (an optional peer dependency): the maintained
 * pure-JavaScript client, on Node, Bun and Deno. A pool; transactions take one connection.
 *
 * @module
 */

import { importOptional } from "../../src/_import.ts";
import { ConnectionError, OperationalError } from "../../src/errors.ts";
import type { SqlDriver, SqlExecutor, SqlResult, SqlRow, SqlTarget, SqlValue } from "./driver.ts";

/** The npm package (an optional peer dependency). */
const MYSQL2 = { name: "mysql2", range: "^3", feature: "the sqla+mysql:// transport" } as const;

/** The part of mysql2's promise API the driver uses. */
interface Queryable {
  query(sql: string, values?: unknown[]): Promise<[unknown, unknown]>;
}

interface PooledConnection extends Queryable {
  beginTransaction(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  release(): void;
}

interface PromisePool extends Queryable {
  getConnection(): Promise<PooledConnection>;
  end(): Promise<void>;
}

interface Mysql2Module {
  createPool(options: Record<string, unknown>): { promise(): PromisePool };
}

function wrap(error: unknown): Error {
  if (error instanceof OperationalError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new OperationalError(`Cannot run a MySQL statement: ${text}`, { cause: error });
}

async function runOn(db: Queryable, sql: string, params: readonly SqlValue[]): Promise<SqlResult> {
  try {
    const [result] = await db.query(sql, params as unknown[]);
    if (Array.isArray(result)) return { rows: result as SqlRow[], count: result.length };
    return { rows: [], count: Number((result as { affectedRows?: number }).affectedRows ?? 0) };
  } catch (error) {
    throw wrap(error);
  }
}

/** InnoDB rolled the transaction back as a deadlock victim: it did nothing, it may run again. */
function deadlocked(error: unknown): boolean {
  const cause = error instanceof OperationalError ? error.cause : error;
  return (cause as { errno?: unknown } | null)?.errno === 1213;
}

async function retryDeadlock<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 0;; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= 4 || !deadlocked(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** i));
    }
  }
}

class MysqlDriver implements SqlDriver {
  readonly dialect = "mysql" as const;
  readonly serverVersion: string;
  readonly #pool: PromisePool;

  constructor(pool: PromisePool, serverVersion: string) {
    this.#pool = pool;
    this.serverVersion = serverVersion;
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<SqlResult> {
    return retryDeadlock(() => runOn(this.#pool, sql, params));
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return retryDeadlock(() => this.#transaction(work));
  }

  async #transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    let connection: PooledConnection;
    try {
      connection = await this.#pool.getConnection();
    } catch (error) {
      throw wrap(error);
    }
    try {
      await connection.beginTransaction();
      const result = await work({ run: (sql, params = []) => runOn(connection, sql, params) });
      await connection.commit();
      return result;
    } catch (error) {
      await connection.rollback().catch(() => {});
      throw wrap(error);
    } finally {
      connection.release();
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/**
 * Connects to MariaDB or MySQL.
 *
 * @param target where to connect
 * @returns the driver, once the server answered
 * @throws {ConnectionError} when the server cannot be reached or refuses the login
 */
export async function openMysql(target: SqlTarget): Promise<SqlDriver> {
  const module = await importOptional<Mysql2Module & { default?: Mysql2Module }>(MYSQL2);
  const mysql = module.default ?? module;
  const pool = mysql.createPool({
    host: target.hostname,
    port: target.port ?? 3306,
    user: target.user ?? "root",
    password: target.password ?? "",
    database: target.database,
    connectionLimit: target.poolSize,
    connectTimeout: target.connectTimeout,
    dateStrings: true,
    supportBigNumbers: true,
  }).promise();
  try {
    const [rows] = await pool.query("SELECT VERSION() AS version");
    return new MysqlDriver(pool, String((rows as SqlRow[])[0].version));
  } catch (error) {
    await pool.end().catch(() => {});
    throw new ConnectionError(
      `Cannot connect to MySQL at "${target.hostname}:${target.port ?? 3306}": ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}
