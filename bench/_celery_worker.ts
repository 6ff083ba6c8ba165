/**
 * The TypeScript worker of bench/celery.ts in its own process (as the Python and celery-node
 * workers are), so that it does not share an event loop and a core with the client it serves.
 *
 * Run: `deno run -A bench/_celery_worker.ts BROKER BACKEND QUEUE CONCURRENCY`; prints "ready" once
 * it consumes, then runs `bench.noop` until killed.
 */
import { Celery } from "../celery/mod.ts";
import "../transports/amqp/mod.ts";
import "../transports/redis/mod.ts";

const [broker, backend, queue, concurrency] = Deno.args;
const app = new Celery({ broker, backend, defaultQueue: queue });
app.task("bench.noop", ([i]) => i);
const worker = app.worker({ hostname: `bench-${queue}@wakame`, concurrency: Number(concurrency) });
const running = worker.run();
await worker.ready;
console.log("ready");
await running;
