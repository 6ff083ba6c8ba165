/**
 * PostgreSQL through npm's `postgres` (Postgres.js, an optional peer dependency): pure
 * JavaScript on Node, Bun and Deno, pipelined queries on a small pool, and `LISTEN` that
 * re-listens by itself after a reconnect. Chosen over `pg` for those last two: the store needs
 * no reconnect code of its own, and publishes sent together share round trips.
 *
 * @module
 */

import type * as PostgresModule from "postgres";
import { importOptional } from "../../src/_import.ts";
import { ConnectionError, OperationalError } from "../../src/errors.ts";
import {
  numberPlaceholders,
  type SqlDriver,
  type SqlExecutor,
  type SqlResult,
  type SqlTarget,
  type SqlValue,
} from "./driver.ts";

/** The npm package (an optional peer dependency). */
const POSTGRES = {
  name: "postgres",
  range: "^4",
  feature: "the sqla+postgresql:// transport",
} as const;

type Sql = PostgresModule.Sql;
type Unsafe = Pick<Sql, "unsafe">;

async function runOn(sql: Unsafe, text: string, params: readonly SqlValue[]): Promise<SqlResult> {
  try {
    const result = await sql.unsafe(numberPlaceholders(text), params as SqlValue[], {
      prepare: true,
    });
    return { rows: [...result] as Record<string, unknown>[], count: result.count ?? 0 };
  } catch (error) {
    throw wrap(error);
  }
}

/** A server's refusal stays an error of the statement; a lost socket is a database outage. */
function wrap(error: unknown): Error {
  if (error instanceof OperationalError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new OperationalError(`Cannot run a PostgreSQL statement: ${text}`, { cause: error });
}

/** Waits before each new try of a statement that did nothing (see {@link whileRefused}). */
const REFUSED_BACKOFF = [100, 200, 400, 800, 1600];

/**
 * The statement did nothing and may run again: the connection was refused (a server starting
 * up), or the server chose it as a deadlock victim and rolled it back (40P01).
 */
function codeOf(error: unknown): unknown {
  const cause = error instanceof OperationalError ? error.cause : error;
  return (cause as { code?: unknown } | null)?.code;
}

/**
 * Runs `attempt` again while it did nothing (refused by a restarting server, or rolled back as
 * a deadlock victim): nothing can be done twice. Other failures go to the caller at once.
 */
async function whileRefused<T>(
  attempt: () => Promise<T>,
  untouched: () => boolean = () => true,
): Promise<T> {
  for (let i = 0;; i++) {
    try {
      return await attempt();
    } catch (error) {
      const code = codeOf(error);
      // A deadlock victim was rolled back whole; a refused connection did nothing unless a
      // transaction's work had begun.
      const again = code === "40P01" || (code === "ECONNREFUSED" && untouched());
      if (i >= REFUSED_BACKOFF.length || !again) throw error;
      await new Promise((resolve) => setTimeout(resolve, REFUSED_BACKOFF[i]));
    }
  }
}

class PostgresDriver implements SqlDriver {
  readonly dialect = "postgresql" as const;
  readonly serverVersion: string;
  readonly #sql: Sql;

  constructor(sql: Sql, serverVersion: string) {
    this.#sql = sql;
    this.serverVersion = serverVersion;
  }

  run(text: string, params: readonly SqlValue[] = []): Promise<SqlResult> {
    return whileRefused(() => runOn(this.#sql, text, params));
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    // Once the work began, a refusal is its own failure: the transaction is not run again
    // (a deadlock is: PostgreSQL rolled all of it back).
    let started = false;
    return whileRefused(async () => {
      try {
        return await this.#sql.begin((tx) => {
          started = true;
          return work({ run: (text, params = []) => runOn(tx, text, params) });
        }) as T;
      } catch (error) {
        throw wrap(error);
      }
    }, () => !started);
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<void> {
    try {
      await this.#sql.listen(channel, onNotify);
    } catch (error) {
      throw wrap(error);
    }
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}

/**
 * Connects to PostgreSQL.
 *
 * @param target where to connect
 * @returns the driver, once the server answered
 * @throws {ConnectionError} when the server cannot be reached or refuses the login
 */
export async function openPostgres(target: SqlTarget): Promise<SqlDriver> {
  const module = await importOptional<{ default: typeof PostgresModule.default }>(POSTGRES);
  const sql = module.default({
    host: target.hostname,
    port: target.port ?? 5432,
    user: target.user ?? "postgres",
    password: target.password,
    database: target.database,
    max: target.poolSize,
    connect_timeout: Math.max(1, Math.ceil(target.connectTimeout / 1000)),
    idle_timeout: 60,
    onnotice: () => {},
  });
  try {
    const [row] = await sql.unsafe("SELECT version() AS version");
    return new PostgresDriver(sql, String(row.version));
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw new ConnectionError(
      `Cannot connect to PostgreSQL at "${target.hostname}:${target.port ?? 5432}": ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}
