/**
 * The Redis transport, wire-compatible with Python Kombu's (`kombu.transport.redis`): Python
 * Kombu, Celery and wakame can share one Redis.
 *
 * URLs:
 * - `redis://[user:password@]host[:6379][/db]`
 * - `rediss://...` TLS, certificate and host name verified unless
 *   `ssl: { rejectUnauthorized: false }`
 * - `redis+socket:///path/to/redis.sock` (database from `transportOptions.db`)
 * - `sentinel://host[:26379]` with the option `masterName` (more sentinels in `sentinels`, as
 *   `host:port` strings; their own password in `sentinelPassword`); the master is asked for
 *   again on every reconnect
 *
 * Options (declared once in `REDIS_OPTIONS`; `transportOptions` in camelCase with durations in
 * milliseconds, or Kombu's snake_case names with Kombu's seconds as in a Celery
 * `broker_transport_options`; the URL query in Kombu's names and units, `?visibility_timeout=3600`
 * is one hour; Kombu's `max_connections`, `socket_keepalive`, `retry_on_timeout` are accepted
 * and ignored): `visibilityTimeout` (3 600 000), `ackEmulation` (true), `unackedKey`,
 * `unackedIndexKey`, `unackedMutexKey`, `unackedMutexExpire` (300 000), `unackedRestoreLimit`,
 * `fanoutPrefix` (true: `/{db}.`), `fanoutPatterns` (true), `globalKeyprefix`, `sep`,
 * `prioritySteps` ([0, 3, 6, 9]), `queueOrderStrategy` (`round_robin`, `sorted`, `priority`),
 * `socketTimeout`, `socketConnectTimeout`, `healthCheckInterval` (25 000); and wakame's own:
 * `driver` (`resp` or `ioredis`), `protocol` (2 or 3), `clientName`, `cluster`, `wakeup`
 * (`tracking` or `poll`), `pollInterval`, `fanoutBufferLimit`, `parser` (bulk length limit...),
 * `socketFactory`, `db` (for `redis+socket://`). See {@link RedisTransportOptions}.
 *
 * No loss window: a message moves from its list into `unacked` / `unacked_index` in one Lua
 * script, in the layout Python Kombu's restore reads; consumers wait without any blocking pop
 * (Redis client tracking reports changes of the list keys on the pub/sub connection), so no
 * message is ever only in the reply of a dead consumer. Each connection uses two Redis
 * connections: commands, and pub/sub (opened on the first consume, fanout bind or routed
 * publish). A lost connection is reopened by the store (and logged at `warn` level);
 * consumers re-arm by themselves.
 *
 * Long handlers (kombu#337): while a delivery is unacknowledged its `unacked_index` score is
 * moved forward at half the `visibilityTimeout`, so neither wakame's visibility sweep nor Python
 * Kombu's `restore_visible` redelivers a message whose handler runs past the timeout (a handler
 * that blocks the event loop stops the renewal too). A consumer that dies stops renewing: its
 * messages come back after one timeout, as in Kombu.
 *
 * Poison messages: an envelope that cannot be decoded (not JSON, a bad base64 body, an unknown
 * `body_encoding`, not an envelope at all), written by a foreign producer, is rejected without
 * requeue: its `unacked` record is removed at once and it is logged once at `warn` level with the
 * head of its text (logger `transport.redis`); the consumer goes on. Kombu's Redis transport has
 * no dead-letter list (its `reject(requeue=False)` is an ack; a message it cannot decode is lost
 * with the exception that escapes `drain_events`), so the log line is where such a message ends
 * up. An unreadable `unacked` record met by the visibility sweep is removed and logged the same
 * way.
 *
 * Capabilities: direct, topic and fanout exchanges; priority in steps (0 is consumed first, the
 * reverse of RabbitMQ); redelivered flag; persistent; cross-process fanout (PUB/SUB, at most
 * once). No per-message TTL, queue limits, headers exchange, confirms or heartbeats.
 *
 * Cluster mode (`cluster: true`) needs a hash tag in `globalKeyprefix` (`"{wakame}."`) so that
 * every key of the transport shares one slot; it is checked at connect, and the connection goes
 * to the node owning that slot and follows it: `-MOVED` (to the new owner), `-ASK` (`ASKING` at
 * the importing node, once), `-TRYAGAIN` / `-CLUSTERDOWN` (retried with a growing wait), and a
 * dead owner (the other nodes are asked until a replica is promoted). Both drivers.
 *
 * @example
 * ```ts ignore
 * import { Connection } from "@wakame/wakame";
 * const connection = new Connection("redis://127.0.0.1:6379/0", {
 *   transportOptions: { visibilityTimeout: 60_000, globalKeyprefix: "app:" },
 * });
 * ```
 *
 * @module
 */

import type { Capabilities, ConnectionParams, Transport } from "../../src/transport.ts";
import type { QueueBackend } from "../../src/virtual/backend.ts";
import { type BackendContext, virtualTransport } from "../../src/virtual/transport.ts";
import { RedisBackend } from "./backend.ts";
import { RedisConnector, type RedisMode } from "./connector.ts";
import { readSettings, REDIS_OPTIONS } from "./options.ts";
import { registerTransport } from "../../src/registry.ts";

export { RedisBackend, type RedisBackendContext } from "./backend.ts";
export { type Held, RedisLease } from "./lease.ts";
export { type BindingRow, RedisBindingStore } from "./bindings.ts";
export { RedisConnector, type RedisMode } from "./connector.ts";
export { nativeDriver, type RedisDriver, type RedisLink, type RedisLinkOptions } from "./driver.ts";
export { KeyLayout, priorityStep } from "./keys.ts";
export { readSettings, type RedisSettings, type RedisTransportOptions } from "./options.ts";
export { RespConnection, type RespConnectionOptions, type SendOptions } from "./resp/client.ts";
export { RespEncoder } from "./resp/encoder.ts";
export { DEFAULT_MAX_BULK_LENGTH, RespParser, type RespParserOptions } from "./resp/parser.ts";
export { type RespArg, RespErrorReply, RespPush, type RespValue } from "./resp/types.ts";

/** What the Redis transport can do. */
export const redisCapabilities: Capabilities = {
  exchangeTypes: ["direct", "topic", "fanout"],
  priority: "steps",
  messageTtl: false,
  queueArguments: false,
  redeliveredFlag: true,
  confirms: false,
  mandatory: true,
  heartbeats: false,
  persistent: true,
  exclusive: false,
  exchangeBindings: false,
  crossProcess: true,
  fifo: true,
  queueEquivalence: false,
};

/**
 * Opens the Redis queue store of one connection.
 *
 * @param params the parsed URL and options
 * @param context where the store reports warnings
 * @param mode how the URL names the server
 * @returns the connected store
 * @throws {ConnectionError} when Redis cannot be reached or refuses the credentials
 * @throws {ConfigurationError} for bad options (database number, cluster prefix, Sentinel)
 */
export async function openRedisBackend(
  params: ConnectionParams,
  context: Pick<BackendContext, "warn" | "route">,
  mode: RedisMode = "tcp",
): Promise<RedisBackend> {
  const settings = readSettings(params.transportOptions, params.queryOptions);
  const connector = new RedisConnector(params, settings, mode);
  const backend = new RedisBackend(connector, settings, context);
  await backend.open();
  return backend;
}

function makeTransport(name: string, mode: RedisMode, defaultPort: number): Transport {
  return virtualTransport({
    name,
    capabilities: redisCapabilities,
    defaultPort,
    batchSize: 100,
    options: REDIS_OPTIONS,
    openBackend: (params, context): Promise<QueueBackend> =>
      openRedisBackend(params, context, mode),
  });
}

/** `redis://`: Redis over TCP (TLS too when the connection's `ssl` is set). */
export const redisTransport: Transport = makeTransport("redis", "tcp", 6379);

/** `rediss://`: Redis over TLS (verification on unless turned off in `ssl`). */
export const redissTransport: Transport = makeTransport("rediss", "tls", 6379);

/** `redis+socket:///path/to/socket`: Redis over a unix socket (Deno, Bun, Node). */
export const redisSocketTransport: Transport = makeTransport("redis+socket", "socket", 0);

/** `sentinel://host:26379` with `transportOptions.masterName`: the master found by Sentinel. */
export const sentinelTransport: Transport = makeTransport("sentinel", "sentinel", 26379);

// Importing this module makes its URL schemes resolve to it (also in bundles, where the
// registry cannot load it by itself).
registerTransport(["redis"], redisTransport);
registerTransport(["rediss"], redissTransport);
registerTransport(["redis+socket"], redisSocketTransport);
registerTransport(["sentinel"], sentinelTransport);
