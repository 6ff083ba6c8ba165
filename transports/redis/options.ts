/**
 * Kombu's Redis transport options in camelCase, with wakame's defaults and unit conversions
 * (Kombu's seconds become milliseconds here).
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import type { SocketFactory } from "../../src/socket.ts";
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
  >;

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === "") return fallback;
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "1" || value === "yes" || value === 1) return true;
  if (value === "false" || value === "0" || value === "no" || value === 0) return false;
  throw new ConfigurationError(`Cannot use Redis option "${name}": expected a boolean`);
}

function num(name: string, value: unknown, fallback: number): number;
function num(name: string, value: unknown, fallback: undefined): number | undefined;
function num(name: string, value: unknown, fallback: number | undefined): number | undefined {
  if (value === undefined || value === null || value === "") return fallback;
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) {
    throw new ConfigurationError(`Cannot use Redis option "${name}": expected a number >= 0`);
  }
  return n;
}

function str(name: string, value: unknown, fallback: string): string {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "string") {
    throw new ConfigurationError(`Cannot use Redis option "${name}": expected a string`);
  }
  return value;
}

function oneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined || value === null || value === "") return fallback;
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) {
    return value as T;
  }
  throw new ConfigurationError(
    `Cannot use Redis option "${name}": expected one of ${allowed.map((a) => `"${a}"`).join(", ")}`,
  );
}

/**
 * Reads the transport options (camelCase; query-string values arrive as text).
 *
 * @param options the merged `transportOptions`
 * @returns the settings with defaults filled in
 * @throws {ConfigurationError} when an option has the wrong type
 */
export function readSettings(options: Record<string, unknown>): RedisSettings {
  const o = options as Record<string, unknown> & RedisTransportOptions;
  let steps = o.prioritySteps as unknown;
  if (typeof steps === "string") steps = steps.split(",").map((s) => Number(s.trim()));
  if (steps === undefined) steps = [0, 3, 6, 9];
  if (
    !Array.isArray(steps) || steps.length === 0 ||
    !steps.every((s) => Number.isInteger(s) && s >= 0)
  ) {
    throw new ConfigurationError(
      'Cannot use Redis option "prioritySteps": expected integers >= 0',
    );
  }
  const prioritySteps = [...new Set(steps as number[])].sort((a, b) => a - b);
  if (prioritySteps[0] !== 0) prioritySteps.unshift(0);
  let fanoutPrefix: boolean | string = true;
  if (typeof o.fanoutPrefix === "string" && !["true", "false", "1", "0"].includes(o.fanoutPrefix)) {
    fanoutPrefix = o.fanoutPrefix;
  } else {
    fanoutPrefix = bool("fanoutPrefix", o.fanoutPrefix, true);
  }
  let sentinels = o.sentinels as unknown;
  if (typeof sentinels === "string") sentinels = sentinels.split(/[;,]/).filter(Boolean);
  const protocol = num("protocol", o.protocol, 2);
  if (protocol !== 2 && protocol !== 3) {
    throw new ConfigurationError('Cannot use Redis option "protocol": expected 2 or 3');
  }
  const settings: RedisSettings = {
    sep: str("sep", o.sep, "\x06\x16"),
    ackEmulation: bool("ackEmulation", o.ackEmulation, true),
    unackedKey: str("unackedKey", o.unackedKey, "unacked"),
    unackedIndexKey: str("unackedIndexKey", o.unackedIndexKey, "unacked_index"),
    unackedMutexKey: str("unackedMutexKey", o.unackedMutexKey, "unacked_mutex"),
    unackedMutexExpire: num("unackedMutexExpire", o.unackedMutexExpire, 300_000),
    visibilityTimeout: num("visibilityTimeout", o.visibilityTimeout, 3_600_000),
    unackedRestoreLimit: num("unackedRestoreLimit", o.unackedRestoreLimit, undefined),
    fanoutPrefix,
    fanoutPatterns: bool("fanoutPatterns", o.fanoutPatterns, true),
    globalKeyprefix: str("globalKeyprefix", o.globalKeyprefix, ""),
    socketTimeout: num("socketTimeout", o.socketTimeout, 0),
    socketConnectTimeout: num("socketConnectTimeout", o.socketConnectTimeout, undefined),
    queueOrderStrategy: oneOf(
      "queueOrderStrategy",
      o.queueOrderStrategy,
      ["round_robin", "sorted", "priority"] as const,
      "round_robin",
    ),
    prioritySteps,
    masterName: o.masterName === undefined ? undefined : str("masterName", o.masterName, ""),
    sentinels: Array.isArray(sentinels) ? sentinels.map(String) : [],
    sentinelPassword: o.sentinelPassword === undefined
      ? undefined
      : str("sentinelPassword", o.sentinelPassword, ""),
    cluster: bool("cluster", o.cluster, false),
    driver: oneOf("driver", o.driver, ["resp", "ioredis"] as const, "resp"),
    protocol,
    clientName: str("clientName", o.clientName, "wakame"),
    wakeup: oneOf("wakeup", o.wakeup, ["tracking", "poll"] as const, "tracking"),
    pollInterval: num("pollInterval", o.pollInterval, 100),
    fanoutBufferLimit: num("fanoutBufferLimit", o.fanoutBufferLimit, 10_000),
    healthCheckInterval: num("healthCheckInterval", o.healthCheckInterval, 25_000),
    parser: o.parser,
    socketFactory: typeof o.socketFactory === "function" ? o.socketFactory : undefined,
  };
  if (settings.cluster && !/\{[^}]+\}/.test(settings.globalKeyprefix)) {
    throw new ConfigurationError(
      'Cannot use Redis cluster mode: "globalKeyprefix" needs a hash tag such as "{wakame}." so ' +
        "that every key of the transport lives in one hash slot",
    );
  }
  return settings;
}
