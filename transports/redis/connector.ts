/**
 * Finds the Redis server to talk to and opens links to it: a plain host, a unix socket
 * (`redis+socket://`), the master named by Sentinel (`sentinel://`), or the cluster node that
 * owns the transport's hash slot (cluster mode).
 *
 * @module
 */

import { ConfigurationError, ConnectionError } from "../../src/errors.ts";
import { connectSocket } from "../../src/runtime/mod.ts";
import type { ConnectionParams, TlsOptions } from "../../src/transport.ts";
import {
  nativeDriver,
  type RedisDriver,
  type RedisLink,
  type RedisLinkOptions,
  replyText,
} from "./driver.ts";
import type { RedisSettings } from "./options.ts";
import { RespErrorReply } from "./resp/types.ts";
import { importSibling } from "../../src/_import.ts";
import { loadingAware } from "./loading.ts";
import { currentPassword } from "../../src/connection/credentials.ts";

/** How the URL names the server. */
export type RedisMode = "tcp" | "tls" | "socket" | "sentinel";

/** Opens links to the current server; asks Sentinel again on every reconnect. */
export class RedisConnector {
  /** The database number (from the virtual host). */
  readonly db: number;
  readonly #settings: RedisSettings;
  readonly #params: ConnectionParams;
  readonly #mode: RedisMode;
  readonly #driver: Promise<RedisDriver>;
  #clusterTarget: { hostname: string; port: number } | undefined;
  /** Cluster mode: every node the last `CLUSTER SLOTS` named (the fallbacks of a dead owner). */
  #clusterNodes: { hostname: string; port: number }[] = [];

  /**
   * Reads where to connect.
   *
   * @param params the parsed URL and options
   * @param settings the transport settings
   * @param mode plain TCP (`redis://`), TLS (`rediss://`), unix socket, or Sentinel
   * @throws {ConfigurationError} when the database number or Sentinel settings are wrong
   */
  constructor(params: ConnectionParams, settings: RedisSettings, mode: RedisMode) {
    this.#params = params;
    this.#settings = settings;
    this.#mode = mode;
    this.db = mode === "socket" ? settings.db ?? 0 : parseDb(params.virtualHost);
    if (mode === "sentinel" && !settings.masterName) {
      throw new ConfigurationError(
        'Cannot connect through Sentinel: the "masterName" transport option is required',
      );
    }
    this.#driver =
      (settings.driver === "ioredis"
        ? importSibling<typeof import("./ioredis_driver.ts")>("./ioredis_driver", import.meta.url)
          .then((m) => m.ioredisDriver)
        : Promise.resolve(nativeDriver)).then(loadingAware);
  }

  /** The name of the driver in use. */
  get driverName(): string {
    return this.#settings.driver;
  }

  #base(): Omit<RedisLinkOptions, "hostname" | "port"> {
    const s = this.#settings;
    const p = this.#params;
    return {
      username: p.userid,
      password: p.password,
      db: this.db,
      // rediss:// always means TLS; `ssl` may still carry the CA, client certificate...
      tls: this.#mode === "tls" && !p.ssl ? true : p.ssl,
      clientName: s.clientName,
      connectTimeout: s.socketConnectTimeout ?? p.connectTimeout ?? 10_000,
      commandTimeout: s.socketTimeout,
      protocol: s.protocol,
      socketFactory: s.socketFactory ?? connectSocket,
      parser: s.parser,
      signal: p.signal,
    };
  }

  /**
   * Opens one link to the current server.
   *
   * @param subscriber a pub/sub link
   * @returns the link
   * @throws {ConnectionError} when no server can be reached
   */
  async open(subscriber = false): Promise<RedisLink> {
    const driver = await this.#driver;
    // A password function is asked again for each link: a later one may need a fresh token.
    const base = { ...this.#base(), password: await currentPassword(this.#params), subscriber };
    if (this.#mode === "socket") {
      return await driver.connect({
        ...base,
        hostname: "",
        port: 0,
        path: socketPath(this.#params),
        tls: false,
      });
    }
    if (this.#mode === "sentinel") {
      const master = await this.#discoverMaster(driver);
      return await driver.connect({ ...base, ...master });
    }
    if (this.#settings.cluster) return await this.#openInCluster(driver, base);
    return await driver.connect({ ...base, ...this.#target() });
  }

  /**
   * Cluster mode: the slot owner, else (it died, and its replica may not be promoted yet) any
   * other node the cluster named, so that `CLUSTER SLOTS` or a `MOVED` can tell the new owner.
   */
  async #openInCluster(
    driver: RedisDriver,
    base: Omit<RedisLinkOptions, "hostname" | "port">,
  ): Promise<RedisLink> {
    const target = this.#target();
    const seed = {
      hostname: this.#params.hostname || "127.0.0.1",
      port: this.#params.port ?? 6379,
    };
    const others = [seed, ...this.#clusterNodes].filter((node, i, all) =>
      (node.hostname !== target.hostname || node.port !== target.port) &&
      all.findIndex((n) => n.hostname === node.hostname && n.port === node.port) === i
    );
    let failure: unknown;
    for (const node of [target, ...others]) {
      try {
        const link = await driver.connect({ ...base, ...node });
        if (node !== target) this.#clusterTarget = node;
        return link;
      } catch (error) {
        failure ??= error;
      }
    }
    throw failure;
  }

  #target(): { hostname: string; port: number } {
    return this.#clusterTarget ?? {
      hostname: this.#params.hostname || "127.0.0.1",
      port: this.#params.port ?? 6379,
    };
  }

  /**
   * Cluster mode: the transport's slot has a new owner (a `MOVED` reply); links opened from
   * now on go there.
   *
   * @param hostname the owner's host (empty: the host of the current node)
   * @param port the owner's port
   */
  moveTo(hostname: string, port: number): void {
    this.#clusterTarget = { hostname: hostname || this.#target().hostname, port };
  }

  /**
   * Cluster mode: opens a command link to another node (the target of an `ASK`).
   *
   * @param hostname the node's host (empty: the host of the current node)
   * @param port the node's port
   * @returns the link
   * @throws {ConnectionError} when the node cannot be reached
   */
  async openAt(hostname: string, port: number): Promise<RedisLink> {
    const driver = await this.#driver;
    return await driver.connect({
      ...this.#base(),
      hostname: hostname || this.#target().hostname,
      port,
    });
  }

  /**
   * Cluster mode: checks that every key of the transport maps to one hash slot, and moves to
   * the node that owns it. Without cluster mode, nothing happens.
   *
   * @param link a link to any node
   * @param sampleKeys keys whose slots must agree (the unacked hash, a queue key, a binding key)
   * @returns a link to the owner of the slot (the same link when it already is)
   * @throws {ConfigurationError} when the keys fall in different slots
   */
  async checkCluster(link: RedisLink, sampleKeys: string[]): Promise<RedisLink> {
    if (!this.#settings.cluster) return link;
    const slots = new Set<number>();
    for (const key of sampleKeys) {
      const reply = await link.send(["CLUSTER", "KEYSLOT", key]);
      if (reply instanceof RespErrorReply) {
        throw new ConfigurationError(
          `Cannot use Redis cluster mode: the server refused CLUSTER KEYSLOT (${reply.message})`,
        );
      }
      slots.add(Number(reply));
    }
    if (slots.size !== 1) {
      throw new ConfigurationError(
        `Cannot use Redis cluster mode: the transport's keys fall in ${slots.size} hash slots; ` +
          'give "globalKeyprefix" a hash tag such as "{wakame}."',
      );
    }
    const [slot] = slots;
    const shards = await link.send(["CLUSTER", "SLOTS"]);
    if (!Array.isArray(shards)) return link;
    this.#clusterNodes = shards.flatMap((shard) =>
      Array.isArray(shard)
        ? shard.slice(2).filter(Array.isArray).map((node) => ({
          hostname: replyText(node[0]) || this.#target().hostname,
          port: Number(node[1]),
        }))
        : []
    );
    for (const shard of shards) {
      if (!Array.isArray(shard)) continue;
      const [from, to, master] = shard;
      if (Number(from) <= slot! && slot! <= Number(to) && Array.isArray(master)) {
        const hostname = replyText(master[0]) ?? "";
        const port = Number(master[1]);
        const current = this.#target();
        if (hostname && (hostname !== current.hostname || port !== current.port)) {
          this.#clusterTarget = { hostname, port };
          await link.close();
          return await this.open(false);
        }
      }
    }
    return link;
  }

  async #discoverMaster(driver: RedisDriver): Promise<{ hostname: string; port: number }> {
    const sentinels = [
      `${this.#params.hostname || "127.0.0.1"}:${this.#params.port ?? 26379}`,
      ...this.#settings.sentinels,
    ];
    const failures: string[] = [];
    for (const entry of sentinels) {
      const colon = entry.lastIndexOf(":");
      const hostname = colon > 0 ? entry.slice(0, colon) : entry;
      const port = colon > 0 ? Number(entry.slice(colon + 1)) : 26379;
      let link: RedisLink | undefined;
      try {
        link = await driver.connect({
          ...this.#base(),
          hostname,
          port,
          db: 0,
          username: undefined,
          password: this.#settings.sentinelPassword,
          tls: this.#params.ssl as boolean | TlsOptions,
        });
        const reply = await link.send([
          "SENTINEL",
          "get-master-addr-by-name",
          this.#settings.masterName!,
        ]);
        if (Array.isArray(reply) && reply.length >= 2) {
          return { hostname: replyText(reply[0]) ?? "", port: Number(replyText(reply[1])) };
        }
        failures.push(`${hostname}:${port} does not know master "${this.#settings.masterName}"`);
      } catch (error) {
        failures.push(`${hostname}:${port}: ${error instanceof Error ? error.message : error}`);
      } finally {
        await link?.close().catch(() => undefined);
      }
    }
    throw new ConnectionError(
      `Cannot find Redis master "${this.#settings.masterName}" through Sentinel: ${
        failures.join("; ")
      }`,
    );
  }
}

function parseDb(virtualHost: string | undefined): number {
  let text = virtualHost ?? "";
  if (text.startsWith("/")) text = text.slice(1);
  if (text === "") return 0;
  if (!/^\d+$/.test(text)) {
    throw new ConfigurationError(
      `Cannot use Redis database "${text}": the virtual host must be a database number`,
    );
  }
  return Number(text);
}

function socketPath(params: ConnectionParams): string {
  // redis+socket:///run/redis.sock: the "virtual host" is the path without its leading slash.
  const path = params.virtualHost ?? "";
  return path.startsWith("/") ? path : `/${path}`;
}
