/**
 * Celery side by side: N no-op tasks sent, run, and every result read, through the local RabbitMQ
 * and Redis brokers with results in Redis (redis://, the one result backend Celery, wakame and
 * celery-node all speak), for pairings of a TypeScript (wakame), Python (Debian's Celery 5.2) or
 * celery-node (npm) client with a TypeScript, Python solo, Python prefork (2 processes) or
 * celery-node worker. Reported: the time to send the N tasks, and tasks per second from the first
 * send to the last result read.
 *
 * - TypeScript client: `app.sendTask` with up to 1000 sends in flight, then every `get()` in
 *   flight; worker: `app.worker()` in its own process (bench/_celery_worker.ts) with concurrency 32 (`CELERY_BENCH_CONCURRENCY`; the default,
 *   4, waits on the ack and result-store round trips of 4 tasks at a time) and prefetch
 *   multiplier 4.
 * - Python client: `send_task` in a loop on one producer, then `ResultSet.join_native`; worker:
 *   `celery worker --pool=solo` or `--pool=prefork -c 2`, prefetch 16, without mingle, gossip or
 *   heartbeat.
 * - celery-node client: `applyAsync` for all N, then every `AsyncResult.get()` in flight (it polls
 *   each key every 500 ms); worker: `createWorker(...).start()`.
 *
 * Run: `deno run -A bench/celery.ts [N] [filter]` (default 10 000; filter: a substring of
 * "broker client worker", e.g. "redis TypeScript"). A pairing still running after
 * `CELERY_BENCH_TIMEOUT` seconds (default 180) prints "timed out" and the run goes on. Prints a
 * markdown table.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Celery } from "../celery/mod.ts";
import { uuid } from "../mod.ts";
import "../transports/amqp/mod.ts";
import "../transports/redis/mod.ts";
import { messageCount } from "./_args.ts";

const N = messageCount(10_000, "celery.ts");
const PYTHON = "/usr/bin/python3";
const PEER = fileURLToPath(new URL("./python/", import.meta.url));
const TS_WORKER = fileURLToPath(new URL("./_celery_worker.ts", import.meta.url));
const NODE_PEER = fileURLToPath(new URL("./node/celery_node_bench.cjs", import.meta.url));
const BROKERS = ["amqp://guest:guest@127.0.0.1:5672//", "redis://127.0.0.1:6379/3"];
const BACKEND = "redis://127.0.0.1:6379/4";
const WINDOW = 1000;
/** The TypeScript worker's concurrency (an async pool, as Celery's gevent pool with `-c`). */
const CONCURRENCY = Number(Deno.env.get("CELERY_BENCH_CONCURRENCY") ?? 32);
const FILTER = Deno.args.slice(1).join(" ");
/** A pairing still running after this long prints "timed out" and the run goes on. */
const TIMEOUT_S = Number(Deno.env.get("CELERY_BENCH_TIMEOUT") ?? 180);
/** Child processes of the running pairing, killed when it times out. */
const children = new Set<ChildProcess>();

type Client = "TypeScript" | "Python" | "celery-node";
type Worker = "TypeScript" | "Python solo" | "Python prefork 2" | "celery-node";
const PAIRINGS: [Client, Worker][] = [
  ["TypeScript", "TypeScript"],
  ["TypeScript", "Python solo"],
  ["TypeScript", "Python prefork 2"],
  ["TypeScript", "celery-node"],
  ["Python", "TypeScript"],
  ["Python", "Python solo"],
  ["Python", "Python prefork 2"],
  ["celery-node", "TypeScript"],
  ["celery-node", "celery-node"],
];

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
    WAKAME_BACKEND: BACKEND,
  };
}

async function pythonWorker(
  broker: string,
  queue: string,
  pool: string[],
): Promise<() => Promise<void>> {
  const child = spawn(PYTHON, [
    "-m",
    "celery",
    "-A",
    "celery_bench",
    "worker",
    ...pool,
    "-Q",
    queue,
    "-n",
    `bench-${queue}@wakame`,
    "--without-mingle",
    "--without-gossip",
    "--without-heartbeat",
    "--loglevel=WARNING",
  ], { cwd: PEER, env: env(broker), stdio: ["ignore", "pipe", "pipe"], detached: true });
  children.add(child);
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
    children.delete(child);
    await exited;
  };
}

async function tsClient(broker: string, queue: string): Promise<Figures> {
  await using app = new Celery({ broker, backend: BACKEND, defaultQueue: queue });
  await app.sendTask("bench.noop", { args: [-1] }).then((r) => r.get({ timeout: 60_000 }));
  const start = performance.now();
  const results = [];
  for (let i = 0; i < N; i += WINDOW) {
    const sends = [];
    for (let j = i; j < Math.min(N, i + WINDOW); j++) {
      sends.push(app.sendTask("bench.noop", { args: [j] }));
    }
    results.push(...await Promise.all(sends));
  }
  const sent = performance.now();
  const values = await Promise.all(results.map((r) => r.get({ timeout: 600_000 })));
  const done = performance.now();
  if (values.length !== N || values[N - 1] !== N - 1) throw new Error("wrong results");
  return { send: (sent - start) / 1000, total: (done - start) / 1000 };
}

/** Runs a child to completion and parses its last line of output as Figures. */
function childFigures(cmd: string, args: string[], environ: Record<string, string>) {
  return new Promise<Figures>((resolve, reject) => {
    const child = spawn(cmd, args, { env: environ, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("close", (code) => {
      children.delete(child);
      if (code === 0) resolve(JSON.parse(out.trim().split("\n").pop()!));
      else reject(new Error(`${args[0]} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

function nodeClient(broker: string, queue: string): Promise<Figures> {
  return childFigures(
    "node",
    [NODE_PEER, "client", broker, BACKEND, queue, String(N)],
    Deno.env.toObject(),
  );
}

/** A worker in a child process (celery-node's or wakame's); ready once it says so. */
async function childWorker(cmd: string, args: string[]): Promise<() => Promise<void>> {
  const child = spawn(cmd, args, {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let log = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (c) => {
      log += c;
      if (log.includes("ready")) resolve();
    });
    child.stderr.on("data", (c) => (log += c));
    child.on("close", () => reject(new Error(`${args[0]} exited:\n${log}`)));
  });
  return async () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone
    }
    children.delete(child);
    await exited;
  };
}

/** The Python client, in a child process (asynchronous: the worker may run in this one). */
function pyClient(broker: string, queue: string): Promise<Figures> {
  return childFigures(PYTHON, [`${PEER}celery_bench.py`, String(N), queue], env(broker));
}

/** Stops the running pairing's worker; called on completion or on timeout. */
let stopWorker: (() => Promise<void>) | undefined;

async function pairing(broker: string, client: Client, worker: Worker): Promise<Figures> {
  const queue = `bench.celery.${uuid().slice(0, 8)}`;
  let stop: () => Promise<void>;
  if (worker === "Python solo") {
    stop = await pythonWorker(broker, queue, ["--pool=solo"]);
  } else if (worker === "Python prefork 2") {
    stop = await pythonWorker(broker, queue, ["--pool=prefork", "-c", "2"]);
  } else if (worker === "celery-node") {
    stop = await childWorker("node", [NODE_PEER, "worker", broker, BACKEND, queue]);
  } else {
    stop = await childWorker(Deno.execPath(), [
      "run",
      "-A",
      TS_WORKER,
      broker,
      BACKEND,
      queue,
      String(CONCURRENCY),
    ]);
  }
  let stopped: Promise<void> | undefined;
  stopWorker = () => (stopped ??= stop());
  try {
    if (client === "TypeScript") return await tsClient(broker, queue);
    if (client === "Python") return await pyClient(broker, queue);
    return await nodeClient(broker, queue);
  } finally {
    await stopWorker();
  }
}

/** {@link pairing} or, after {@link TIMEOUT_S}, "timed out" with its worker and children killed. */
async function timedPairing(
  broker: string,
  client: Client,
  worker: Worker,
): Promise<Figures | "timed out"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timed out">((resolve) => {
    timer = setTimeout(() => resolve("timed out"), TIMEOUT_S * 1000);
  });
  try {
    const outcome = await Promise.race([pairing(broker, client, worker), expired]);
    if (outcome === "timed out") {
      for (const child of children) {
        try {
          process.kill(-child.pid!, "SIGKILL"); // a worker's process group
        } catch {
          child.kill("SIGKILL");
        }
      }
      children.clear();
      // A TypeScript worker's stop waits for its tasks: give it a moment, no more.
      await Promise.race([stopWorker?.(), new Promise((r) => setTimeout(r, 5000))]);
    }
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

const load = Deno.loadavg().map((l) => l.toFixed(2)).join(", ");
console.log(`Celery: ${N} no-op tasks, every result read (redis:// results); load ${load}\n`);
console.log("| broker | client | worker | send (s) | end to end (tasks/s) |");
console.log("| --- | --- | --- | ---: | ---: |");
for (const broker of BROKERS) {
  for (const [client, worker] of PAIRINGS) {
    const name = `${broker.split(":")[0]} ${client} ${worker}`;
    if (!name.includes(FILTER)) continue;
    try {
      const f = await timedPairing(broker, client, worker);
      if (f === "timed out") {
        console.log(
          `| ${broker.split(":")[0]} | ${client} | ${worker} | timed out after ${TIMEOUT_S} s | |`,
        );
        continue;
      }
      console.log(
        `| ${broker.split(":")[0]} | ${client} | ${worker} | ${f.send.toFixed(2)} | ${
          Math.round(N / f.total)
        } |`,
      );
    } catch (e) {
      console.log(`| ${broker.split(":")[0]} | ${client} | ${worker} | failed: ${e} | |`);
    }
  }
}
// A timed-out TypeScript client may still be waiting on results: end the run here.
Deno.exit(0);
