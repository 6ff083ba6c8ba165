/**
 * The long-handler scenario (kombu#337): a consumer whose handler runs for several visibility
 * timeouts keeps its message (the virtual base renews the lease), so a second consumer of the
 * queue never receives it, and it is settled once at the end. Shared by the Redis, SQS and Azure
 * tests.
 */
import assert from "node:assert/strict";
import { type Connection, Queue } from "../../mod.ts";

/** What happened. */
export interface LongHandlerOutcome {
  /** Bodies the slow consumer received (one expected). */
  slow: unknown[];
  /** Bodies the second consumer received (none expected). */
  other: unknown[];
  /** Whether the slow handler's ack went through. */
  acked: boolean;
}

/** How to run it. */
export interface LongHandlerOptions {
  /** Opens a new connection (each consumer gets its own, as two processes would). */
  connect(): Connection;
  /** The queue (unique per run). */
  queue: string;
  /** How long the slow handler runs, ms. */
  handlerMs: number;
  /** Runs while the slow handler runs (a sweep from elsewhere); awaited before the end. */
  during?(): Promise<void>;
  /** Ms to wait after the ack before the second consumer stops (a late redelivery shows). */
  settleMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(20);
}

/**
 * Publishes one message, has a slow consumer take it and hold it for `handlerMs` before the ack,
 * while a second consumer of the same queue (another connection) waits for a redelivery.
 *
 * @returns the bodies each consumer received and whether the ack went through
 */
export async function longHandler(options: LongHandlerOptions): Promise<LongHandlerOutcome> {
  const queue = new Queue(options.queue);
  const slowConn = options.connect();
  const otherConn = options.connect();
  const outcome: LongHandlerOutcome = { slow: [], other: [], acked: false };
  try {
    await slowConn.producer().publish({ job: "long" }, {
      routingKey: options.queue,
      declare: [queue],
    });
    let done = false;
    const slow = slowConn.consumer(queue, {
      prefetchCount: 1,
      callbacks: [async (body, message) => {
        outcome.slow.push(body);
        await sleep(options.handlerMs);
        await message.ack();
        outcome.acked = true;
        done = true;
      }],
    });
    await slow.consume();
    await until(() => outcome.slow.length > 0, 15_000);
    if (outcome.slow.length === 0) throw new Error("The slow consumer never got the message");
    const other = otherConn.consumer(queue, {
      prefetchCount: 1,
      callbacks: [async (body, message) => {
        outcome.other.push(body);
        await message.ack();
      }],
    });
    await other.consume();
    const during = options.during?.();
    await until(() => done, options.handlerMs + 15_000);
    await during;
    await sleep(options.settleMs);
    await other.cancel();
    await slow.cancel();
  } finally {
    await Promise.allSettled([slowConn.close(), otherConn.close()]);
  }
  return outcome;
}

/** The part of a store the HTTP-queue case asks once the handler is done. */
interface AskedStore {
  get(queue: string): Promise<unknown>;
  size(queue: string): Promise<number>;
  close?(): Promise<void>;
}

/**
 * The case the SQS and Azure tests share: a handler of three visibility timeouts is not
 * redelivered, and the message is deleted once (a fresh store sees it neither visible nor in
 * flight).
 *
 * @param connect opens a connection with `visibilityTimeout` as given
 * @param openStore opens a store of the same account to ask
 * @param visibilityTimeout the timeout `connect` uses, ms
 */
export async function expectLongHandlerSettledOnce(
  connect: () => Connection,
  openStore: () => AskedStore,
  visibilityTimeout: number,
): Promise<void> {
  const queue = `long-${crypto.randomUUID().slice(0, 8)}`;
  const outcome = await longHandler({
    connect,
    queue,
    handlerMs: 3 * visibilityTimeout,
    settleMs: visibilityTimeout + 500,
  });
  assert.deepEqual(outcome.slow, [{ job: "long" }], "delivered once to the slow consumer");
  assert.deepEqual(outcome.other, [], "never redelivered to the other consumer");
  assert.ok(outcome.acked);
  const store = openStore();
  try {
    assert.equal(await store.get(queue), undefined, "deleted: nothing visible");
    assert.equal(await store.size(queue), 0, "deleted: nothing in flight either");
  } finally {
    await store.close?.();
  }
}
