/**
 * The books of a failover test: what was published (and acknowledged by the broker), what was
 * consumed, and how often. A consumer callback records each delivery and acks it; `publish`
 * records each publish that resolved. `missing()` lists what was published but never consumed,
 * `unexplainedDuplicates()` what was consumed twice although it was neither redelivered nor
 * published again.
 */
import type { Connection, Producer, Queue } from "../../mod.ts";
import type { Message } from "../../src/message.ts";
import type { Consumer } from "../../src/consumer.ts";

/** One delivery as the consumer saw it. */
export interface Delivery {
  readonly n: number;
  readonly redelivered: boolean;
}

/** The ledger of one stream of numbered messages. */
export class Ledger {
  /** Numbers whose publish resolved. */
  readonly published = new Set<number>();
  /** Numbers whose publish was retried (a duplicate of these is allowed). */
  readonly retried = new Set<number>();
  /** Every delivery, in order. */
  readonly deliveries: Delivery[] = [];
  readonly #seen = new Set<number>();
  #next = 0;
  #wake: (() => void) | undefined;

  /** Starts a consumer that records and acks every delivery. */
  async consume(conn: Connection, queue: Queue): Promise<Consumer> {
    const consumer = conn.consumer(queue, {
      prefetchCount: 10,
      callbacks: [async (body: unknown, message: Message) => {
        const n = (body as { n: number }).n;
        this.deliveries.push({ n, redelivered: message.deliveryInfo.redelivered });
        this.#seen.add(n);
        await message.ack();
        this.#wake?.();
      }],
    });
    await consumer.consume();
    return consumer;
  }

  /** Publishes the next `count` numbers, one at a time, each with `retry`. */
  async publish(producer: Producer, queue: Queue, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const n = this.#next++;
      await producer.publish({ n }, {
        routingKey: queue.name,
        declare: [queue],
        retry: true,
        retryPolicy: {
          maxRetries: 60,
          intervalStart: 100,
          intervalStep: 100,
          intervalMax: 500,
          onRetry: () => void this.retried.add(n),
        },
      });
      this.published.add(n);
    }
  }

  /** Published numbers not consumed (yet). */
  missing(): number[] {
    return [...this.published].filter((n) => !this.#seen.has(n));
  }

  /**
   * Waits until every published number was consumed (but those `mayMiss` allows), or `ms`
   * passed.
   */
  async settle(ms: number, mayMiss: (n: number) => boolean = () => false): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.missing().some((n) => !mayMiss(n)) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  }

  /** Numbers consumed more than once with no redelivered flag and no retried publish. */
  unexplainedDuplicates(): number[] {
    const counts = new Map<number, number>();
    for (const d of this.deliveries) counts.set(d.n, (counts.get(d.n) ?? 0) + 1);
    return [...counts].filter(([n, count]) =>
      count > 1 && !this.retried.has(n) &&
      !this.deliveries.some((d) => d.n === n && d.redelivered)
    ).map(([n]) => n);
  }

  /** One line for the test output. */
  summary(): string {
    return `${this.published.size} published, ${this.deliveries.length} deliveries, ` +
      `${this.deliveries.filter((d) => d.redelivered).length} redelivered, ` +
      `${this.retried.size} publishes retried`;
  }
}
