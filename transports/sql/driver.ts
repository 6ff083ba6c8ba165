/**
 * The seam between the SQL store and a database client: three small adapters (PostgreSQL through
 * `postgres`, MariaDB/MySQL through `mysql2`, SQLite through the runtime's own module) give the
 * store one way to run a statement, a transaction and, where the database has it, a wake-up.
 *
 * Statements are written with `?` placeholders; the PostgreSQL adapter numbers them.
 *
 * @module
 */

/** The SQL databases Kombu's SQLAlchemy transport is used with. */
export type SqlDialect = "postgresql" | "mysql" | "sqlite";

/** A value bound to a placeholder (no booleans: the statements write `TRUE`/`FALSE`). */
export type SqlValue = string | number | null;

/** A row as the client returns it. */
export type SqlRow = Record<string, unknown>;

/** What a statement gave: its rows (for a query or `RETURNING`) and how many rows it changed. */
export interface SqlResult {
  /** Rows returned. */
  readonly rows: SqlRow[];
  /** Rows inserted, updated or deleted. */
  readonly count: number;
}

/** Runs statements (a pool, or one transaction). */
export interface SqlExecutor {
  /**
   * Runs one statement.
   *
   * @param sql the statement, with `?` placeholders
   * @param params the values, in order
   */
  run(sql: string, params?: readonly SqlValue[]): Promise<SqlResult>;
}

/** A connected database client. */
export interface SqlDriver extends SqlExecutor {
  /** Which SQL it speaks. */
  readonly dialect: SqlDialect;
  /** The server's version text (`SELECT version()`), to pick features (SKIP LOCKED, sequences). */
  readonly serverVersion: string;
  /**
   * Runs `work` in one transaction (SQLite: `BEGIN IMMEDIATE`, Kombu's lock), committed when it
   * resolves and rolled back when it throws.
   */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Listens on a notification channel (PostgreSQL `LISTEN`), re-listening after a reconnect;
   * resolves once listening. Absent where the database has no notifications.
   */
  listen?(channel: string, onNotify: (payload: string) => void): Promise<void>;
  /** Closes the client. */
  close(): Promise<void>;
}

/** Where a driver connects: the parts of the SQLAlchemy URL after `sqla+`. */
export interface SqlTarget {
  /** Which SQL it speaks. */
  readonly dialect: SqlDialect;
  /** Host (PostgreSQL, MySQL). */
  readonly hostname: string;
  /** Port, when the URL names one. */
  readonly port?: number;
  /** User name. */
  readonly user?: string;
  /** Password. */
  readonly password?: string;
  /** Database name (PostgreSQL, MySQL) or file path (SQLite; `:memory:` for none). */
  readonly database: string;
  /** Most connections the driver opens (PostgreSQL, MySQL). */
  readonly poolSize: number;
  /** How long to wait for a connection, in ms. */
  readonly connectTimeout: number;
}

/**
 * Numbers `?` placeholders as `$1, $2, ...` (PostgreSQL). The store's statements hold no `?`
 * inside literals.
 *
 * @param sql a statement with `?` placeholders
 * @returns the statement with numbered placeholders
 */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * `?, ?, ?` for `n` values (an `IN (...)` list).
 *
 * @param n how many placeholders (at least 1)
 * @returns the list
 */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => "?").join(", ");
}
