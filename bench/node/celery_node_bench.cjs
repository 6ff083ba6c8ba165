// celery-node (npm) peer for bench/celery.ts.
//   node celery_node_bench.cjs worker BROKER BACKEND QUEUE   runs `bench.noop` until killed
//   node celery_node_bench.cjs client BROKER BACKEND QUEUE N sends N no-op tasks, reads every
//     result (AsyncResult.get, all in flight), prints {"send": seconds, "total": seconds}
"use strict";
const { createClient, createWorker } = require("celery-node");

const [mode, broker, backend, queue, n] = process.argv.slice(2);

async function main() {
  if (mode === "worker") {
    const worker = createWorker(broker, backend, queue);
    worker.register("bench.noop", (i) => i);
    await worker.isReady();
    // On redis:// start() resolves only when consuming ends (its BRPOP loop): do not wait for it.
    worker.start().catch((e) => {
      console.error(e);
      process.exit(1);
    });
    console.log("ready");
    return;
  }
  const client = createClient(broker, backend, queue);
  await client.isReady();
  const task = client.createTask("bench.noop");
  const count = Number(n);
  const start = performance.now();
  const results = [];
  for (let i = 0; i < count; i++) results.push(task.applyAsync([i]));
  const sent = performance.now();
  const values = await Promise.all(results.map((r) => r.get(600_000)));
  const done = performance.now();
  if (values.length !== count || values[count - 1] !== count - 1) {
    throw new Error(`wrong results: ${JSON.stringify(values.slice(-3))}`);
  }
  console.log(JSON.stringify({ send: (sent - start) / 1000, total: (done - start) / 1000 }));
  await client.disconnect();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
