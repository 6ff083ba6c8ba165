/**
 * Starts private redis-server / redis-sentinel processes on free loopback ports, for tests that
 * restart a server or need Sentinel without touching the shared Redis on 6379.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isListening } from "../../_support/brokers.ts";
import { connectSocket } from "../../../src/runtime/mod.ts";
import { RespConnection } from "../../../transports/redis/resp/client.ts";

/** True when the binaries exist. */
export function haveBinary(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitListening(port: number, up: boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await isListening("127.0.0.1", port, 200)) === up) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`port ${port} did not ${up ? "open" : "close"}`);
}

/** A private redis-server with an append-only file, so that a restart keeps the data. */
export class PrivateRedis {
  readonly port: number;
  readonly dir: string;
  readonly #args: (dir: string, port: number) => string[];
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string, args: (dir: string, port: number) => string[]) {
    this.port = port;
    this.dir = dir;
    this.#args = args;
  }

  /**
   * Starts one on a free port.
   *
   * @param args more arguments, given the data folder and the port (the default listens on the
   *   port with plain TCP; return `["--port", "0", "--tls-port", String(port), ...]` for TLS)
   */
  static async start(
    args: (dir: string, port: number) => string[] = (_dir, port) => ["--port", String(port)],
  ): Promise<PrivateRedis> {
    const server = new PrivateRedis(
      await freePort(),
      mkdtempSync(join(tmpdir(), "wk-redis-")),
      args,
    );
    await server.startAgain();
    return server;
  }

  /** (Re)starts the process on the same port and data folder. */
  async startAgain(): Promise<void> {
    const args = this.#args(this.dir, this.port);
    this.#child = spawn("redis-server", [
      ...args,
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
    ], { stdio: "ignore" });
    await waitListening(this.port, true);
    const pass = args.indexOf("--requirepass");
    if (!args.includes("--tls-port")) await this.#waitLoaded(pass < 0 ? undefined : args[pass + 1]);
  }

  /** A restarted server listens before its append-only file is loaded (-LOADING): wait. */
  async #waitLoaded(password: string | undefined): Promise<void> {
    for (let i = 0; i < 400; i++) {
      const link = await RespConnection.connect({
        hostname: "127.0.0.1",
        port: this.port,
        password,
        socketFactory: connectSocket,
      }).catch(() => undefined);
      const reply = await link?.send(["PING"]).catch(() => undefined);
      await link?.close();
      if (reply === "PONG") return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`redis-server on ${this.port} did not load its data`);
  }

  /** Stops the process (SIGTERM: Redis flushes its append-only file). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
    await waitListening(this.port, false);
  }

  /** Stops it and removes its folder. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A private redis-sentinel watching a master. */
export class PrivateSentinel {
  readonly port: number;
  readonly #dir: string;
  readonly #child: ChildProcess;

  private constructor(port: number, dir: string, child: ChildProcess) {
    this.port = port;
    this.#dir = dir;
    this.#child = child;
  }

  /** Starts a sentinel that monitors `masterName` at 127.0.0.1:`masterPort`. */
  static async start(masterName: string, masterPort: number): Promise<PrivateSentinel> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "wk-sentinel-"));
    const config = join(dir, "sentinel.conf");
    writeFileSync(
      config,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
        `sentinel down-after-milliseconds ${masterName} 60000`,
        "",
      ].join("\n"),
    );
    const child = spawn("redis-sentinel", [config], { stdio: "ignore" });
    await waitListening(port, true);
    return new PrivateSentinel(port, dir, child);
  }

  /** Stops it and removes its folder. */
  async dispose(): Promise<void> {
    if (this.#child.exitCode === null) {
      const exited = new Promise((resolve) => this.#child.once("exit", resolve));
      this.#child.kill("SIGTERM");
      await exited;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
