/**
 * The statements of the SQL store, written once per dialect from the table names.
 *
 * Rows are taken as Kombu takes them (`visible` set false, `timestamp` set to the local time,
 * `version` moved on: SQLAlchemy's version counter), in id order: Kombu orders by `(timestamp,
 * id)`, and every visible row has a NULL timestamp (Kombu writes none on insert; wakame clears
 * it when it makes a row visible again), so both orders agree.
 *
 * @module
 */

import { placeholders, type SqlDialect } from "./driver.ts";
import type { SqlSettings } from "./options.ts";
import type { SqlFeatures } from "./schema.ts";

/** The database clock in ms since the epoch, so that every process shares one clock. */
const NOW_MS: Record<SqlDialect, string> = {
  postgresql: "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
  mysql: "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
  sqlite: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
};

/** Local time without zone, as Kombu's `onupdate=datetime.now` writes `timestamp`. */
const LOCAL_NOW: Record<SqlDialect, string> = {
  postgresql: "LOCALTIMESTAMP",
  mysql: "NOW(6)",
  sqlite: "strftime('%Y-%m-%d %H:%M:%f', 'now', 'localtime')",
};

/** `(id = ? AND version = ?) OR ...` for `n` pairs (SQLite has no row-value lists). */
function pairs(id: string, n: number): string {
  return Array.from({ length: n }, () => `(${id} = ? AND version = ?)`).join(" OR ");
}

/** The store's SQL for one dialect and one set of tables. */
export class SqlStatements {
  readonly dialect: SqlDialect;
  readonly #s: SqlSettings;
  readonly #f: SqlFeatures;

  constructor(dialect: SqlDialect, settings: SqlSettings, features: SqlFeatures) {
    this.dialect = dialect;
    this.#s = settings;
    this.#f = features;
  }

  /** `?` is the database clock in ms. */
  get nowMs(): string {
    return NOW_MS[this.dialect];
  }

  /** Creates a queue row unless one exists (one value: the name). */
  get insertQueue(): string {
    const q = this.#s.queueTable;
    switch (this.dialect) {
      case "postgresql":
        return `INSERT INTO ${q} (id, name) VALUES (nextval('queue_id_sequence'), ?) ` +
          "ON CONFLICT (name) DO NOTHING";
      case "mysql":
        return this.#f.sequences
          ? `INSERT IGNORE INTO ${q} (id, name) VALUES (nextval(queue_id_sequence), ?)`
          : `INSERT IGNORE INTO ${q} (name) VALUES (?)`;
      default:
        return `INSERT OR IGNORE INTO ${q} (name) VALUES (?)`;
    }
  }

  /** A queue's id (one value: the name). */
  get selectQueue(): string {
    return `SELECT id FROM ${this.#s.queueTable} WHERE name = ?`;
  }

  /** Inserts one visible message as Kombu does (values: payload, queue id). */
  get insertMessage(): string {
    return this.insertMessages(1);
  }

  /** Inserts `n` visible messages in order (values per row: payload, queue id). */
  insertMessages(n: number): string {
    const m = this.#s.messageTable;
    const columns = "visible, timestamp, payload, version, queue_id";
    const id = this.dialect === "postgresql"
      ? "nextval('message_id_sequence'), "
      : this.dialect === "mysql" && this.#f.sequences
      ? "nextval(message_id_sequence), "
      : "";
    const row = `(${id}TRUE, NULL, ?, 1, ?)`;
    return `INSERT INTO ${m} (${id ? "id, " : ""}${columns}) VALUES ` +
      Array.from({ length: n }, () => row).join(", ");
  }

  /**
   * PostgreSQL: inserts `n` messages and notifies `queues` queues on one channel, in one
   * statement (values: payload, queue id per row; the channel; the queue names).
   */
  insertMessagesAndNotify(n: number, queues: number): string {
    return `WITH inserted AS (${this.insertMessages(n)}) SELECT pg_notify(?, v.name) FROM ` +
      `(VALUES ${Array.from({ length: queues }, () => "(?)").join(", ")}) AS v(name)`;
  }

  /** Up to `?` visible rows of queue `?`, oldest first, locked (values: queue id, limit). */
  get selectVisible(): string {
    const lock = this.dialect === "sqlite"
      ? ""
      : this.#f.skipLocked
      ? " FOR UPDATE SKIP LOCKED"
      : " FOR UPDATE";
    return `SELECT id, payload, version FROM ${this.#s.messageTable} ` +
      `WHERE queue_id = ? AND visible = TRUE ORDER BY id LIMIT ?${lock}`;
  }

  /**
   * PostgreSQL: takes up to `?` visible rows of queue `?`, hides and leases them in one
   * statement (values: queue id, limit, lease ms). Rows: id, payload, the new version, and the
   * delivery count.
   */
  get takePostgres(): string {
    const { messageTable: m, leaseTable: l } = this.#s;
    return `WITH picked AS (SELECT id FROM ${m} WHERE queue_id = ? AND visible = TRUE ` +
      "ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED), " +
      `hidden AS (UPDATE ${m} SET visible = FALSE, timestamp = LOCALTIMESTAMP, ` +
      `version = ${m}.version + 1 FROM picked WHERE ${m}.id = picked.id ` +
      `RETURNING ${m}.id, ${m}.payload, ${m}.version), ` +
      `leased AS (INSERT INTO ${l} (message_id, version, deadline, deliveries) ` +
      `SELECT id, version, ${NOW_MS.postgresql} + ?, 1 FROM hidden ` +
      "ON CONFLICT (message_id) DO UPDATE SET version = excluded.version, " +
      `deadline = excluded.deadline, deliveries = ${l}.deliveries + 1 ` +
      "RETURNING message_id, deliveries) " +
      "SELECT hidden.id, hidden.payload, hidden.version, leased.deliveries FROM hidden " +
      "JOIN leased ON leased.message_id = hidden.id ORDER BY hidden.id";
  }

  /** Hides `n` taken rows, as Kombu's take does (values: the ids). */
  hide(n: number): string {
    return `UPDATE ${this.#s.messageTable} SET visible = FALSE, ` +
      `timestamp = ${LOCAL_NOW[this.dialect]}, version = version + 1 ` +
      `WHERE id IN (${placeholders(n)})`;
  }

  /** The lease rows of `n` messages (values: the ids). */
  selectLeases(n: number): string {
    return `SELECT message_id, deliveries FROM ${this.#s.leaseTable} ` +
      `WHERE message_id IN (${placeholders(n)})`;
  }

  /** Leases `n` messages (values per row: id, version, ms), counting deliveries. */
  upsertLeases(n: number): string {
    const l = this.#s.leaseTable;
    const rows = Array.from({ length: n }, () => `(?, ?, ${NOW_MS[this.dialect]} + ?, 1)`);
    const head = `INSERT INTO ${l} (message_id, version, deadline, deliveries) VALUES ` +
      rows.join(", ");
    return this.dialect === "mysql"
      ? `${head} ON DUPLICATE KEY UPDATE version = VALUES(version), ` +
        "deadline = VALUES(deadline), deliveries = deliveries + 1"
      : `${head} ON CONFLICT (message_id) DO UPDATE SET version = excluded.version, ` +
        `deadline = excluded.deadline, deliveries = ${l}.deliveries + 1`;
  }

  /** Deletes `n` settled messages still in the version taken (values: id, version pairs). */
  deleteMessages(n: number): string {
    return `DELETE FROM ${this.#s.messageTable} WHERE ${pairs("id", n)}`;
  }

  /**
   * PostgreSQL: deletes `n` settled rows, then their leases, in one statement (values: id,
   * version pairs). Each lease is deleted after its row, the order every statement locks in.
   */
  deleteSettled(n: number): string {
    const l = this.#s.leaseTable;
    return `WITH settled AS (${this.deleteMessages(n)} RETURNING id, version) ` +
      `DELETE FROM ${l} USING settled WHERE ${l}.message_id = settled.id ` +
      `AND ${l}.version = settled.version`;
  }

  /** Deletes the leases of `n` messages (values: id, version pairs). */
  deleteLeases(n: number): string {
    return `DELETE FROM ${this.#s.leaseTable} WHERE ${pairs("message_id", n)}`;
  }

  /** Forgets the lease of one message whatever its version (value: id). */
  get dropLease(): string {
    return `DELETE FROM ${this.#s.leaseTable} WHERE message_id = ?`;
  }

  /** Makes a taken row visible again in place (values: payload, id, version). */
  get showInPlace(): string {
    return `UPDATE ${this.#s.messageTable} SET visible = TRUE, timestamp = NULL, payload = ?, ` +
      "version = version + 1 WHERE id = ? AND version = ? AND visible = FALSE";
  }

  /** Ends a lease but keeps its delivery count (values: new version, id). */
  get endLease(): string {
    return `UPDATE ${this.#s.leaseTable} SET deadline = NULL, version = ? WHERE message_id = ?`;
  }

  /** Deletes one taken row (values: id, version). */
  get deleteTaken(): string {
    return `DELETE FROM ${this.#s.messageTable} WHERE id = ? AND version = ? AND visible = FALSE`;
  }

  /** Moves a lease's deadline (values: ms, id, version). */
  get extendLease(): string {
    return `UPDATE ${this.#s.leaseTable} SET deadline = ${NOW_MS[this.dialect]} + ? ` +
      "WHERE message_id = ? AND version = ? AND deadline IS NOT NULL";
  }

  /** Expired leases whose row is still hidden in the version leased (value: limit). */
  get selectExpired(): string {
    const { messageTable: m, leaseTable: l } = this.#s;
    const lock = this.dialect === "sqlite"
      ? ""
      : this.dialect === "postgresql"
      ? " FOR UPDATE OF m SKIP LOCKED"
      : this.#f.skipLocked
      ? " FOR UPDATE SKIP LOCKED"
      : " FOR UPDATE";
    return `SELECT m.id AS id, m.version AS version FROM ${l} l JOIN ${m} m ON ` +
      "m.id = l.message_id AND m.version = l.version " +
      `WHERE l.deadline < ${NOW_MS[this.dialect]} AND m.visible = FALSE ` +
      `ORDER BY m.id LIMIT ?${lock}`;
  }

  /** Makes `n` expired rows visible again in place (values: the ids). */
  restoreExpired(n: number): string {
    return `UPDATE ${this.#s.messageTable} SET visible = TRUE, timestamp = NULL, ` +
      `version = version + 1 WHERE visible = FALSE AND id IN (${placeholders(n)})`;
  }

  /** Ends `n` expired leases, keeping their counts (values: the ids). */
  endLeases(n: number): string {
    return `UPDATE ${this.#s.leaseTable} SET deadline = NULL, version = version + 1 ` +
      `WHERE message_id IN (${placeholders(n)})`;
  }

  /**
   * Forgets leases that point at nothing any more: the row was deleted (purged), or another
   * consumer (Python Kombu) took it after it came back.
   */
  get dropOrphanLeases(): string {
    const { messageTable: m, leaseTable: l } = this.#s;
    return `DELETE FROM ${l} WHERE NOT EXISTS (SELECT 1 FROM ${m} WHERE ${m}.id = ` +
      `${l}.message_id AND ${m}.version = ${l}.version)`;
  }

  /** Visible rows of a queue (value: queue id). */
  get count(): string {
    return `SELECT COUNT(*) AS n FROM ${this.#s.messageTable} WHERE queue_id = ? AND visible = TRUE`;
  }

  /** Deletes a queue's visible rows (value: queue id). */
  get purge(): string {
    return `DELETE FROM ${this.#s.messageTable} WHERE queue_id = ? AND visible = TRUE`;
  }

  /** Deletes the leases of a queue's rows (value: queue id). */
  get dropQueueLeases(): string {
    const { messageTable: m, leaseTable: l } = this.#s;
    return `DELETE FROM ${l} WHERE message_id IN (SELECT id FROM ${m} WHERE queue_id = ?)`;
  }

  /** Deletes every row of a queue (value: queue id). */
  get deleteQueueRows(): string {
    return `DELETE FROM ${this.#s.messageTable} WHERE queue_id = ?`;
  }
}
