/**
 * The etcd transport, wire-compatible with Python Kombu's (`kombu.transport.etcd`, python-etcd):
 * etcd's v2 keys API over `fetch`, so it runs on Deno, Bun, Node and Cloudflare Workers. etcd 3.x
 * serves that API when started with `--enable-v2`.
 *
 * URL: `etcd://host:port` (Kombu's form; default `localhost:2379`). Credentials in the URL are
 * sent as HTTP basic authentication.
 *
 * Options (`transportOptions` in camelCase and ms or Kombu's snake_case and seconds, or the URL
 * query in Kombu's names and units; see `ETCD_OPTIONS`): `visibilityTimeout` (default
 * 1 800 000 ms; `visibility_timeout` in seconds; 0 for Kombu's behaviour), `prefix` (`kombu`),
 * `unackedPrefix` (`wakame.unacked`), `requestTimeout` (Kombu's channel `timeout`, 10 s),
 * `readAttempts`, `isSecure`, `fetch`, and the virtual base's `pollingInterval`, `topicRules`,
 * `queueOrderStrategy`. An unknown name is refused with the closest known one.
 *
 * Layout (as Kombu): queue `q` is the directory `/kombu/q`; each message an in-order key under
 * it (`POST /v2/keys/kombu/q`, named by its creation index, 20 digits) holding Kombu's JSON
 * envelope, text that is not one being delivered as a raw body. A message is taken with a
 * compare-and-delete, so wakame and Kombu consumers never both get it; wakame takes the oldest
 * and waits on a watch instead of polling. Kombu serializes its own readers with python-etcd's
 * lock keys (`/_locks/<queue>`), which wakame neither needs nor takes.
 *
 * Acknowledgement: Kombu deletes a message when it reads it, so a consumer killed with messages
 * in hand loses them. wakame moves a taken message into a record under
 * `/wakame.unacked/<queue>/` first ({@link EtcdLease}); an ack deletes it, a requeue puts the
 * envelope back (marked redelivered); while a delivery is unacknowledged its deadline is renewed;
 * the records of a consumer that died go back to their queue after `visibilityTimeout`, put back
 * by any wakame consumer of that etcd. Kombu consumers never see the records.
 *
 * Capabilities: direct, topic, fanout and headers exchanges with bindings in the process (as in
 * Kombu's virtual transports); redelivered flag; persistent; FIFO per queue. No priority, TTL,
 * confirms or fanout to other processes.
 *
 * @example
 * ```ts ignore
 * import { Connection } from "@wakame/wakame";
 * import "@wakame/wakame/etcd";
 * await using connection = new Connection("etcd://127.0.0.1:2379");
 * const queue = await connection.simpleQueue("tasks");
 * await queue.put({ hello: "etcd" });
 * ```
 *
 * @module
 */

import type { Capabilities, ConnectionParams, Transport } from "../../src/transport.ts";
import type { QueueBackend } from "../../src/virtual/backend.ts";
import { type BackendContext, virtualTransport } from "../../src/virtual/transport.ts";
import { registerTransport } from "../../src/registry.ts";
import { EtcdBackend } from "./backend.ts";
import { EtcdClient } from "./client.ts";
import { EtcdLease } from "./lease.ts";
import { ETCD_DEFAULT_PORT, ETCD_OPTIONS, readEtcdSettings } from "./options.ts";

export { EtcdBackend } from "./backend.ts";
export { etcdQueueKey } from "./keys.ts";
export {
  EtcdClient,
  type EtcdClientSettings,
  EtcdError,
  type EtcdFetch,
  type EtcdNode,
  type EtcdParams,
  type EtcdResult,
} from "./client.ts";
export { type EtcdClaim, EtcdLease } from "./lease.ts";
export {
  ETCD_DEFAULT_PORT,
  type EtcdSettings,
  type EtcdTransportOptions,
  readEtcdSettings,
} from "./options.ts";

/** What `etcd://` can do. */
export const etcdCapabilities: Capabilities = {
  exchangeTypes: ["direct", "topic", "fanout", "headers"],
  priority: "none",
  messageTtl: false,
  queueArguments: false,
  redeliveredFlag: true,
  confirms: false,
  mandatory: true,
  heartbeats: false,
  persistent: true,
  exclusive: false,
  exchangeBindings: false,
  crossProcess: false,
  fifo: true,
  queueEquivalence: false,
};

/**
 * Opens the etcd store of one connection.
 *
 * @param params URL and options
 * @param context where the store reports survived failures
 * @returns the store
 * @throws {ConfigurationError} for invalid options
 */
export function openEtcdBackend(
  params: ConnectionParams,
  context?: Pick<BackendContext, "warn">,
): Promise<QueueBackend> {
  const settings = readEtcdSettings(params);
  const warn = context?.warn ?? (() => {});
  const client = new EtcdClient({
    baseUrl: settings.baseUrl,
    fetch: settings.fetch,
    requestTimeout: settings.requestTimeout,
    attempts: settings.readAttempts,
    auth: settings.auth,
  });
  const lease = settings.visibilityTimeout > 0
    ? new EtcdLease(
      client,
      settings.unackedPrefix,
      settings.prefix,
      settings.visibilityTimeout,
      warn,
    )
    : undefined;
  return Promise.resolve(new EtcdBackend(client, settings, lease, warn));
}

/** The `etcd://` transport. */
export const EtcdTransport: Transport = virtualTransport({
  name: "etcd",
  capabilities: etcdCapabilities,
  defaultPort: ETCD_DEFAULT_PORT,
  options: ETCD_OPTIONS,
  openBackend: openEtcdBackend,
});

// Importing this module makes its URL scheme resolve to it (also in bundles, where the
// registry cannot load it by itself).
registerTransport(["etcd"], EtcdTransport);
