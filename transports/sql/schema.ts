/**
 * Kombu's tables, created when missing exactly as SQLAlchemy 1.4's `create_all` creates them
 * for Kombu 5's models (checked against its `echo=True` output on PostgreSQL 15, MariaDB 10.11
 * and SQLite), plus what wakame adds beside them without changing them: its lease table and one
 * index for taking messages by queue.
 *
 * Kombu's layout, per dialect:
 * - `kombu_queue (id INTEGER NOT NULL, name VARCHAR(200) UNIQUE)`; `kombu_message (id INTEGER
 *   NOT NULL, visible BOOLEAN, timestamp TIMESTAMP, payload TEXT NOT NULL, version SMALLINT NOT
 *   NULL, queue_id INTEGER)` with `CONSTRAINT FK_kombu_message_queue`, indexes
 *   `ix_<table>_visible`, `ix_<table>_timestamp` and `ix_kombu_message_timestamp_id`.
 * - Ids: sequences `queue_id_sequence` and `message_id_sequence` on PostgreSQL and MariaDB
 *   (shared by every table pair of a schema, as in Kombu), `AUTOINCREMENT` on SQLite,
 *   `AUTO_INCREMENT` on MySQL (which has no sequences).
 *
 * PostgreSQL and SQLite name indexes per schema, so Kombu's fixed `ix_kombu_message_timestamp_id`
 * can exist only once there: a second pair of tables (custom `message_tablename`) goes without
 * it (Kombu itself fails on that case). MariaDB names foreign keys per database, so a second pair
 * of tables there needs its own database.
 *
 * @module
 */

import type { SqlDriver, SqlExecutor } from "./driver.ts";
import type { SqlSettings } from "./options.ts";

/** Which id scheme and lock the server supports. */
export interface SqlFeatures {
  /** Ids come from `queue_id_sequence` / `message_id_sequence` (PostgreSQL, MariaDB 10.3+). */
  readonly sequences: boolean;
  /** `FOR UPDATE SKIP LOCKED` (PostgreSQL 9.5+, MariaDB 10.6+, MySQL 8). */
  readonly skipLocked: boolean;
}

function versionAtLeast(text: string, major: number, minor: number): boolean {
  const match = /(\d+)\.(\d+)/.exec(text);
  if (!match) return false;
  const [a, b] = [Number(match[1]), Number(match[2])];
  return a > major || (a === major && b >= minor);
}

/**
 * What the connected server supports.
 *
 * @param driver the connected driver
 * @returns its features
 */
export function featuresOf(driver: SqlDriver): SqlFeatures {
  const version = driver.serverVersion;
  switch (driver.dialect) {
    case "postgresql":
      return { sequences: true, skipLocked: true };
    case "mysql": {
      const mariadb = /mariadb/i.test(version);
      return {
        sequences: mariadb && versionAtLeast(version, 10, 3),
        skipLocked: mariadb ? versionAtLeast(version, 10, 6) : versionAtLeast(version, 8, 0),
      };
    }
    case "sqlite":
      return { sequences: false, skipLocked: false };
  }
}

/** The DDL of one dialect, in the order `create_all` runs it. */
function kombuDdl(driver: SqlDriver, features: SqlFeatures, s: SqlSettings): {
  queue: string[];
  message: string[];
} {
  const { queueTable: q, messageTable: m } = s;
  switch (driver.dialect) {
    case "postgresql":
      return {
        queue: [
          "CREATE SEQUENCE IF NOT EXISTS queue_id_sequence START WITH 1",
          `CREATE TABLE ${q} (\n\tid INTEGER NOT NULL, \n\tname VARCHAR(200), \n\t` +
          `PRIMARY KEY (id), \n\tUNIQUE (name)\n)`,
        ],
        message: [
          "CREATE SEQUENCE IF NOT EXISTS message_id_sequence START WITH 1",
          `CREATE TABLE ${m} (\n\tid INTEGER NOT NULL, \n\tvisible BOOLEAN, \n\t` +
          `timestamp TIMESTAMP WITHOUT TIME ZONE, \n\tpayload TEXT NOT NULL, \n\t` +
          `version SMALLINT NOT NULL, \n\tqueue_id INTEGER, \n\tPRIMARY KEY (id), \n\t` +
          `CONSTRAINT "FK_kombu_message_queue" FOREIGN KEY(queue_id) REFERENCES ${q} (id)\n)`,
          `CREATE INDEX IF NOT EXISTS ix_${m}_visible ON ${m} (visible)`,
          `CREATE INDEX IF NOT EXISTS ix_${m}_timestamp ON ${m} (timestamp)`,
          `CREATE INDEX IF NOT EXISTS ix_kombu_message_timestamp_id ON ${m} (timestamp, id)`,
        ],
      };
    case "mysql": {
      const id = features.sequences ? "id INTEGER NOT NULL" : "id INTEGER NOT NULL AUTO_INCREMENT";
      return {
        queue: [
          ...(features.sequences
            ? ["CREATE SEQUENCE IF NOT EXISTS queue_id_sequence START WITH 1"]
            : []),
          `CREATE TABLE ${q} (\n\t${id}, \n\tname VARCHAR(200), \n\tPRIMARY KEY (id), \n\t` +
          `UNIQUE (name)\n)ENGINE=InnoDB`,
        ],
        message: [
          ...(features.sequences
            ? ["CREATE SEQUENCE IF NOT EXISTS message_id_sequence START WITH 1"]
            : []),
          `CREATE TABLE ${m} (\n\t${id}, \n\tvisible BOOL, \n\ttimestamp DATETIME, \n\t` +
          `payload TEXT NOT NULL, \n\tversion SMALLINT NOT NULL, \n\tqueue_id INTEGER, \n\t` +
          `PRIMARY KEY (id), \n\tCONSTRAINT \`FK_kombu_message_queue\` FOREIGN KEY(queue_id) ` +
          `REFERENCES ${q} (id)\n)ENGINE=InnoDB`,
          `CREATE INDEX ix_${m}_visible ON ${m} (visible)`,
          `CREATE INDEX ix_kombu_message_timestamp_id ON ${m} (timestamp, id)`,
          `CREATE INDEX ix_${m}_timestamp ON ${m} (timestamp)`,
        ],
      };
    }
    case "sqlite":
      return {
        queue: [
          `CREATE TABLE ${q} (\n\tid INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, \n\t` +
          `name VARCHAR(200), \n\tUNIQUE (name)\n)`,
        ],
        message: [
          `CREATE TABLE ${m} (\n\tid INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, \n\t` +
          `visible BOOLEAN, \n\ttimestamp DATETIME, \n\tpayload TEXT NOT NULL, \n\t` +
          `version SMALLINT NOT NULL, \n\tqueue_id INTEGER, \n\t` +
          `CONSTRAINT "FK_kombu_message_queue" FOREIGN KEY(queue_id) REFERENCES ${q} (id)\n)`,
          `CREATE INDEX IF NOT EXISTS ix_${m}_timestamp ON ${m} (timestamp)`,
          `CREATE INDEX IF NOT EXISTS ix_kombu_message_timestamp_id ON ${m} (timestamp, id)`,
          `CREATE INDEX IF NOT EXISTS ix_${m}_visible ON ${m} (visible)`,
        ],
      };
  }
}

/** wakame's additions: the lease table and an index to take a queue's visible rows in order. */
function wakameDdl(driver: SqlDriver, s: SqlSettings): string[] {
  const { messageTable: m, leaseTable: l } = s;
  const engine = driver.dialect === "mysql" ? "ENGINE=InnoDB" : "";
  const ifNotExists = driver.dialect === "mysql" ? "" : "IF NOT EXISTS ";
  return [
    `CREATE TABLE IF NOT EXISTS ${l} (message_id INTEGER NOT NULL, version SMALLINT NOT NULL, ` +
    `deadline BIGINT, deliveries INTEGER NOT NULL, PRIMARY KEY (message_id))${engine}`,
    `CREATE INDEX ${ifNotExists}ix_${l}_deadline ON ${l} (deadline)`,
    driver.dialect === "mysql"
      ? `CREATE INDEX ix_${m}_wakame_take ON ${m} (queue_id, visible, id)`
      : `CREATE INDEX IF NOT EXISTS ix_${m}_wakame_take ON ${m} (queue_id, id) WHERE visible`,
  ];
}

async function tableExists(tx: SqlExecutor, driver: SqlDriver, table: string): Promise<boolean> {
  const sql = {
    postgresql: "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON " +
      "n.oid = c.relnamespace WHERE pg_catalog.pg_table_is_visible(c.oid) AND c.relname = ?",
    mysql: "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND " +
      "table_name = ?",
    sqlite: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
  }[driver.dialect];
  return (await tx.run(sql, [table])).rows.length > 0;
}

/** Index names are per schema on PostgreSQL and SQLite, per table on MySQL. */
async function indexExists(
  tx: SqlExecutor,
  driver: SqlDriver,
  index: string,
  table: string,
): Promise<boolean> {
  const sql = {
    postgresql: "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON " +
      "n.oid = c.relnamespace WHERE pg_catalog.pg_table_is_visible(c.oid) AND c.relname = ?",
    mysql: "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND " +
      "index_name = ? AND table_name = ?",
    sqlite: "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
  }[driver.dialect];
  const params = driver.dialect === "mysql" ? [index, table] : [index];
  return (await tx.run(sql, params)).rows.length > 0;
}

/**
 * Creates an index unless it exists. Asked first, so that a store opening on a schema in use
 * takes no lock (`CREATE INDEX IF NOT EXISTS` would lock the table, and could deadlock with the
 * takes of running consumers). MySQL has no `IF NOT EXISTS`: a duplicate is fine there.
 */
async function createIndex(tx: SqlExecutor, driver: SqlDriver, sql: string): Promise<void> {
  const [, name, table] = /CREATE INDEX (?:IF NOT EXISTS )?(\w+) ON (\w+)/.exec(sql)!;
  if (await indexExists(tx, driver, name, table)) return;
  try {
    await tx.run(sql);
  } catch (error) {
    if (!/duplicate key name|already exists/i.test(String((error as Error)?.message))) throw error;
  }
}

/**
 * Creates Kombu's tables where they are missing (as Kombu's `create_all` does), and wakame's
 * lease table and take index. Runs under a lock (an advisory lock, `GET_LOCK`, or SQLite's
 * write lock) so that processes starting together do not race.
 *
 * @param driver the connected driver
 * @param features what the server supports
 * @param settings the table names
 */
export async function ensureSchema(
  driver: SqlDriver,
  features: SqlFeatures,
  settings: SqlSettings,
): Promise<void> {
  const ddl = kombuDdl(driver, features, settings);
  await driver.transaction(async (tx) => {
    if (driver.dialect === "postgresql") {
      await tx.run("SELECT pg_advisory_xact_lock(4257104712)");
    } else if (driver.dialect === "mysql") {
      await tx.run("SELECT GET_LOCK('wakame_sql_schema', 30)");
    }
    try {
      for (
        const [table, statements] of [
          [settings.queueTable, ddl.queue],
          [settings.messageTable, ddl.message],
        ] as const
      ) {
        if (await tableExists(tx, driver, table)) continue;
        for (const sql of statements) {
          if (sql.startsWith("CREATE INDEX")) await createIndex(tx, driver, sql);
          else await tx.run(sql);
        }
      }
      const [leaseTable, ...indexes] = wakameDdl(driver, settings);
      if (!(await tableExists(tx, driver, settings.leaseTable))) await tx.run(leaseTable);
      for (const sql of indexes) await createIndex(tx, driver, sql);
    } finally {
      if (driver.dialect === "mysql") await tx.run("SELECT RELEASE_LOCK('wakame_sql_schema')");
    }
  });
}
