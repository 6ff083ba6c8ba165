/**
 * A consumer that takes messages and never acknowledges them, for the SIGKILL test: run with
 * `deno run -A _holder.ts URL OPTIONS_JSON QUEUE COUNT`; prints `held <n>` once it holds COUNT.
 */
import { Connection, Queue } from "../../../mod.ts";
import "../../../transports/sql/mod.ts";

const [url, options, queueName, count] = Deno.args;
const conn = new Connection(url, { transportOptions: JSON.parse(options) });
let held = 0;
const consumer = conn.consumer(new Queue(queueName), {
  prefetchCount: Number(count),
  callbacks: [() => {
    if (++held === Number(count)) console.log(`held ${held}`);
  }],
});
await consumer.consume();
await new Promise(() => {});
