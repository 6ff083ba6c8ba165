/**
 * The ZooKeeper transport, wire-compatible with Python Kombu's (`kombu.transport.zookeeper`,
 * kazoo's `Queue` recipe), on wakame's own ZooKeeper client over the runtime's sockets (Deno,
 * Bun, Node).
 *
 * URL: `zookeeper://host:port/vhost` (Kombu's form; default `localhost:2181`, vhost `/`). Several
 * servers of one ensemble as Kombu takes them, `;`-separated URLs
 * (`zookeeper://h1:2181;zookeeper://h2:2181/vhost`) or the `alternates` option: one session
 * over all of them, the URL being tried first, then the others (kazoo's host list); the
 * virtual host is the tried URL's.
 *
 * Options (`transportOptions` in camelCase and ms or Kombu's snake_case and seconds, or the URL
 * query in Kombu's names and units; see `ZOOKEEPER_OPTIONS`): `sessionTimeout` (default
 * 10 000 ms; `session_timeout` in seconds), `connectTimeout`, `ackEmulation` (default true),
 * `sweepInterval`, `socketFactory`, and the virtual base's `pollingInterval`, `topicRules`,
 * `queueOrderStrategy`. An unknown name is refused with the closest known one.
 *
 * Layout (as Kombu): the virtual host is the znode `/vhost` (`/` by default); queue `q` is its
 * child `q`; each message a sequential child `entry-PPP-NNNNNNNNNN` holding Kombu's JSON
 * envelope, `PPP` being `9 - priority` (0..9) so that the sorted names give the highest
 * priority first, then the oldest. Consumers take the first name, wait on a child watch
 * instead of polling, and take a message with a conditional delete, so wakame and Kombu
 * consumers never both get it.
 *
 * Acknowledgement: Kombu deletes a message when it reads it (a consumer killed with messages in
 * hand loses them). wakame moves it atomically (`multi`) into a record of its session under
 * `/vhost/wakame.unacked/<queue>/` ({@link ZkLease}); an ack deletes the record, a requeue
 * moves it back; when a session ends unsettled (consumer killed, session expired) any wakame
 * consumer moves its records back, marked redelivered. A restart of ZooKeeper shorter than the
 * session timeout keeps the session: the client reconnects and resumes it.
 *
 * Capabilities: direct, topic, fanout and headers exchanges with bindings in the process (as in
 * Kombu's virtual transports); priority 0..9, highest first (Kombu's); redelivered flag; persistent; FIFO
 * within a priority. No TTL, confirms or fanout to other processes.
 *
 * @example
 * ```ts ignore
 * import { Connection } from "@wakame/wakame";
 * import "@wakame/wakame/zookeeper";
 * await using connection = new Connection("zookeeper://127.0.0.1:2181/");
 * const queue = await connection.simpleQueue("tasks");
 * await queue.put({ hello: "zookeeper" }, { priority: 5 });
 * ```
 *
 * @module
 */

import type { Capabilities, ConnectionParams, Transport } from "../../src/transport.ts";
import type { QueueBackend } from "../../src/virtual/backend.ts";
import { type BackendContext, virtualTransport } from "../../src/virtual/transport.ts";
import { registerTransport } from "../../src/registry.ts";
import { connectSocket } from "../../src/runtime/mod.ts";
import { ZooKeeperBackend } from "./backend.ts";
import { ZkClient } from "./client.ts";
import { ZkLease } from "./lease.ts";
import { vhostPath } from "./paths.ts";
import { readZooKeeperSettings, ZOOKEEPER_DEFAULT_PORT, ZOOKEEPER_OPTIONS } from "./options.ts";

export { ZooKeeperBackend } from "./backend.ts";
export { ZkClient, type ZkClientSettings } from "./client.ts";
export { type ZkClaim, ZkLease } from "./lease.ts";
export { entryPrefix, queuePath, vhostPath } from "./paths.ts";
export {
  type Answer,
  type Operation,
  type WatchEvent,
  ZK_ERROR,
  ZooKeeperError,
} from "./protocol.ts";
export type { Stat } from "./jute.ts";
export {
  readZooKeeperSettings,
  ZOOKEEPER_DEFAULT_PORT,
  zooKeeperHosts,
  type ZooKeeperSettings,
  type ZooKeeperTransportOptions,
} from "./options.ts";

/** What `zookeeper://` can do. */
export const zookeeperCapabilities: Capabilities = {
  exchangeTypes: ["direct", "topic", "fanout", "headers"],
  priority: "native",
  messageTtl: false,
  queueArguments: false,
  redeliveredFlag: true,
  confirms: false,
  mandatory: true,
  heartbeats: true,
  persistent: true,
  exclusive: false,
  exchangeBindings: false,
  crossProcess: false,
  fifo: true,
  queueEquivalence: false,
};

/**
 * Opens the ZooKeeper store of one connection (one session).
 *
 * @param params URL and options
 * @param context where the store reports survived failures
 * @returns the store
 * @throws {ConfigurationError} for invalid options
 */
export async function openZooKeeperBackend(
  params: ConnectionParams,
  context?: Pick<BackendContext, "warn">,
): Promise<QueueBackend> {
  const settings = readZooKeeperSettings(params);
  const warn = context?.warn ?? (() => {});
  const client = new ZkClient({
    hosts: settings.hosts,
    sessionTimeout: settings.sessionTimeout,
    connectTimeout: settings.connectTimeout,
    socketFactory: settings.socketFactory ?? connectSocket,
    warn,
  });
  await client.start();
  const vhost = vhostPath(params.virtualHost);
  const lease = new ZkLease(client, vhost, warn);
  if (settings.ackEmulation) {
    await lease.markSession();
    client.onNewSession(() => {
      lease.markSession().catch((error) => warn("Cannot mark the new ZooKeeper session", error));
    });
  }
  return new ZooKeeperBackend(
    client,
    vhost,
    lease,
    settings.ackEmulation,
    settings.sweepInterval,
    warn,
  );
}

/** The `zookeeper://` transport. */
export const ZooKeeperTransport: Transport = virtualTransport({
  name: "zookeeper",
  capabilities: zookeeperCapabilities,
  defaultPort: ZOOKEEPER_DEFAULT_PORT,
  options: ZOOKEEPER_OPTIONS,
  openBackend: openZooKeeperBackend,
});

// Importing this module makes its URL scheme resolve to it (also in bundles, where the
// registry cannot load it by itself).
registerTransport(["zookeeper"], ZooKeeperTransport);
