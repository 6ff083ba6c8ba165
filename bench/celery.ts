/**
 * Celery side by side: N no-op tasks (they ignore their results) and then one whose result the
 * client waits for, through the local RabbitMQ and Redis, for each pairing of a TypeScript or
 * Python (Debian's Celery 5.2) client with a TypeScript or Python worker. Reported: the time to
 * send the N tasks, and tasks per second from the first send to the last result.
 *
 * - TypeScript client: `app.sendTask` with up to 1000 sends in flight; worker: `app.worker()`
 *   with concurrency 4 and prefetch multiplier 4.
 * - Python client: `send_task` in a loop on one producer; worker: `celery worker --pool=solo
 *   -c 4` (prefetch 16), without mingle, gossip or heartbeat.
 * - Results over rpc://.
 *
 * Run: `deno run -A bench/celery.ts [N]` (default 10 000). Prints a markdown table.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Celery } from "../celery/mod.ts";
import { uuid } from "../mod.ts";
import "../transports/amqp/mod.ts";
import "../transports/redis/mod.ts";
import { messageCount } from "./_args.ts";

const N = messageCount(10_000, "celery.ts");
const PYTHON = "/usr/bin/python3";
const PEER = fileURLToPath(new URL("./python/", import.meta.url));
const BROKERS = ["amqp://guest:guest@127.0.0.1:5672//", "redis://127.0.0.1:6379/3"];
const WINDOW = 1000;

interface Figures {
  send: number;
  total: number;
}

function env(broker: string): Record<string, string> {
  return {
    ...Deno.env.toObject(),
    PYTHONPATH: PEER,
    PYTHONDONTWRITEBYTECODE: "1",
    WAKAME_BROKER: broker,
    WAKAME_BACKEND: "rpc://",
  };
}

async function pythonWorker(broker: string, queue: string): Promise<() => Promise<void>> {
  const child = spawn(PYTHON, [
    "-m",
    "celery",
    "-A",
    "celery_bench",
    "worker",
    "--pool=solo",
    "-c",
    "4",
    "-Q",
    queue,
    "-n",
    `bench-${queue}@wakame`,
    "--without-mingle",
    "--without-gossip",
    "--without-heartbeat",
    "--loglevel=WARNING",
  ], { cwd: PEER, env: env(broker), stdio: ["ignore", "pipe", "pipe"], detached: true });
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let log = "";
  child.stdout.on("data", (c) => (log += c));
  child.stderr.on("data", (c) => (log += c));
  // Ready once it answers a ping.
  await using probe = new Celery({ broker });
  for (let i = 0; i < 100; i++) {
    const replies = await probe.control.ping({ destination: [`bench-${queue}@wakame`] });
    if (Object.keys(replies).length > 0) break;
    if (child.exitCode !== null) throw new Error(`celery worker exited:\n${log}`);
  }
  return async () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone
    }
    await exited;
  };
}

async function tsClient(broker: string, queue: string): Promise<Figures> {
  await using app = new Celery({ broker, backend: "rpc://", defaultQueue: queue });
  await app.sendTask("bench.noop", { args: [-1] }).then((r) => r.get({ timeout: 60_000 }));
  const start = performance.now();
  for (let i = 0; i < N; i += WINDOW) {
    const sends = [];
    for (let j = i; j < Math.min(N, i + WINDOW); j++) {
      sends.push(app.sendTask("bench.noop", { args: [j], ignoreResult: true }));
    }
    await Promise.all(sends);
  }
  const sent = performance.now();
  await (await app.sendTask("bench.noop", { args: [N] })).get({ timeout: 600_000 });
  const done = performance.now();
  return { send: (sent - start) / 1000, total: (done - start) / 1000 };
}

/** The Python client, in a child process (asynchronous: the worker may run in this one). */
function pyClient(broker: string, queue: string): Promise<Figures> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [`${PEER}celery_bench.py`, String(N), queue], {
      env: env(broker),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("close", (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split("\n").pop()!));
      else reject(new Error(`celery_bench.py exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

async function pairing(
  broker: string,
  client: "TypeScript" | "Python",
  worker: "TypeScript" | "Python",
): Promise<Figures> {
  const queue = `bench.celery.${uuid().slice(0, 8)}`;
  let stop: () => Promise<void>;
  if (worker === "Python") {
    stop = await pythonWorker(broker, queue);
  } else {
    const app = new Celery({ broker, backend: "rpc://", defaultQueue: queue });
    app.task("bench.noop", ([i]) => i);
    const controller = new AbortController();
    const w = app.worker({ hostname: `bench-${queue}@wakame`, concurrency: 4 });
    const running = w.run({ signal: controller.signal });
    await w.ready;
    stop = async () => {
      controller.abort();
      await running;
      await app.close();
    };
  }
  try {
    return client === "TypeScript" ? await tsClient(broker, queue) : await pyClient(broker, queue);
  } finally {
    await stop();
  }
}

console.log(`Celery: ${N} no-op tasks, then one result awaited (rpc:// results)\n`);
console.log("| broker | client | worker | send (s) | end to end (tasks/s) |");
console.log("| --- | --- | --- | ---: | ---: |");
for (const broker of BROKERS) {
  for (const client of ["TypeScript", "Python"] as const) {
    for (const worker of ["TypeScript", "Python"] as const) {
      const f = await pairing(broker, client, worker);
      console.log(
        `| ${broker.split(":")[0]} | ${client} | ${worker} | ${f.send.toFixed(2)} | ${
          Math.round((N + 1) / f.total)
        } |`,
      );
    }
  }
}
