/**
 * A private Pyro4 name server and Kombu broker daemon for the tests (Debian's `python3-pyro4`
 * and Kombu): `python3 -m Pyro4.naming` and `python3 -m kombu.transport.pyro` on 127.0.0.1 and
 * free ports (the daemon finds the name server through `PYRO_NS_HOST`/`PYRO_NS_PORT`); the
 * daemon can be killed and started again (fault tests); both are killed when stopped.
 *
 * ```ts ignore
 * const skip = envSkip(import.meta.url, pyroSkipReason());
 * let pyro: PyroServer | undefined;
 * before(async () => { if (!skip.reason) pyro = await startPyro(); });
 * after(() => pyro?.stop());
 * ```
 */
import { type ChildProcess, spawn } from "node:child_process";
import { connectSocket } from "../../src/runtime/mod.ts";
import { lookupPyroName } from "../../transports/pyro/client.ts";
import { freePort } from "./etcd_server.ts";
import { kombuSkipReason, PYTHON } from "./python.ts";

/** A running name server and broker daemon. */
export interface PyroServer {
  /** `pyro://127.0.0.1:<name server port>/kombu.broker`. */
  readonly url: string;
  /** The name server's port. */
  readonly nsPort: number;
  /** Kills the broker daemon (SIGKILL) and starts a new one after `downMs`. */
  restartBroker(downMs?: number): Promise<void>;
  /** Kills both (idempotent). */
  stop(): Promise<void>;
}

/**
 * Decides whether the Pyro tests run: `false`, or why not (throws in CI).
 *
 * @returns `false` or the reason
 */
export function pyroSkipReason(): string | false {
  return kombuSkipReason(["Pyro4"]);
}

function launch(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; log: () => string } {
  let output = "";
  const child = spawn(PYTHON, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1", ...env },
  });
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return { child, log: () => output };
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGKILL");
  await exited;
}

async function until(what: string, log: () => string, probe: () => Promise<boolean>) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready after 30 s:\n${log().slice(-2000)}`);
}

/**
 * Starts a name server and Kombu's broker daemon.
 *
 * @returns the running pair
 */
export async function startPyro(): Promise<PyroServer> {
  const nsPort = await freePort();
  const env = { PYRO_NS_HOST: "127.0.0.1", PYRO_NS_PORT: String(nsPort), PYRO_HOST: "127.0.0.1" };
  const ns = launch(["-m", "Pyro4.naming", "-n", "127.0.0.1", "-p", String(nsPort), "-x"], env);
  let broker: ReturnType<typeof launch> | undefined;
  let lastUri = "";
  const options = { socketFactory: connectSocket, timeout: 5000 };
  const startBroker = async () => {
    const started = launch(["-m", "kombu.transport.pyro"], env);
    broker = started;
    await until("Kombu's Pyro broker", () => ns.log() + started.log(), async () => {
      if (started.child.exitCode !== null) throw new Error(started.log());
      const at = await lookupPyroName({ host: "127.0.0.1", port: nsPort }, "kombu.broker", options);
      const uri = `${at.objectId}@${at.port}`;
      if (uri === lastUri) return false;
      lastUri = uri;
      return true;
    });
  };
  try {
    await startBroker();
  } catch (error) {
    await kill(ns.child);
    await kill(broker?.child);
    throw error;
  }
  return {
    url: `pyro://127.0.0.1:${nsPort}/kombu.broker`,
    nsPort,
    async restartBroker(downMs = 300) {
      await kill(broker?.child);
      await new Promise((r) => setTimeout(r, downMs));
      await startBroker();
    },
    async stop() {
      await kill(broker?.child);
      await kill(ns.child);
    },
  };
}
