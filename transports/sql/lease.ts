/**
 * The SQL store's hold on taken messages, in a side table Kombu never reads
 * (`<message table>_wakame_lease`: message id, the row's version when taken, a deadline on the
 * database clock, how often it was delivered).
 *
 * - Ack and reject delete the row (Kombu leaves acknowledged rows behind, hidden, forever);
 *   settlements that meet share one `DELETE` (group commit).
 * - A release makes the row visible again in place (a restore: it keeps its place, first stays
 *   first) or, for a reject with requeue, deletes it and inserts it anew at the back, as Kombu's
 *   restore does.
 * - The base renews the deadline of every unacknowledged delivery; a consumer that dies stops
 *   renewing, and the sweep (run by every consuming store) makes its rows visible again once
 *   the deadline passed, counting the delivery (the next one is marked redelivered).
 * - Every change is guarded by the row's `version` (SQLAlchemy's version counter, which Kombu
 *   moves on each take too): a stale lease changes nothing.
 *
 * @module
 */

import { encodeEnvelope } from "../../src/envelope.ts";
import type { Lease, ReleaseOptions, StoredMessage } from "../../src/virtual/backend.ts";
import type { SqlDriver, SqlValue } from "./driver.ts";
import type { SqlStatements } from "./statements.ts";
import { GroupCommit } from "./group_commit.ts";

/** What the store keeps of a taken row. */
export interface TakenRow {
  /** The row's id. */
  readonly id: number;
  /** The row's version after the take. */
  readonly version: number;
}

/** The lease's view of the store that owns it. */
export interface LeaseHost {
  readonly driver: SqlDriver;
  readonly statements: SqlStatements;
  /** The queue's id, creating its row if needed. */
  queueId(queue: string): Promise<number>;
  /** Tells waiting consumers (this process and, on PostgreSQL, others) that `queue` has work. */
  announce(queue: string): Promise<void>;
}

/** Most rows one batched statement names. */
const BATCH = 200;

function rowOf(message: StoredMessage): TakenRow {
  return message.backendData as TakenRow;
}

/** Settles, releases and renews taken rows, and restores the expired ones. */
export class SqlLease implements Lease {
  readonly duration: number;
  readonly #host: LeaseHost;
  readonly #settled = new GroupCommit<TakenRow>((rows) => this.#deleteRows(rows), BATCH);

  constructor(host: LeaseHost, duration: number) {
    this.#host = host;
    this.duration = duration;
  }

  /**
   * Deletes a settled row. Settlements that come while a delete is running go together in the
   * next one ({@link GroupCommit}).
   */
  settle(_queue: string, message: StoredMessage): Promise<void> {
    return this.#settled.add(rowOf(message));
  }

  async #deleteRows(rows: TakenRow[]): Promise<void> {
    const { driver, statements } = this.#host;
    // In id order, as takes and sweeps lock, so that concurrent statements do not deadlock.
    const values = [...rows].sort((a, b) => a.id - b.id).flatMap((row) => [row.id, row.version]);
    if (driver.dialect === "postgresql") {
      await driver.run(statements.deleteSettled(rows.length), values);
    } else {
      await driver.run(statements.deleteMessages(rows.length), values);
      await driver.run(statements.deleteLeases(rows.length), values);
    }
  }

  async release(queue: string, message: StoredMessage, options: ReleaseOptions): Promise<void> {
    const { driver, statements } = this.#host;
    const row = rowOf(message);
    const payload = encodeEnvelope(message);
    if (options.position === "front") {
      await driver.transaction(async (tx) => {
        const shown = await tx.run(statements.showInPlace, [payload, row.id, row.version]);
        if (shown.count > 0) await tx.run(statements.endLease, [row.version + 1, row.id]);
      });
    } else {
      const queueId = await this.#host.queueId(queue);
      await driver.transaction(async (tx) => {
        const gone = await tx.run(statements.deleteTaken, [row.id, row.version]);
        if (gone.count === 0) return;
        await tx.run(statements.dropLease, [row.id]);
        await tx.run(statements.insertMessage, [payload, queueId]);
      });
    }
    await this.#host.announce(queue);
  }

  async extend(_queue: string, message: StoredMessage, ms: number): Promise<void> {
    const row = rowOf(message);
    await this.#host.driver.run(this.#host.statements.extendLease, [ms, row.id, row.version]);
  }

  /**
   * Makes the rows of expired leases visible again (a consumer died or lost its database), and
   * forgets leases whose rows are gone.
   *
   * @returns how many rows came back
   */
  async sweep(): Promise<number> {
    const { driver, statements } = this.#host;
    let restored = 0;
    for (;;) {
      const ids = await driver.transaction(async (tx) => {
        const { rows } = await tx.run(statements.selectExpired, [BATCH]);
        const ids: SqlValue[] = rows.map((r) => Number(r.id));
        if (ids.length === 0) return ids;
        await tx.run(statements.restoreExpired(ids.length), ids);
        await tx.run(statements.endLeases(ids.length), ids);
        return ids;
      });
      restored += ids.length;
      if (ids.length < BATCH) break;
    }
    await driver.run(statements.dropOrphanLeases);
    if (restored > 0) await this.#host.announce("*");
    return restored;
  }
}
