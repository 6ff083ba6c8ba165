/**
 * A private single RabbitMQ node for fault scenarios that stop and start a broker: its own node
 * name, free ports, data, logs and Erlang cookie in a temporary folder, no plugins. The shared
 * broker on 5672 is never touched.
 *
 * ```ts ignore
 * const node = await PrivateRabbit.start();   // ~10-20 s
 * new Connection(`amqp://guest:guest@127.0.0.1:${node.port}//`);
 * await node.stopApp();  await node.startApp();   // the broker goes away and comes back
 * await node.dispose();
 * ```
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { join } from "node:path";
import { freePort } from "../unit/redis/_server.ts";

const LIB = "/usr/lib/rabbitmq/lib";

/** The folder of RabbitMQ's own scripts (rabbitmq-server, rabbitmqctl), if installed. */
function sbin(): string | undefined {
  if (!existsSync(LIB)) return undefined;
  const release = readdirSync(LIB).filter((n) => n.startsWith("rabbitmq_server-")).sort().pop();
  const dir = release && join(LIB, release, "sbin");
  return dir && existsSync(join(dir, "rabbitmq-server")) ? dir : undefined;
}

/** Why a private node cannot start here, or false. */
export function privateRabbitSkipReason(): string | false {
  return sbin()
    ? false
    : `RabbitMQ's scripts are not under ${LIB} (apt-get install rabbitmq-server)`;
}

/** A private RabbitMQ node. */
export class PrivateRabbit {
  /** Its AMQP port on 127.0.0.1. */
  readonly port: number;
  readonly #env: Record<string, string>;
  readonly #node: string;
  readonly #dir: string;
  readonly #child: ChildProcess;

  private constructor(
    port: number,
    node: string,
    dir: string,
    env: Record<string, string>,
    child: ChildProcess,
  ) {
    this.port = port;
    this.#node = node;
    this.#dir = dir;
    this.#env = env;
    this.#child = child;
  }

  /**
   * Starts a node and waits until it runs.
   *
   * @returns the running node
   * @throws {Error} when it does not start within a minute (with the end of its log)
   */
  static async start(): Promise<PrivateRabbit> {
    const bin = sbin();
    if (!bin) throw new Error(privateRabbitSkipReason() as string);
    const dir = mkdtempSync(join(tmpdir(), "wk-rabbit-"));
    const port = await freePort();
    const distPort = await freePort();
    const node = `wkfault${port}@localhost`;
    writeFileSync(join(dir, "enabled_plugins"), "[].\n");
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir, // its own Erlang cookie
      RABBITMQ_NODENAME: node,
      RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_BASE: dir,
      RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
      RABBITMQ_LOG_BASE: join(dir, "log"),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
      RABBITMQ_CONFIG_FILE: join(dir, "rabbitmq"),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, "advanced.config"),
      RABBITMQ_PID_FILE: join(dir, "pid"),
    };
    const child = spawn(join(bin, "rabbitmq-server"), [], {
      cwd: dir,
      env,
      stdio: "ignore",
    });
    const rabbit = new PrivateRabbit(port, node, dir, env, child);
    // await_startup waits for a node that runs, not for one that has yet to register: ask again
    // until it answers.
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        await rabbit.ctl(["await_startup", "--timeout", "60"], 70_000);
        return rabbit;
      } catch (error) {
        if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
          await rabbit.dispose();
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Runs `rabbitmqctl` against this node. */
  ctl(args: string[], timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        join(sbin()!, "rabbitmqctl"),
        ["-n", this.#node, ...args],
        { env: this.#env, timeout: timeoutMs },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`rabbitmqctl ${args.join(" ")}: ${stderr || error}`));
          else resolve(String(stdout));
        },
      );
    });
  }

  /** Stops the broker application (every connection goes; durable queues stay on disk). */
  async stopApp(): Promise<void> {
    await this.ctl(["stop_app"]);
  }

  /** Starts the broker application again. */
  async startApp(): Promise<void> {
    await this.ctl(["start_app"]);
  }

  /** Stops the node and removes its folder. */
  async dispose(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise((resolve) => this.#child.once("exit", resolve));
      await this.ctl(["stop"]).catch(() => this.#child.kill("SIGKILL"));
      const timer = setTimeout(() => this.#child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
