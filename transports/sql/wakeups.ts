/**
 * Waking consumers of the SQL store: every store of one database and table in this process
 * shares a {@link WakeBoard}; a publish wakes the waiters of its queue at once, and on PostgreSQL
 * a `NOTIFY` from another process does the same. Without a wake-up a consumer polls.
 *
 * @module
 */

/** A consumer's interest in some queues, armed before it looks, so no wake-up is missed. */
export class WakeTicket {
  readonly queues: readonly string[];
  #woken = false;
  #resolve: (() => void) | undefined;

  constructor(queues: readonly string[]) {
    this.queues = queues;
  }

  /** Marks the ticket woken and ends its wait. */
  wake(): void {
    this.#woken = true;
    this.#resolve?.();
  }

  /**
   * Waits until the ticket is woken (at once if it was already), `ms` pass or the signal aborts.
   *
   * @param ms the longest wait
   * @param signal ends the wait early
   */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#woken || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      this.#resolve = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** Waiters on the queues of one message table. */
export class WakeBoard {
  readonly #tickets = new Set<WakeTicket>();

  /**
   * Wakes the waiters of `queue` (every waiter for `*`).
   *
   * @param queue a queue name, or `*`
   */
  wake(queue: string): void {
    for (const ticket of this.#tickets) {
      if (queue === "*" || ticket.queues.includes(queue)) {
        this.#tickets.delete(ticket);
        ticket.wake();
      }
    }
  }

  /**
   * Arms a ticket on `queues`; {@link WakeBoard.disarm} it after its wait.
   *
   * @param queues the queues of interest
   * @returns the ticket
   */
  arm(queues: readonly string[]): WakeTicket {
    const ticket = new WakeTicket(queues);
    this.#tickets.add(ticket);
    return ticket;
  }

  /**
   * Forgets a ticket.
   *
   * @param ticket an armed ticket
   */
  disarm(ticket: WakeTicket): void {
    this.#tickets.delete(ticket);
  }
}

const boards = new Map<string, WakeBoard>();

/**
 * The board of one database and message table in this process.
 *
 * @param key names the database and table
 * @returns the shared board
 */
export function wakeBoard(key: string): WakeBoard {
  let board = boards.get(key);
  if (!board) boards.set(key, board = new WakeBoard());
  return board;
}
