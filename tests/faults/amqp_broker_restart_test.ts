/**
 * A RabbitMQ broker stopped and started under load: a private node (tests/_support/
 * rabbitmq_node.ts; the shared broker is never stopped), a durable queue, persistent messages
 * with publisher confirms. At a seeded random point the broker application stops
 * (`rabbitmqctl stop_app`: every connection goes) and starts again after a random while. What
 * was confirmed survives the restart and is consumed; publishes during the outage reject and are
 * tried again; duplicates only redelivered or retried.
 */
import { after, before, describe, it } from "node:test";
import { Connection, Queue } from "../../mod.ts";
import { AmqpTransport } from "../../transports/amqp/mod.ts";
import { PrivateRabbit, privateRabbitSkipReason } from "../_support/rabbitmq_node.ts";
import { envSkip } from "../_support/skips.ts";
import { consumeInto, Ledger, sleep } from "./_ledger.ts";

const skip = envSkip(import.meta.url, privateRabbitSkipReason());
const COUNT = 300;

describe("fault: a RabbitMQ broker stopped and started under load (private node)", () => {
  let node: PrivateRabbit | undefined;
  const opened: Connection[] = [];
  before(async () => {
    if (skip.reason) return;
    node = await PrivateRabbit.start();
  });
  after(async () => {
    if (skip.reason) return;
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
    await node?.dispose();
  });

  function connect(): Connection {
    const conn = new Connection(`amqp://guest:guest@127.0.0.1:${node!.port}//`, {
      transport: AmqpTransport,
      transportOptions: { confirmPublish: true },
      connectTimeout: 1000,
      recoveryPolicy: { intervalStart: 100, intervalStep: 100, intervalMax: 300 },
    });
    opened.push(conn);
    return conn;
  }

  it("what was confirmed survives the restart and is consumed", skip.options(), async () => {
    const ledger = new Ledger("amqp broker restart", COUNT);
    const queue = new Queue(`wk-faults-restart-${ledger.run}`, { durable: true });
    const producerConn = connect();
    const consumerConn = connect();
    const at = ledger.point(COUNT - 20, 20);
    const downMs = ledger.point(1500, 0);
    // A consumer from the start, or one that starts after the restart (what the queue held
    // crosses the restart on disk).
    const late = ledger.point(2, 0) === 1;
    ledger.note(
      `stop_app before message ${at}, start_app ${downMs} ms later; consumer ${
        late ? "after the restart" : "from the start"
      }`,
    );
    let stop: (() => Promise<void>) | undefined;
    try {
      await ledger.watch(90_000, async () => {
        if (!late) stop = await consumeInto(ledger, consumerConn, queue);
        const producer = producerConn.producer({ routingKey: queue.name });
        let restarted: Promise<void> | undefined;
        await ledger.publishAll((body) => producer.publish(body, { declare: [queue] }), {
          tries: 300,
          retryDelayMs: 100,
          before: async (n) => {
            if (n !== at) return;
            await node!.stopApp();
            restarted = sleep(downMs).then(() => node!.startApp());
          },
        });
        await restarted;
        if (late) stop = await consumeInto(ledger, consumerConn, queue);
        await ledger.consumed(30_000);
      });
      ledger.check({ delivered: COUNT });
    } finally {
      await stop?.();
    }
  });
});
