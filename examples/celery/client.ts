/**
 * Celery from TypeScript: sends `tasks.add` and `tasks.fail` and prints their results. When a
 * Python worker of examples/celery/tasks.py answers on the broker, it runs them; otherwise this
 * program starts a TypeScript worker with the same two tasks.
 *
 *     deno run -A examples/celery/client.ts [BROKER_URL] [BACKEND_URL]
 *     (defaults: amqp://guest:guest@localhost:5672// and rpc://; memory:// works alone)
 */
import { Celery, CeleryError, TaskError } from "../../celery/mod.ts";
import "../../transports/memory/mod.ts";

const broker = Deno.args[0] ?? "amqp://guest:guest@localhost:5672//";
const backend = Deno.args[1] ?? "rpc://";
await using app = new Celery({ broker, backend });

const registered = await app.control.inspect({ timeout: 1000 }).registered();
const python = Object.entries(registered).find(([, tasks]) =>
  Array.isArray(tasks) && tasks.includes("tasks.add")
);
const stop = new AbortController();
let worker: Promise<void> | undefined;
if (python) {
  console.log(`Using the worker ${python[0]}`);
} else {
  console.log("No worker runs tasks.add: starting a TypeScript one");
  app.task("tasks.add", ([x, y]) => x + y);
  app.task("tasks.fail", ([message]) => {
    throw new CeleryError("ValueError", [message]);
  });
  const w = app.worker({ hostname: "example@wakame" });
  worker = w.run({ signal: stop.signal });
  await w.ready;
}

const sum = await app.sendTask("tasks.add", { args: [2, 3] });
console.log("tasks.add(2, 3) =", await sum.get({ timeout: 10_000 }));
const later = await app.sendTask("tasks.add", { args: [40, 2], countdown: 1000 });
console.log("tasks.add(40, 2) a second later =", await later.get({ timeout: 10_000 }));
try {
  await (await app.sendTask("tasks.fail", { args: ["no"] })).get({ timeout: 10_000 });
} catch (error) {
  if (!(error instanceof TaskError)) throw error;
  console.log(`tasks.fail raised ${error.excType}(${JSON.stringify(error.excMessage)})`);
}
stop.abort();
await worker;
