/**
 * Debian's Python Celery (`python3-celery`, 5.2) as an interop peer: a worker started on a
 * queue of the test's own (solo pool, no mingle, gossip or heartbeat, so it is ready in about
 * a second) and killed with its process group after; and the client script
 * `tests/interop/python/celery_client.py`. Both load `tests/interop/python/celery_tasks.py`,
 * configured through the environment.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { inCi } from "./brokers.ts";
import { PYTHON } from "./python.ts";

/** The folder of the Python peers (PYTHONPATH of the worker and the client). */
export const PEERS = fileURLToPath(new URL("../interop/python/", import.meta.url));

/**
 * `false` when {@link PYTHON} imports celery, kombu and redis; else the reason.
 *
 * @returns `false`, or the reason to skip
 * @throws {Error} under CI=true when one is missing
 */
export function celerySkipReason(): string | false {
  const probe = spawnSync(PYTHON, ["-c", "import celery, kombu, redis"], { encoding: "utf8" });
  if (probe.status === 0) return false;
  const why = (probe.error?.message ?? probe.stderr ?? "").trim().split("\n").pop();
  const reason =
    `${PYTHON} cannot import celery (${why}): apt-get install python3-celery python3-redis`;
  if (inCi) throw new Error(`${reason}; CI needs it`);
  return reason;
}

/** The environment of the Python peers. */
export function peerEnv(broker: string, backend: string, queue: string): Record<string, string> {
  const env = (globalThis as { process?: { env: Record<string, string> } }).process?.env ?? {};
  return {
    ...env,
    PYTHONPATH: PEERS,
    PYTHONDONTWRITEBYTECODE: "1",
    WAKAME_BROKER: broker,
    WAKAME_BACKEND: backend,
    WAKAME_QUEUE: queue,
  };
}

/** A running Python Celery worker. */
export interface PythonWorker {
  /** Its node name. */
  hostname: string;
  /** Everything it logged. */
  log(): string;
  /** Kills its process group and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts `celery worker` and waits for its "ready." line.
 *
 * @param env from {@link peerEnv}
 * @param queue the queue it consumes
 * @param hostname its node name
 * @returns the worker
 */
export async function startPythonWorker(
  env: Record<string, string>,
  queue: string,
  hostname: string,
): Promise<PythonWorker> {
  const child: ChildProcess = spawn(PYTHON, [
    "-m",
    "celery",
    "-A",
    "celery_tasks",
    "worker",
    "--pool=solo",
    "-Q",
    queue,
    "-n",
    hostname,
    "--without-mingle",
    "--without-gossip",
    "--without-heartbeat",
    "--loglevel=INFO",
  ], { cwd: PEERS, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`celery worker not ready:\n${output}`)),
      30_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (/ ready\.\s*$/m.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`celery worker exited ${code}:\n${output}`));
    });
  });
  const stop = async () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
  };
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return { hostname, log: () => output, stop };
}

/**
 * Runs a Python program with the peers' environment; resolves to stdout, rejects with stderr.
 *
 * @param args the arguments of {@link PYTHON}
 * @param env from {@link peerEnv}
 * @param timeoutMs kill it after this long
 * @returns its stdout
 */
export function runPeer(args: string[], env: Record<string, string>, timeoutMs = 60_000) {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(PYTHON, args, { cwd: PEERS, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${args.join(" ")} exited ${code}: ${err.slice(-3000)}`));
    });
  });
}
