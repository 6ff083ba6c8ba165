/**
 * Fairness across queues, once for every store: a round takes at most a fair share of the room
 * from each queue, stores return per-queue batches, and the base hands them out one message of
 * each queue at a time. The order of the queues comes from a Kombu cycle
 * (`src/utils/fair_cycle.ts`), rotated by the channel after each round.
 *
 * @module
 */

import type { CycleName } from "../utils/fair_cycle.ts";
import { sleep } from "../utils/sleep.ts";
import type { QueueBackend, QueueBatch, StoredMessage } from "./backend.ts";

/**
 * Takes one round of messages from the queues, in the order given: at most `max`, and with
 * several queues at most a fair share of `max` from each (all of it for the first queue under a
 * `priority` or `sorted` order, as in Kombu). Blocks in the store's `getMany` when it has one;
 * otherwise polls `get`, and sleeps `pollingInterval` ms when every queue was empty.
 *
 * @returns one batch per queue that gave something
 */
export async function fetchRound(
  backend: QueueBackend,
  queues: readonly string[],
  max: number,
  order: CycleName,
  signal: AbortSignal,
  pollingInterval: number,
): Promise<QueueBatch[]> {
  const perQueue = queues.length > 1 && order === "round_robin"
    ? Math.ceil(max / queues.length)
    : max;
  if (backend.getMany) return await backend.getMany(queues, { max, perQueue, signal });
  const got: QueueBatch[] = [];
  let total = 0;
  for (const queue of queues) {
    const messages: StoredMessage[] = [];
    while (messages.length < perQueue && total < max && !signal.aborted) {
      const message = await backend.get(queue);
      if (!message) break;
      messages.push(message);
      total++;
    }
    if (messages.length > 0) got.push({ queue, messages });
  }
  if (total === 0) await sleep(pollingInterval, signal);
  return got;
}

/**
 * Visits the messages of per-queue batches one queue at a time (a1, b1, a2, b2...), waiting for
 * a visit only when it returns a promise.
 *
 * @param batches the round's batches
 * @param visit called with each message; a promise returned is awaited before the next
 */
export async function interleave(
  batches: readonly QueueBatch[],
  visit: (queue: string, message: StoredMessage) => Promise<void> | undefined,
): Promise<void> {
  let longest = 0;
  for (const batch of batches) longest = Math.max(longest, batch.messages.length);
  for (let i = 0; i < longest; i++) {
    for (const { queue, messages } of batches) {
      if (i >= messages.length) continue;
      const pending = visit(queue, messages[i]);
      if (pending) await pending;
    }
  }
}
