/**
 * AMQP connection faults under load, on the shared RabbitMQ (only this run's own connections are
 * touched): a producer with publisher confirms and a consumer on their own connections; at a
 * seeded random point one of them is closed by the broker (`rabbitmqctl close_connection`,
 * aimed by connection name), or both are reset or black-holed by a TCP fault proxy between them
 * and the broker. The ledger then holds: every publish settled, every confirmed message consumed,
 * duplicates only redelivered ones or retried publishes.
 */
import { after, before, describe, it } from "node:test";
import { Connection, type ConsumerOptions, Queue } from "../../mod.ts";
import { AmqpTransport } from "../../transports/amqp/mod.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { FaultProxy } from "../_support/fault_proxy.ts";
import { closeConnectionsNamed } from "../_support/rabbitmq.ts";
import { envSkip } from "../_support/skips.ts";
import { consumeInto, Ledger, sleep, until } from "./_ledger.ts";
import { uniqueQueue } from "./_transports.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));
const COUNT = 300;

describe("fault: AMQP connections killed, reset and black-holed under load", () => {
  let proxy: FaultProxy;
  const opened: Connection[] = [];
  const direct = new Connection("amqp://guest:guest@127.0.0.1:5672//", {
    transport: AmqpTransport,
  });
  before(async () => {
    if (skip.reason) return;
    proxy = await FaultProxy.start("127.0.0.1", 5672);
  });
  after(async () => {
    if (skip.reason) return;
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
    await direct.close();
    await proxy.close();
  });

  function connect(name: string, viaProxy: boolean): Connection {
    const port = viaProxy ? proxy.port : 5672;
    const conn = new Connection(`amqp://guest:guest@127.0.0.1:${port}//`, {
      transport: AmqpTransport,
      transportOptions: { confirmPublish: true, connectionName: name },
      heartbeat: 1000,
      connectTimeout: 1000,
      recoveryPolicy: { intervalStart: 50, intervalStep: 50, intervalMax: 200 },
    });
    opened.push(conn);
    return conn;
  }

  /** Runs one scenario: `fault` is injected before a random message of the publish. */
  async function scenario(
    title: string,
    viaProxy: boolean,
    fault: (
      ledger: Ledger,
      names: { producer: string; consumer: string; queue: string },
    ) => Promise<void>,
    consumerOptions: ConsumerOptions = {},
  ): Promise<void> {
    const ledger = new Ledger(title, COUNT);
    const name = uniqueQueue("amqp");
    const names = { producer: `${name}-producer`, consumer: `${name}-consumer`, queue: name };
    const queue = new Queue(name, { durable: false, autoDelete: false });
    const producerConn = connect(names.producer, viaProxy);
    const consumerConn = connect(names.consumer, viaProxy);
    const at = ledger.point(COUNT - 10, 10);
    ledger.note(`fault before message ${at}`);
    let stop: (() => Promise<void>) | undefined;
    try {
      await ledger.watch(45_000, async () => {
        await (await direct.channel()).queueDeclare({ name, durable: false, autoDelete: false });
        stop = await consumeInto(ledger, consumerConn, queue, consumerOptions);
        const producer = producerConn.producer({ routingKey: name });
        await ledger.publishAll((body) => producer.publish(body), {
          tries: 100,
          retryDelayMs: 50,
          before: (n) => n === at ? fault(ledger, names) : undefined,
        });
        await ledger.consumed(25_000);
      });
      ledger.check({ delivered: ledger.confirmedCount });
    } finally {
      await stop?.();
      await (await direct.channel()).queueDelete(name).catch(() => {});
    }
  }

  it(
    "the broker closes the producer's or the consumer's connection",
    skip.options(),
    () =>
      scenario("amqp close_connection", false, async (ledger, names) => {
        const victim = ledger.point(2, 0) === 0 ? names.producer : names.consumer;
        ledger.note(`closing ${victim}`);
        const closed = await closeConnectionsNamed(victim);
        if (closed !== 1) throw new Error(`expected to close 1 connection, closed ${closed}`);
      }),
  );

  it(
    "the proxy resets both connections and refuses reconnects for a while",
    skip.options(),
    () =>
      scenario("amqp reset", true, async (ledger) => {
        const downMs = ledger.point(800, 50);
        ledger.note(`reset, down ${downMs} ms`);
        proxy.cut();
        setTimeout(() => proxy.restore(), downMs);
        await Promise.resolve();
      }),
  );

  it(
    "the proxy black-holes both connections; heartbeats find it",
    skip.options(),
    () =>
      scenario("amqp black hole", true, async (ledger) => {
        const holeMs = ledger.point(4000, 1500);
        ledger.note(`black hole for ${holeMs} ms`);
        proxy.blackhole();
        setTimeout(() => proxy.restore(), holeMs);
        await sleep(0);
      }),
  );

  it(
    "the queue is deleted under the consumer; with onCancel: resume it declares it again",
    skip.options(),
    () => {
      const errors: unknown[] = [];
      return scenario("amqp queue deleted", false, async (ledger, names) => {
        // What the queue held when deleted is gone with it (the broker's doing): drain first.
        if (!(await ledger.consumed(10_000))) throw new Error("the consumer fell behind");
        const channel = await direct.channel();
        await channel.queueDelete(names.queue);
        ledger.note("queue deleted");
        // Until the consumer declared it again, a publish would be dropped as unroutable.
        const back = await until(async () => {
          const probe = await direct.channel();
          try {
            await probe.queueDeclare({ name: names.queue, passive: true });
            return true;
          } catch {
            return false;
          } finally {
            await probe.close().catch(() => {});
          }
        }, 10_000);
        if (!back) throw new Error("the consumer did not declare the queue again");
      }, { onCancel: "resume", onError: (e) => void errors.push(e) }).then(() => {
        // Resuming is logged, not an error: nothing reached onError.
        if (errors.length) throw new Error(`onError got ${errors.map(String).join("; ")}`);
      });
    },
  );
});
