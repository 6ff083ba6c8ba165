/**
 * A consumer the fault suite kills (SIGKILL) while it holds messages: it acks the first
 * `ackFirst` messages it receives (printing `GOT n redelivered` once each ack resolved), then
 * holds every later one unacknowledged (printing `HELD n`).
 *
 * argv: URL (its transport loads by scheme), transport options as JSON, queue, ackFirst,
 * prefetch.
 */
import process from "node:process";
import { Connection, Queue } from "../../../mod.ts";

const [url, options, queue, ackFirst, prefetch] = process.argv.slice(2);
const conn = new Connection(url, { transportOptions: JSON.parse(options) });
let received = 0;
const consumer = conn.consumer(new Queue(queue), {
  prefetchCount: Number(prefetch),
  callbacks: [async (body, message) => {
    const { n } = body as { n: number };
    if (received++ < Number(ackFirst)) {
      await message.ack();
      process.stdout.write(`GOT ${n} ${message.deliveryInfo.redelivered}\n`);
    } else {
      process.stdout.write(`HELD ${n}\n`);
      await new Promise(() => {}); // never acks: the process is killed holding it
    }
  }],
});
await consumer.consume();
process.stdout.write("CONSUMING\n");
