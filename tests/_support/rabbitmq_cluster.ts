/**
 * A private three-node RabbitMQ cluster on loopback for fault tests, as users run one in
 * production: separate node names, AMQP and distribution ports and data folders, one Erlang
 * cookie. The shared broker on 5672 is never touched: the nodes have their own names, their
 * own cookie (in a temporary HOME) and their own configuration file.
 *
 * Nodes 2 and 3 join node 1 through RabbitMQ's config-based peer discovery
 * (`cluster_formation.classic_config.nodes`), the documented alternative to
 * `rabbitmqctl join_cluster`: node 1 boots, then nodes 2 and 3 boot together and cluster as
 * they boot. That saves the CLI calls of stop_app / join_cluster / start_app (each boots an
 * Erlang VM): ~25 s in all on two shared cores against ~35 s. `rabbitmqctl cluster_status`
 * checks the result.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl";

/** Why a private cluster cannot start here, or undefined when it can. */
export function rabbitmqClusterSkipReason(): string | undefined {
  if (!existsSync(SERVER) || !existsSync(CTL)) {
    return "rabbitmq-server is not installed (needed for a private three-node cluster)";
  }
  return undefined;
}

/** One node of the private cluster. */
export interface RabbitNode {
  /** Erlang node name, `wakame-c1-<run>@localhost`. */
  readonly name: string;
  /** AMQP port on 127.0.0.1. */
  readonly port: number;
  /** `amqp://guest:guest@127.0.0.1:<port>//` */
  readonly url: string;
  /** True until {@link RabbitCluster.kill} ended it. */
  alive: boolean;
}

/** A running private cluster. */
export interface RabbitCluster {
  /** The three nodes. */
  readonly nodes: readonly RabbitNode[];
  /** Runs the cluster's own `rabbitmqctl` (its cookie) against a node. */
  ctl(node: RabbitNode, ...args: string[]): Promise<string>;
  /** Ends one node at once (SIGKILL to its process group), as a crash or power loss would. */
  kill(node: RabbitNode): void;
  /** Ends every node and removes the data folders. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1, outside the range RabbitMQ's CLI tools listen on. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => {
        // rabbitmqctl itself listens on 35672-35682 (5672 + 30000): keep clear of it.
        if (port >= 35600 && port <= 35700) freePort().then(resolve, reject);
        else resolve(port);
      });
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Node process groups still running: ended when this process exits, even after a failure. */
const running = new Set<number>();
const folders = new Set<string>();
process.once("exit", () => {
  for (const pid of running) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch { /* gone */ }
  }
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

/**
 * Boots three clustered nodes in parallel and waits until all three take AMQP connections
 * and report one cluster.
 *
 * @param run a short unique id for node names and folders
 * @returns the cluster; call `stop()` in `after`
 * @throws {Error} when a node does not boot within 90 s or the nodes did not cluster
 */
export async function startRabbitCluster(run: string): Promise<RabbitCluster> {
  const dir = mkdtempSync(join(tmpdir(), `wakame-rmq-cluster-${run}-`));
  folders.add(dir);
  const home = join(dir, "home");
  mkdirSync(home);
  const cookie = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16))
    .join("").toUpperCase();
  writeFileSync(join(home, ".erlang.cookie"), cookie, { mode: 0o400 });
  const names = [1, 2, 3].map((i) => `wakame-c${i}-${run}@localhost`);
  const nodes: RabbitNode[] = [];
  const children: ChildProcess[] = [];
  const spawnNode = async (i: number) => {
    const name = names[i];
    const port = await freePort();
    const distPort = await freePort();
    const base = join(dir, `n${i + 1}`);
    mkdirSync(base);
    const conf = [`listeners.tcp.local = 127.0.0.1:${port}`];
    if (i > 0) {
      conf.push(
        "cluster_formation.peer_discovery_backend = classic_config",
        `cluster_formation.classic_config.nodes.1 = ${names[0]}`,
        "cluster_formation.discovery_retry_interval = 300",
        "cluster_formation.discovery_retry_limit = 300",
      );
    }
    writeFileSync(join(base, "rabbitmq.conf"), conf.join("\n") + "\n");
    writeFileSync(join(base, "enabled_plugins"), "[].\n");
    writeFileSync(join(base, "env.conf"), "");
    const child = spawn(SERVER, [], {
      detached: true, // its own process group: kill(-pid) ends the beam and its helpers
      stdio: "ignore",
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: home,
        RABBITMQ_NODENAME: name,
        RABBITMQ_NODE_PORT: String(port),
        RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_CONF_ENV_FILE: join(base, "env.conf"),
        RABBITMQ_CONFIG_FILE: join(base, "rabbitmq.conf"),
        RABBITMQ_MNESIA_BASE: join(base, "mnesia"),
        RABBITMQ_LOG_BASE: join(base, "log"),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(base, "enabled_plugins"),
        ERL_EPMD_ADDRESS: "127.0.0.1",
      },
    });
    child.unref();
    if (child.pid !== undefined) running.add(child.pid);
    children[i] = child;
    nodes[i] = { name, port, url: `amqp://guest:guest@127.0.0.1:${port}//`, alive: true };
  };
  const booted = async (i: number) => {
    const deadline = Date.now() + 90_000;
    while (!(await portOpen(nodes[i].port))) {
      if (children[i].exitCode !== null || children[i].signalCode !== null) {
        throw new Error(
          `RabbitMQ node ${names[i]} stopped while booting (see ${dir}/n${i + 1}/log)`,
        );
      }
      if (Date.now() > deadline) throw new Error(`RabbitMQ node ${names[i]} did not boot`);
      await sleep(200);
    }
  };

  const ctl = (node: RabbitNode, ...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(CTL, ["-n", node.name, ...args], {
        timeout: 60_000,
        env: { ...process.env, HOME: home },
      }, (
        error,
        stdout,
        stderr,
      ) => {
        if (error) reject(new Error(`rabbitmqctl ${args.join(" ")}: ${stderr || error.message}`));
        else resolve(String(stdout));
      });
    });
  const kill = (node: RabbitNode) => {
    const child = children[nodes.indexOf(node)];
    if (!node.alive || child.pid === undefined) return;
    node.alive = false;
    running.delete(child.pid);
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch { /* already gone */ }
  };
  const cluster: RabbitCluster = {
    nodes,
    ctl,
    kill,
    async stop() {
      for (const node of nodes) if (node) kill(node);
      await sleep(200);
      rmSync(dir, { recursive: true, force: true });
      folders.delete(dir);
    },
  };

  try {
    // Node 1 first: a node that joins one still creating its schema and feature flags can
    // fail both (seen under load). Then nodes 2 and 3 together; they cluster as they boot.
    await spawnNode(0);
    await booted(0);
    await Promise.all([spawnNode(1), spawnNode(2)]);
    await Promise.all([booted(1), booted(2)]);
    const status = JSON.parse(await ctl(nodes[0], "cluster_status", "--formatter", "json"));
    const running: string[] = status.running_nodes ?? [];
    if (!names.every((n) => running.includes(n))) {
      throw new Error(`The RabbitMQ nodes did not cluster: running ${running.join(", ")}`);
    }
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
