/**
 * A private ZooKeeper (Debian's `zookeeperd`, 3.8, on the machine's Java) for the tests: on
 * 127.0.0.1 and a free port, with its data in a temporary directory; restartable on the same
 * port and data (fault tests), removed when stopped.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Socket } from "node:net";
import { inCi } from "./brokers.ts";
import { freePort } from "./etcd_server.ts";

/** Debian's launcher. */
export const ZK_SERVER = "/usr/share/zookeeper/bin/zkServer.sh";

/** A running ZooKeeper. */
export interface ZooKeeperServer {
  /** The client port. */
  readonly port: number;
  /** Kills the server (SIGKILL) and starts it again on the same data. */
  restart(downMs?: number): Promise<void>;
  /** Stops it and removes its data (idempotent). */
  stop(): Promise<void>;
}

/**
 * Decides whether the ZooKeeper tests run: `false`, or why not. In CI a missing server fails.
 *
 * @returns `false` or the reason
 */
export function zookeeperSkipReason(): string | false {
  if (existsSync(ZK_SERVER)) return false;
  const reason = `${ZK_SERVER} is missing: apt-get install zookeeperd`;
  if (inCi) throw new Error(`${reason}; CI needs it`);
  return reason;
}

/** True when the server answers `srvr` with its mode (it serves sessions, not only TCP). */
function serving(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let answer = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.on("data", (chunk) => (answer += chunk));
    socket.once("end", () => done(/Mode: /.test(answer)));
    socket.connect(port, "127.0.0.1", () => socket.write("srvr"));
  });
}

/**
 * Starts a private ZooKeeper (tick 500 ms: sessions of 1 to 60 s).
 *
 * @returns the running server
 */
export async function startZooKeeper(): Promise<ZooKeeperServer> {
  const dir = mkdtempSync(join(tmpdir(), "wakame-zk-"));
  mkdirSync(join(dir, "data"));
  const port = await freePort();
  writeFileSync(
    join(dir, "zoo.cfg"),
    [
      "tickTime=500",
      `dataDir=${join(dir, "data")}`,
      `clientPort=${port}`,
      "clientPortAddress=127.0.0.1",
      "admin.enableServer=false",
      "minSessionTimeout=1000",
      "maxSessionTimeout=60000",
      "4lw.commands.whitelist=srvr",
      "",
    ].join("\n"),
  );
  let child: ChildProcess | undefined;
  let output = "";
  const launch = async () => {
    output = "";
    child = spawn(ZK_SERVER, ["start-foreground", join(dir, "zoo.cfg")], {
      cwd: dir,
      env: { ...process.env, ZOOCFGDIR: dir, ZOO_LOG_DIR: dir },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    const deadline = Date.now() + 60_000;
    while (!(await serving(port))) {
      if (child.exitCode !== null) throw new Error(`ZooKeeper exited:\n${output.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`ZooKeeper not ready:\n${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const kill = async () => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((done) => running.once("exit", done));
    // The launcher execs java in its own process group: kill the group.
    try {
      process.kill(-running.pid!, "SIGKILL");
    } catch {
      running.kill("SIGKILL");
    }
    await exited;
  };
  await launch();
  return {
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
