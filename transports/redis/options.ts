/**
 * The Redis transport's options, declared once ({@link REDIS_OPTIONS}): Kombu's names in
 * camelCase with durations in ms, or Kombu's snake_case names with Kombu's seconds (a Celery
 * `broker_transport_options` dictionary as it is), or in the URL query (Kombu's names, seconds).
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import { declareOptions, type OptionSpec, readOptions } from "../../src/options/declare.ts";
import type { SocketFactory } from "../../src/socket.ts";
import { VIRTUAL_OPTIONS } from "../../src/virtual/options.ts";
import type { RespParserOptions } from "./resp/parser.ts";

/**
 * The transport options of the Redis transport (`transportOptions` or the URL query).
 *
 * Names are Kombu's in camelCase; durations are milliseconds (Kombu's `visibility_timeout`,
 * `unacked_mutex_expire`, `socket_timeout` and `socket_connect_timeout` are seconds).
 */
export interface RedisTransportOptions {
  /** Separator of priority keys and binding members (Kombu `sep`, default `"\x06\x16"`). */
  sep?: string;
  /** Keep delivered messages in `unacked` until acknowledged (default true). */
  ackEmulation?: boolean;
  /** Hash of unacknowledged messages (default `unacked`). */
  unackedKey?: string;
  /** Sorted set of delivery times (default `unacked_index`). */
  unackedIndexKey?: string;
  /** Lock of the restore sweep (default `unacked_mutex`). */
  unackedMutexKey?: string;
  /** Milliseconds the sweep lock lives (Kombu: 300 s; default 300 000). */
  unackedMutexExpire?: number;
  /** Milliseconds before an unacknowledged message goes back to its queue (Kombu 3600 s). */
  visibilityTimeout?: number;
  /** Most messages one sweep restores (default: no limit, as in Kombu). */
  unackedRestoreLimit?: number;
  /** `true` for `/{db}.` (default), `false` for none, or a prefix of your own. */
  fanoutPrefix?: boolean | string;
  /** Fanout channels carry the routing key, `/{db}.exchange/key` (default true). */
  fanoutPatterns?: boolean;
  /** Prefix of every key and pub/sub channel (default empty). */
  globalKeyprefix?: string;
  /** Milliseconds a command may take (Kombu `socket_timeout`, seconds); default none. */
  socketTimeout?: number;
  /** Milliseconds to connect (Kombu `socket_connect_timeout`, seconds). */
  socketConnectTimeout?: number;
  /** `round_robin` (default), `sorted` or `priority`: the order queues are consumed in. */
  queueOrderStrategy?: "round_robin" | "sorted" | "priority";
  /** Priority steps (default `[0, 3, 6, 9]`); a priority is rounded down to a step. */
  prioritySteps?: number[];
  /** Sentinel: name of the monitored master (required for `sentinel://`). */
  masterName?: string;
  /** Sentinel: more sentinels to ask, as `host:port` strings. */
  sentinels?: string[];
  /** Sentinel: password of the sentinels themselves, when they have one. */
  sentinelPassword?: string;
  /** Cluster mode: all keys share one hash slot (needs a `{tag}` in `globalKeyprefix`). */
  cluster?: boolean;
  /** `resp` (wakame's own client, default) or `ioredis`. */
  driver?: "resp" | "ioredis";
  /** RESP version of the command connection: 2 (default) or 3 (`HELLO 3`). */
  protocol?: 2 | 3;
  /** CLIENT SETNAME of every connection (default `wakame`). */
  clientName?: string;
  /** How a waiting consumer learns of new messages: `tracking` (default) or `poll`. */
  wakeup?: "tracking" | "poll";
  /** Milliseconds between polls with `wakeup: "poll"` (default 100). */
  pollInterval?: number;
  /** Most fanout messages kept for one queue before the oldest is dropped (default 10 000). */
  fanoutBufferLimit?: number;
  /**
   * Milliseconds between PINGs of the pub/sub connection while consuming, so a connection that
   * died without a word is noticed and reopened (Kombu `health_check_interval`, 25 s; 0 = off).
   */
  healthCheckInterval?: number;
  /** Parser limits of the native driver (bulk strings <= 512 MiB by default). */
  parser?: RespParserOptions;
  /** Opens sockets (native driver); the runtime's by default. */
  socketFactory?: SocketFactory;
  /** Database number of `redis+socket://` (Kombu: `virtual_host`); default 0. */
  db?: number;
}

/** Resolved settings: every option of {@link RedisTransportOptions} with its default. */
export type RedisSettings =
  & Required<
    Omit<
      RedisTransportOptions,
      | "unackedRestoreLimit"
      | "socketConnectTimeout"
      | "masterName"
      | "sentinelPassword"
      | "parser"
      | "socketFactory"
      | "db"
    >
  >
  & Pick<
    RedisTransportOptions,
    | "unackedRestoreLimit"
    | "socketConnectTimeout"
    | "masterName"
    | "sentinelPassword"
    | "parser"
    | "socketFactory"
    | "db"
  >;

const IGNORED = "accepted from Celery configurations and ignored: ";

/** Every option of the Redis transport (with the virtual base's), declared once. */
export const REDIS_OPTIONS = declareOptions("Redis", {
  ...VIRTUAL_OPTIONS,
  visibilityTimeout: {
    kind: "duration",
    default: 3_600_000,
    min: 0,
    doc: "Time before an unacknowledged message goes back to its queue",
  },
  ackEmulation: {
    kind: "boolean",
    default: true,
    doc: "Keep delivered messages in `unacked` until acknowledged",
  },
  unackedKey: { kind: "string", default: "unacked", doc: "Hash of unacknowledged messages" },
  unackedIndexKey: {
    kind: "string",
    default: "unacked_index",
    doc: "Sorted set of delivery times",
  },
  unackedMutexKey: {
    kind: "string",
    default: "unacked_mutex",
    doc: "Lock of the restore sweep",
  },
  unackedMutexExpire: {
    kind: "duration",
    default: 300_000,
    min: 0,
    doc: "How long the sweep lock lives",
  },
  unackedRestoreLimit: {
    kind: "integer",
    min: 0,
    doc: "Most messages one sweep restores (default: no limit)",
  },
  fanoutPrefix: {
    kind: "string",
    default: true,
    doc: "`true` for `/{db}.`, `false` for none, or a prefix of your own",
    parse: (value, _spelling, fail): boolean | string => {
      if (typeof value === "boolean") return value;
      if (typeof value !== "string") return fail("true, false or a prefix");
      return /^(true|1)$/i.test(value) ? true : /^(false|0)$/i.test(value) ? false : value;
    },
  },
  fanoutPatterns: {
    kind: "boolean",
    default: true,
    doc: "Fanout channels carry the routing key, `/{db}.exchange/key`",
  },
  globalKeyprefix: { kind: "string", default: "", doc: "Prefix of every key and channel" },
  sep: {
    kind: "string",
    default: "\x06\x16",
    doc: "Separator of priority keys and binding members",
  },
  prioritySteps: {
    kind: "list",
    items: "integer",
    default: [0, 3, 6, 9],
    doc: "Priority steps; a priority is rounded down to a step",
  },
  socketTimeout: {
    kind: "duration",
    default: 0,
    min: 0,
    doc: "Time a command may take (0 = no limit)",
  },
  socketConnectTimeout: { kind: "duration", min: 0, doc: "Time connecting may take" },
  healthCheckInterval: {
    kind: "duration",
    default: 25_000,
    min: 0,
    doc: "PING of the pub/sub connection while consuming (0 = off)",
  },
  masterName: { kind: "string", doc: "Sentinel: name of the monitored master" },
  sentinels: {
    kind: "list",
    default: [],
    own: true,
    doc: "Sentinel: more sentinels to ask, as `host:port`",
  },
  sentinelPassword: {
    kind: "string",
    secret: true,
    own: true,
    doc: "Sentinel: password of the sentinels themselves",
  },
  cluster: {
    kind: "boolean",
    default: false,
    own: true,
    doc: "Cluster mode (needs a `{tag}` in `globalKeyprefix`)",
  },
  driver: {
    kind: "enum",
    values: ["resp", "ioredis"],
    default: "resp",
    own: true,
    doc: "wakame's own client, or ioredis",
  },
  protocol: {
    kind: "integer",
    default: 2,
    min: 2,
    max: 3,
    own: true,
    doc: "RESP version of the command connection",
  },
  clientName: {
    kind: "string",
    default: "wakame",
    own: true,
    doc: "CLIENT SETNAME of every connection",
  },
  wakeup: {
    kind: "enum",
    values: ["tracking", "poll"],
    default: "tracking",
    own: true,
    doc: "How a waiting consumer learns of new messages",
  },
  pollInterval: {
    kind: "duration",
    default: 100,
    min: 0,
    own: true,
    doc: "Wait between polls with `wakeup: poll`",
  },
  fanoutBufferLimit: {
    kind: "integer",
    default: 10_000,
    min: 0,
    own: true,
    doc: "Most fanout messages kept for one queue",
  },
  parser: { kind: "object", own: true, doc: "Parser limits of the native driver" },
  socketFactory: { kind: "function", own: true, doc: "Opens sockets (native driver)" },
  db: {
    kind: "integer",
    min: 0,
    own: true,
    aliases: ["virtual_host", "virtualHost"],
    doc: "Database of `redis+socket://` (also `virtual_host`)",
  },
  maxConnections: { kind: "integer", ignored: true, doc: IGNORED + "one command link each" },
  retryOnTimeout: { kind: "boolean", ignored: true, doc: IGNORED + "links are reopened anyway" },
  socketKeepalive: { kind: "boolean", ignored: true, doc: IGNORED + "the runtime's default" },
  socketKeepaliveOptions: { kind: "any", ignored: true, doc: IGNORED + "the runtime's default" },
  minOtherSentinels: { kind: "integer", ignored: true, doc: IGNORED + "any sentinel is asked" },
  sentinelKwargs: { kind: "any", ignored: true, doc: IGNORED + "use `sentinelPassword`" },
});

// The compiler checks that every option of the public interface is declared.
const _declared: Record<keyof RedisTransportOptions, OptionSpec> = REDIS_OPTIONS.options;

/**
 * Reads the transport options (either spelling) and the URL's query options.
 *
 * @param options the connection's `transportOptions`
 * @param query the URL's query options (Kombu's names and units)
 * @returns the settings with defaults filled in
 * @throws {ConfigurationError} for an unknown option or a wrong value
 */
export function readSettings(
  options: Record<string, unknown>,
  query: Readonly<Record<string, string>> = {},
): RedisSettings {
  const o = readOptions(REDIS_OPTIONS, { transportOptions: options, queryOptions: query });
  if (o.prioritySteps.length === 0) {
    throw new ConfigurationError('Cannot use Redis option "prioritySteps": expected integers >= 0');
  }
  const prioritySteps = [...new Set(o.prioritySteps)].sort((a, b) => a - b);
  if (prioritySteps[0] !== 0) prioritySteps.unshift(0);
  const settings: RedisSettings = {
    sep: o.sep,
    ackEmulation: o.ackEmulation,
    unackedKey: o.unackedKey,
    unackedIndexKey: o.unackedIndexKey,
    unackedMutexKey: o.unackedMutexKey,
    unackedMutexExpire: o.unackedMutexExpire,
    visibilityTimeout: o.visibilityTimeout,
    unackedRestoreLimit: o.unackedRestoreLimit,
    fanoutPrefix: o.fanoutPrefix,
    fanoutPatterns: o.fanoutPatterns,
    globalKeyprefix: o.globalKeyprefix,
    socketTimeout: o.socketTimeout,
    socketConnectTimeout: o.socketConnectTimeout,
    queueOrderStrategy: o.queueOrderStrategy,
    prioritySteps,
    masterName: o.masterName,
    sentinels: o.sentinels,
    sentinelPassword: o.sentinelPassword,
    cluster: o.cluster,
    driver: o.driver,
    protocol: o.protocol as 2 | 3,
    clientName: o.clientName,
    wakeup: o.wakeup,
    pollInterval: o.pollInterval,
    fanoutBufferLimit: o.fanoutBufferLimit,
    healthCheckInterval: o.healthCheckInterval,
    parser: o.parser as RespParserOptions | undefined,
    socketFactory: o.socketFactory as SocketFactory | undefined,
    db: o.db,
  };
  if (settings.cluster && !/\{[^}]+\}/.test(settings.globalKeyprefix)) {
    throw new ConfigurationError(
      'Cannot use Redis cluster mode: "globalKeyprefix" needs a hash tag such as "{wakame}." so ' +
        "that every key of the transport lives in one hash slot",
    );
  }
  return settings;
}
