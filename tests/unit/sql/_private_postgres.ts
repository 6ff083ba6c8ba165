/**
 * A private PostgreSQL cluster for restart tests: `initdb` in a temporary folder, `pg_ctl` on a
 * free port of 127.0.0.1 (never the shared server on 5432). As root the tools run as the
 * `postgres` user, which initdb requires.
 */
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

const BIN = [
  "/usr/lib/postgresql/17/bin",
  "/usr/lib/postgresql/16/bin",
  "/usr/lib/postgresql/15/bin",
]
  .find((dir) => existsSync(join(dir, "pg_ctl")));

/** Why a private cluster cannot start here, or false. */
export const privatePostgresSkip: string | false = BIN === undefined
  ? "PostgreSQL's server tools (initdb, pg_ctl) are not installed"
  : false;

function run(tool: string, args: string[]): Promise<string> {
  const asRoot = userInfo().uid === 0;
  const [file, argv] = asRoot
    ? ["runuser", ["-u", "postgres", "--", join(BIN!, tool), ...args]]
    : [join(BIN!, tool), args];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${tool} failed: ${stderr || error.message}`));
      else resolve(String(stdout));
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** A running private cluster. */
export interface PrivatePostgres {
  readonly port: number;
  /** Stops it (`-m fast`, closing every session) and starts it again on the same port. */
  restart(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

/** Creates and starts a private cluster (about five seconds). */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const folder = mkdtempSync(join(tmpdir(), "wakame-pg-"));
  if (userInfo().uid === 0) {
    const { uid, gid } = await new Promise<{ uid: number; gid: number }>((resolve, reject) =>
      execFile(
        "id",
        ["-u", "postgres"],
        (e1, u) =>
          e1 ? reject(e1) : execFile(
            "id",
            ["-g", "postgres"],
            (e2, g) => e2 ? reject(e2) : resolve({ uid: Number(u), gid: Number(g) }),
          ),
      )
    );
    chownSync(folder, uid, gid);
  }
  const data = join(folder, "data");
  const port = await freePort();
  await run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const options = `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = () =>
    run("pg_ctl", ["-D", data, "-o", options, "-l", join(folder, "log"), "-w", "start"]);
  const stop = (mode: string) => run("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]);
  await start();
  return {
    port,
    async restart() {
      await stop("fast");
      await start();
    },
    async destroy() {
      await stop("immediate").catch(() => {});
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
