/**
 * A private etcd (Debian's `etcd-server`, 3.4) for the tests: on 127.0.0.1 and free ports, with
 * the v2 API (`--enable-v2`) and its data in a temporary directory; restartable on the same
 * port and data (fault tests), removed when stopped.
 *
 * ```ts ignore
 * const skip = envSkip(import.meta.url, etcdSkipReason());
 * let etcd: EtcdServer | undefined;
 * before(async () => { if (!skip.reason) etcd = await startEtcd(); });
 * after(() => etcd?.stop());
 * ```
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inCi } from "./brokers.ts";

/** Debian's etcd binary. */
export const ETCD_BINARY = "/usr/bin/etcd";

/** A running etcd. */
export interface EtcdServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The client port. */
  readonly port: number;
  /** Kills the process (SIGKILL: no clean shutdown) and starts it again on the same data. */
  restart(downMs?: number): Promise<void>;
  /** Stops it and removes its data (idempotent). */
  stop(): Promise<void>;
}

/**
 * Decides whether the etcd tests run: `false`, or why not. In CI a missing etcd fails.
 *
 * @returns `false` or the reason
 */
export function etcdSkipReason(): string | false {
  if (existsSync(ETCD_BINARY)) return false;
  const reason = `${ETCD_BINARY} is missing: apt-get install etcd-server`;
  if (inCi) throw new Error(`${reason}; CI needs it`);
  return reason;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function ready(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited ${child.exitCode}:\n${log()}`);
    try {
      const answer = await fetch(`${url}/v2/keys/?quorum=true`);
      await answer.body?.cancel();
      if (answer.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd not ready after 30 s:\n${log().slice(-2000)}`);
}

/**
 * Starts a private etcd with the v2 API.
 *
 * @returns the running server
 */
export async function startEtcd(): Promise<EtcdServer> {
  const dir = mkdtempSync(join(tmpdir(), "wakame-etcd-"));
  const port = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let child: ChildProcess | undefined;
  let output = "";
  const launch = async () => {
    output = "";
    child = spawn(ETCD_BINARY, [
      "--enable-v2",
      "--name=wakame",
      `--data-dir=${join(dir, "data")}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=wakame=${peer}`,
      "--log-level=error",
    ], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    await ready(url, child, () => output);
  };
  const kill = async () => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((done) => running.once("exit", done));
    running.kill("SIGKILL");
    await exited;
  };
  await launch();
  return {
    url,
    port,
    async restart(downMs = 500) {
      await kill();
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
