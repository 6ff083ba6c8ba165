/**
 * The SQL queue store: Kombu's `kombu_queue` / `kombu_message` tables, read and written as
 * Python Kombu's SQLAlchemy transport does, with a lease ({@link SqlLease}) beside them.
 *
 * Taking: one transaction per queue selects up to the batch of visible rows in id order with
 * `FOR UPDATE SKIP LOCKED` (PostgreSQL, MariaDB 10.6+, MySQL 8; plain `FOR UPDATE` before;
 * SQLite's `BEGIN IMMEDIATE` write lock, as Kombu), hides them as Kombu does and leases them.
 * Consumers wait on a wake-up (a publish in this process; `NOTIFY` from other wakame processes on
 * PostgreSQL) or poll every `pollingInterval` (rows written by Python Kombu wake nobody).
 *
 * A row whose payload cannot be decoded is logged at `warn` level (with its id and the head of
 * its text) and left hidden in the table, without a lease, where Kombu leaves the rows it has
 * consumed: the consumer goes on.
 *
 * @module
 */

import { decodeEnvelope, encodeEnvelope } from "../../src/envelope.ts";
import type {
  GetManyOptions,
  QueueBackend,
  QueueBatch,
  StoredMessage,
} from "../../src/virtual/backend.ts";
import type { BackendContext } from "../../src/virtual/transport.ts";
import type { SqlDriver, SqlRow, SqlValue } from "./driver.ts";
import { type LeaseHost, SqlLease, type TakenRow } from "./lease.ts";
import type { SqlSettings } from "./options.ts";
import { SqlStatements } from "./statements.ts";
import { GroupCommit } from "./group_commit.ts";
import { ensureSchema, featuresOf } from "./schema.ts";
import { type WakeBoard, wakeBoard } from "./wakeups.ts";

/** A publish waiting for its batch. */
interface Insert {
  readonly queue: string;
  readonly queueId: number;
  readonly payload: string;
}

/** How often the sweep runs, as a share of the visibility timeout. */
const SWEEPS_PER_TIMEOUT = 4;

/** The SQL store of one connection. */
export class SqlBackend implements QueueBackend, LeaseHost {
  readonly driver: SqlDriver;
  readonly statements: SqlStatements;
  readonly lease: SqlLease;
  readonly #settings: SqlSettings;
  readonly #context: Pick<BackendContext, "warn">;
  readonly #board: WakeBoard;
  readonly #queueIds = new Map<string, number>();
  readonly #channel: string;
  readonly #inserts = new GroupCommit<Insert>((rows) => this.#insert(rows), 200);
  #listening = false;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #sweeping = false;

  private constructor(
    driver: SqlDriver,
    settings: SqlSettings,
    context: Pick<BackendContext, "warn">,
    boardKey: string,
  ) {
    this.driver = driver;
    this.#settings = settings;
    this.#context = context;
    this.statements = new SqlStatements(driver.dialect, settings, featuresOf(driver));
    this.lease = new SqlLease(this, settings.visibilityTimeout);
    this.#board = wakeBoard(`${boardKey}|${settings.messageTable}`);
    this.#channel = `wakame_${settings.messageTable}`;
  }

  /**
   * Opens the store: creates the tables where missing and, on PostgreSQL, listens for wake-ups.
   *
   * @param driver the connected driver
   * @param settings table names and timings
   * @param context where warnings go
   * @param boardKey names the database, for the wake-ups shared in this process
   * @returns the store
   */
  static async open(
    driver: SqlDriver,
    settings: SqlSettings,
    context: Pick<BackendContext, "warn">,
    boardKey: string,
  ): Promise<SqlBackend> {
    const backend = new SqlBackend(driver, settings, context, boardKey);
    await ensureSchema(driver, featuresOf(driver), settings);
    return backend;
  }

  async #lookup(queue: string, create: boolean): Promise<number | undefined> {
    const known = this.#queueIds.get(queue);
    if (known !== undefined) return known;
    let { rows } = await this.driver.run(this.statements.selectQueue, [queue]);
    if (rows.length === 0 && create) {
      await this.driver.run(this.statements.insertQueue, [queue]);
      ({ rows } = await this.driver.run(this.statements.selectQueue, [queue]));
    }
    if (rows.length === 0) return undefined;
    const id = Number(rows[0].id);
    this.#queueIds.set(queue, id);
    return id;
  }

  /** The queue's id, creating its row as Kombu's `_get_or_create` does. */
  async queueId(queue: string): Promise<number> {
    return (await this.#lookup(queue, true))!;
  }

  /** Wakes consumers of `queue` here and, on PostgreSQL, in other processes. */
  async announce(queue: string): Promise<void> {
    this.#board.wake(queue);
    if (this.driver.dialect === "postgresql" && this.#settings.listen) {
      await this.driver.run("SELECT pg_notify(?, ?)", [this.#channel, queue]);
    }
  }

  async declare(queue: string): Promise<void> {
    await this.queueId(queue);
  }

  async exists(queue: string): Promise<boolean> {
    return (await this.#lookup(queue, false)) !== undefined;
  }

  /** Appends a message; publishes that meet go in one `INSERT` ({@link GroupCommit}). */
  async put(queue: string, message: StoredMessage): Promise<void> {
    const queueId = await this.queueId(queue);
    await this.#inserts.add({ queue, queueId, payload: encodeEnvelope(message) });
  }

  async #insert(rows: Insert[]): Promise<void> {
    const values: SqlValue[] = rows.flatMap((row) => [row.payload, row.queueId]);
    const queues = [...new Set(rows.map((row) => row.queue))];
    if (this.driver.dialect === "postgresql" && this.#settings.listen) {
      await this.driver.run(this.statements.insertMessagesAndNotify(rows.length, queues.length), [
        ...values,
        this.#channel,
        ...queues,
      ]);
    } else {
      await this.driver.run(this.statements.insertMessages(rows.length), values);
    }
    for (const queue of queues) this.#board.wake(queue);
  }

  async get(queue: string): Promise<StoredMessage | undefined> {
    this.#startSweeper();
    return (await this.#take(queue, 1))[0];
  }

  async getMany(queues: readonly string[], options: GetManyOptions): Promise<QueueBatch[]> {
    const { max, signal } = options;
    const perQueue = options.perQueue ?? max;
    this.#startSweeper();
    await this.#listen();
    for (;;) {
      const ticket = this.#board.arm(queues);
      try {
        const batches: QueueBatch[] = [];
        let room = max;
        for (const queue of queues) {
          if (room <= 0 || signal.aborted) break;
          const messages = await this.#take(queue, Math.min(room, perQueue));
          if (messages.length === 0) continue;
          batches.push({ queue, messages });
          room -= messages.length;
        }
        if (batches.length > 0 || signal.aborted) return batches;
        await ticket.wait(this.#settings.pollingInterval, signal);
      } finally {
        this.#board.disarm(ticket);
      }
    }
  }

  /** Takes up to `max` visible rows of one queue, hides and leases them. */
  async #take(queue: string, max: number): Promise<StoredMessage[]> {
    const queueId = await this.#lookup(queue, false);
    if (queueId === undefined) return [];
    const taken = await this.#takeRows(queueId, max);
    const now = Date.now();
    const messages: StoredMessage[] = [];
    for (const { row, deliveries } of taken) {
      const message = await this.#decode(queue, row);
      if (!message) continue;
      message.backendData = { id: Number(row.id), version: Number(row.version) } as TakenRow;
      message.deliveryCount = deliveries;
      message.leasedAt = now;
      messages.push(message);
    }
    return messages;
  }

  /**
   * Takes rows in one transaction: one statement on PostgreSQL, else select (locked), hide,
   * lease. Each row comes with its version after the take and its delivery count.
   */
  async #takeRows(queueId: number, max: number): Promise<{ row: SqlRow; deliveries: number }[]> {
    const { statements: st, driver } = this;
    const ms = this.#settings.visibilityTimeout;
    if (driver.dialect === "postgresql") {
      const { rows } = await driver.run(st.takePostgres, [queueId, max, ms]);
      return rows.map((row) => ({ row, deliveries: Number(row.deliveries) }));
    }
    return await driver.transaction(async (tx) => {
      const { rows } = await tx.run(st.selectVisible, [queueId, max]);
      if (rows.length === 0) return [];
      const ids = rows.map((row) => Number(row.id));
      await tx.run(st.hide(ids.length), ids);
      const leases = await tx.run(st.selectLeases(ids.length), ids);
      const counts = new Map(
        leases.rows.map((row) => [Number(row.message_id), Number(row.deliveries)]),
      );
      const taken: SqlRow[] = rows.map((row) => ({ ...row, version: Number(row.version) + 1 }));
      await tx.run(
        st.upsertLeases(taken.length),
        taken.flatMap((row) => [Number(row.id), Number(row.version), ms]),
      );
      return taken.map((row) => ({ row, deliveries: (counts.get(Number(row.id)) ?? 0) + 1 }));
    });
  }

  /** Decodes a row's payload, or logs it and leaves it hidden without a lease. */
  async #decode(queue: string, row: SqlRow): Promise<StoredMessage | undefined> {
    const text = typeof row.payload === "string" ? row.payload : String(row.payload);
    try {
      return decodeEnvelope(text);
    } catch (error) {
      this.#context.warn(
        `Cannot decode message ${row.id} of queue "${queue}" (table ` +
          `"${this.#settings.messageTable}"): rejected, left hidden in the table; payload ` +
          `begins ${JSON.stringify(text.slice(0, 80))}`,
        error,
      );
      await this.driver.run(this.statements.dropLease, [Number(row.id)]).catch(() => {});
      return undefined;
    }
  }

  async #listen(): Promise<void> {
    if (this.#listening || !this.#settings.listen || !this.driver.listen) return;
    this.#listening = true;
    try {
      await this.driver.listen(this.#channel, (queue) => this.#board.wake(queue));
    } catch (error) {
      this.#listening = false;
      this.#context.warn("Cannot LISTEN for new messages; polling instead", error);
    }
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    const every = Math.max(250, Math.round(this.#settings.visibilityTimeout / SWEEPS_PER_TIMEOUT));
    this.#sweeper = setInterval(() => void this.#sweep(), every);
    const g = globalThis as { Deno?: { unrefTimer?(id: number): void } };
    if (typeof this.#sweeper === "number") g.Deno?.unrefTimer?.(this.#sweeper);
    else (this.#sweeper as { unref?: () => void }).unref?.();
  }

  async #sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      await this.lease.sweep();
    } catch (error) {
      this.#context.warn("Cannot restore expired messages; will retry", error);
    } finally {
      this.#sweeping = false;
    }
  }

  async purge(queue: string): Promise<number> {
    const queueId = await this.#lookup(queue, false);
    if (queueId === undefined) return 0;
    return (await this.driver.run(this.statements.purge, [queueId])).count;
  }

  async size(queue: string): Promise<number> {
    const queueId = await this.#lookup(queue, false);
    if (queueId === undefined) return 0;
    const { rows } = await this.driver.run(this.statements.count, [queueId]);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Deletes a queue's messages and their leases. The queue row stays, as in Kombu (whose
   * consumers keep its id), so a passive declaration still finds the queue.
   */
  async delete(queue: string): Promise<void> {
    const queueId = await this.#lookup(queue, false);
    if (queueId === undefined) return;
    await this.driver.transaction(async (tx) => {
      await tx.run(this.statements.dropQueueLeases, [queueId]);
      await tx.run(this.statements.deleteQueueRows, [queueId]);
    });
  }

  async close(): Promise<void> {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    await this.driver.close();
  }
}
