/**
 * Private Redis deployments on loopback for fault tests, as users run them in production:
 * a Redis Cluster of six `redis-server --cluster-enabled yes` (three masters, three replicas,
 * made with `redis-cli --cluster create`), and a Sentinel group (a master, a replica and three
 * `redis-sentinel`). Each process has its own port, folder and process group; `stop()` ends
 * them all (SIGKILL) and removes the folders. The shared Redis on 6379 is never touched.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectSocket } from "../../src/runtime/mod.ts";
import { RespConnection } from "../../transports/redis/resp/client.ts";
import type { RespArg, RespValue } from "../../transports/redis/resp/types.ts";
import { isListening } from "./brokers.ts";
import { FaultProxy } from "./fault_proxy.ts";
import { freePort } from "../unit/redis/_server.ts";

/** Why these deployments cannot start here (a binary is missing), or undefined. */
export function redisDeploymentSkipReason(...binaries: string[]): string | undefined {
  const missing = binaries.filter((b) => spawnSync("sh", ["-c", `command -v ${b}`]).status !== 0);
  return missing.length === 0
    ? undefined
    : `${missing.join(", ")} needed (apt-get install redis-server redis-sentinel redis-tools)`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dec = new TextDecoder();

/** A reply as text. */
export function text(value: RespValue): string {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return dec.decode(value);
  return String(value);
}

/** One private redis-server or redis-sentinel process. */
export class RedisProcess {
  readonly port: number;
  readonly #child: ChildProcess;

  constructor(port: number, child: ChildProcess) {
    this.port = port;
    this.#child = child;
  }

  /** True until killed or exited. */
  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Sends one command on a fresh connection and returns the reply. */
  async send(args: readonly RespArg[]): Promise<RespValue> {
    const link = await RespConnection.connect({
      hostname: "127.0.0.1",
      port: this.port,
      socketFactory: connectSocket,
    });
    try {
      return await link.send(args);
    } finally {
      await link.close();
    }
  }

  /** SIGKILL to its process group: a crash, with nothing flushed. */
  kill(): void {
    if (!this.alive || this.#child.pid === undefined) return;
    running.delete(this.#child.pid);
    try {
      process.kill(-this.#child.pid, "SIGKILL");
    } catch { /* already gone */ }
  }
}

/** Process groups still running: ended when this process exits, even after a failed test. */
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

class Deployment {
  readonly dir: string;
  readonly processes: RedisProcess[] = [];

  constructor(name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `wakame-${name}-`));
    folders.add(this.dir);
  }

  async spawn(
    binary: string,
    config: (dir: string, port: number) => string,
  ): Promise<RedisProcess> {
    const port = await freePort();
    const dir = join(this.dir, String(port));
    mkdirSync(dir);
    const file = join(dir, "redis.conf");
    writeFileSync(file, `bind 127.0.0.1\nport ${port}\ndir ${dir}\n${config(dir, port)}\n`);
    const child = spawn(binary, [file], { detached: true, stdio: "ignore" });
    child.unref();
    if (child.pid !== undefined) running.add(child.pid);
    const proc = new RedisProcess(port, child);
    this.processes.push(proc);
    for (let i = 0; !(await isListening("127.0.0.1", port, 200)); i++) {
      if (i > 200 || !proc.alive) throw new Error(`${binary} on port ${port} did not start`);
      await sleep(25);
    }
    return proc;
  }

  async stop(): Promise<void> {
    for (const proc of this.processes) proc.kill();
    await sleep(100);
    rmSync(this.dir, { recursive: true, force: true });
    folders.delete(this.dir);
  }
}

/** A running Redis Cluster. */
export interface RedisCluster {
  /** The six nodes. */
  readonly nodes: readonly RedisProcess[];
  /** The master that owns a hash slot now. */
  ownerOf(slot: number): Promise<{ id: string; node: RedisProcess }>;
  /** The id of a node (`CLUSTER MYID`). */
  idOf(node: RedisProcess): Promise<string>;
  /** A master that does not own the slot. */
  otherMaster(slot: number): Promise<{ id: string; node: RedisProcess }>;
  /** Runs `redis-cli` with these arguments; resolves with its output. */
  cli(...args: string[]): Promise<string>;
  /** Ends every node and removes the folders. */
  stop(): Promise<void>;
}

function cli(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("redis-cli", args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(" ")}: ${stderr || stdout || error}`));
      else resolve(String(stdout));
    });
  });
}

/**
 * Starts six cluster nodes, joins them with `redis-cli --cluster create` (one replica per
 * master) and waits until every node reports `cluster_state:ok` and every replica is in sync.
 *
 * @returns the cluster; call `stop()` in `after`
 * @throws {Error} when a node does not start or the cluster does not form
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const deployment = new Deployment("redis-cluster");
  try {
    await Promise.all(
      Array.from({ length: 6 }, () =>
        deployment.spawn("redis-server", (dir) =>
          [
            "cluster-enabled yes",
            `cluster-config-file ${join(dir, "nodes.conf")}`,
            "cluster-node-timeout 2000",
            "save ''",
            "appendonly no",
            "repl-diskless-sync yes",
            "repl-diskless-sync-delay 0",
          ].join("\n"))),
    );
    const nodes = deployment.processes;
    await cli(
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      "1",
      "--cluster-yes",
    );
    // Ready when every node sees the cluster ok and three replicas, each one in sync (a
    // replica that never synced cannot be promoted when its master dies).
    const ready = async (node: RedisProcess) => {
      const info = text(await node.send(["CLUSTER", "INFO"]));
      const table = text(await node.send(["CLUSTER", "NODES"]));
      const replication = text(await node.send(["INFO", "replication"]));
      return info.includes("cluster_state:ok") &&
        table.split("\n").filter((line) => /[ ,]slave /.test(line)).length === 3 &&
        (!replication.includes("role:slave") || replication.includes("master_link_status:up"));
    };
    for (const node of nodes) {
      for (let i = 0; !(await ready(node)); i++) {
        if (i > 600) {
          throw new Error(
            `Redis cluster node ${node.port} did not get ready: ${
              text(await node.send(["CLUSTER", "NODES"]))
            } ${text(await node.send(["INFO", "replication"]))}`,
          );
        }
        await sleep(25);
      }
    }
    const idOf = async (node: RedisProcess) => text(await node.send(["CLUSTER", "MYID"]));
    const ownerOf = async (slot: number) => {
      for (const node of nodes) {
        if (!node.alive) continue;
        const shards = await node.send(["CLUSTER", "SLOTS"]) as RespValue[][];
        for (const [from, to, master] of shards) {
          if (Number(from) <= slot && slot <= Number(to)) {
            const port = Number((master as RespValue[])[1]);
            const owner = nodes.find((n) => n.port === port)!;
            return { id: text((master as RespValue[])[2]), node: owner };
          }
        }
      }
      throw new Error(`No owner of slot ${slot}`);
    };
    const otherMaster = async (slot: number) => {
      const owner = await ownerOf(slot);
      for (const node of nodes) {
        if (node === owner.node || !node.alive) continue;
        const role = await node.send(["ROLE"]) as RespValue[];
        if (text(role[0]) === "master") return { id: await idOf(node), node };
      }
      throw new Error("No other master");
    };
    return { nodes, ownerOf, idOf, otherMaster, cli, stop: () => deployment.stop() };
  } catch (error) {
    await deployment.stop();
    throw error;
  }
}

/** The hash slot of a key (CRC16/XMODEM of its hash tag, mod 16384), as Redis Cluster computes it. */
export function keySlot(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of new TextEncoder().encode(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % 16384;
}

/** A running Sentinel group: a master, a replica and three sentinels. */
export interface SentinelGroup {
  /** The name the sentinels know the master by. */
  readonly masterName: string;
  /** The first master. */
  readonly master: RedisProcess;
  /** Its replica. */
  readonly replica: RedisProcess;
  /** The three sentinels. */
  readonly sentinels: readonly RedisProcess[];
  /** With `proxied`: the proxy the replica replicates through (`cut()` stops replication). */
  readonly replication: FaultProxy | undefined;
  /** The port of the master as the sentinels see it now. */
  currentMasterPort(): Promise<number>;
  /** Ends every process and removes the folders. */
  stop(): Promise<void>;
}

/**
 * Starts a master, a replica of it and three sentinels (quorum 2, down after 1 s, failover
 * timeout 5 s), and waits until every sentinel knows the replica and the other sentinels.
 *
 * @param masterName the name the sentinels monitor
 * @param options `proxied`: the replica replicates through a {@link FaultProxy}, so that a test
 *   can stop replication before it kills the master
 * @returns the group; call `stop()` in `after`
 */
export async function startSentinelGroup(
  masterName: string,
  options: { proxied?: boolean } = {},
): Promise<SentinelGroup> {
  const deployment = new Deployment("redis-sentinel");
  let proxy: FaultProxy | undefined;
  try {
    const data = "save ''\nappendonly no\nrepl-diskless-sync yes\nrepl-diskless-sync-delay 0";
    const master = await deployment.spawn("redis-server", () => data);
    if (options.proxied) proxy = await FaultProxy.start("127.0.0.1", master.port);
    const replica = await deployment.spawn(
      "redis-server",
      () => `${data}\nreplicaof 127.0.0.1 ${proxy?.port ?? master.port}`,
    );
    // The replica in sync before the sentinels start: their first INFO of the master names it
    // (the next comes 10 s later).
    for (
      let i = 0;
      !text(await replica.send(["INFO", "replication"])).includes("master_link_status:up");
      i++
    ) {
      if (i > 400) throw new Error("The replica did not sync with its master");
      await sleep(25);
    }
    const sentinels = await Promise.all(
      [0, 1, 2].map(() =>
        deployment.spawn("redis-sentinel", () =>
          [
            `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
            `sentinel down-after-milliseconds ${masterName} 1000`,
            // Sentinel "fixes" a replica whose master address is not the master's own (a proxy)
            // once a failover timeout has passed: with a proxy, not within a test.
            `sentinel failover-timeout ${masterName} ${proxy ? 120_000 : 5000}`,
            `sentinel parallel-syncs ${masterName} 1`,
          ].join("\n"))
      ),
    );
    for (let i = 0;; i++) {
      const infos = await Promise.all(
        sentinels.map((s) => s.send(["SENTINEL", "MASTER", masterName])),
      );
      const ready = infos.every((info) => {
        const fields = (info as RespValue[]).map(text);
        const get = (k: string) => Number(fields[fields.indexOf(k) + 1]);
        return get("num-slaves") >= 1 && get("num-other-sentinels") >= 2;
      });
      const link = text(await replica.send(["INFO", "replication"]));
      if (ready && link.includes("master_link_status:up")) break;
      if (i > 600) throw new Error("The sentinels did not discover the replica and each other");
      await sleep(50);
    }
    const currentMasterPort = async () => {
      for (const s of sentinels) {
        if (!s.alive) continue;
        const reply = await s.send(["SENTINEL", "get-master-addr-by-name", masterName]);
        if (Array.isArray(reply)) return Number(text(reply[1]));
      }
      throw new Error("No sentinel answered");
    };
    return {
      masterName,
      master,
      replica,
      sentinels,
      replication: proxy,
      currentMasterPort,
      stop: async () => {
        await proxy?.close();
        await deployment.stop();
      },
    };
  } catch (error) {
    await proxy?.close();
    await deployment.stop();
    throw error;
  }
}
