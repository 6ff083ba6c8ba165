/**
 * The `amqplib://` transport: RabbitMQ through the npm package `amqplib`, a fallback for the
 * native AMQP transport (Kombu's `pyamqp` / `librabbitmq` choice, in TypeScript).
 *
 * It runs where `node:net` runs (Node, Bun, Deno); not on Cloudflare Workers.
 *
 * URL: `amqplib://user:password@host:5672/vhost` (`amqplibs://` or `ssl: true` for TLS, port
 * 5671 by default). The virtual host is the URL path (`/` when empty; `//` in the URL means
 * `/`).
 *
 * Options (declared once in `AMQPLIB_OPTIONS`; camelCase in `transportOptions` or Kombu's
 * snake_case names; in the URL query Kombu's names):
 * - `confirmPublish` (boolean): open every channel in publisher-confirm mode, so each publish
 *   resolves once the broker has the message (Kombu's `confirm_publish`).
 * - `frameMax` (number): largest frame to negotiate, in bytes.
 * py-amqp's `read_timeout`, `write_timeout`, `socket_settings`, `locale` and Kombu's
 * `max_retries` / `interval_*` are accepted and ignored (logged once).
 *
 * Heartbeat: `heartbeat` in seconds (0 turns it off), passed to amqplib, which closes the
 * connection when the broker stays silent. TLS: `ssl: true` or TLS options (`ca`, `cert`,
 * `key`, `serverName`); certificates and host names are verified unless
 * `rejectUnauthorized: false`.
 *
 * Capabilities: direct, topic, fanout and headers exchanges; native priority (with
 * `x-max-priority`); per-message and per-queue TTL and queue arguments; the redelivered flag;
 * publisher confirms; mandatory returns; heartbeats; persistence; exclusive queues and
 * consumers; exchange-to-exchange bindings; delivery across processes; FIFO order.
 *
 * Publisher confirms on an open channel: amqplib starts confirm mode only when it opens a
 * channel, so `confirmSelect()` moves the wakame channel onto a new amqplib confirm channel (it
 * refuses once consumers or unacknowledged deliveries use the old one).
 *
 * @example
 * ```ts ignore
 * import { AmqplibTransport } from "@wakame/wakame/amqplib";
 * const connection = await AmqplibTransport.connect({
 *   transport: "amqplib", hostname: "127.0.0.1", port: 5672, userid: "guest",
 *   password: "guest", virtualHost: "/", ssl: false, heartbeat: 0, connectTimeout: 4000,
 *   transportOptions: {},
 * });
 * const channel = await connection.createChannel();
 * await channel.queueDeclare({ name: "video" });
 * await connection.close();
 * ```
 *
 * @module
 */

import type * as Amqplib from "amqplib";
import { ConnectionError } from "../../src/errors.ts";
import { readOptions } from "../../src/options/declare.ts";
import { readTlsFiles } from "../../src/runtime/_tls_files.ts";
import { AMQPLIB_OPTIONS } from "../amqp/options.ts";
import type {
  Capabilities,
  ConnectionParams,
  TlsOptions,
  Transport,
  TransportConnection,
} from "../../src/transport.ts";
import { AmqplibConnection } from "./_connection.ts";
import { replyText } from "./_convert.ts";
import { RABBITMQ_CAPABILITIES, RABBITMQ_DEFAULT_PARAMS } from "../_rabbitmq.ts";
import { registerTransport } from "../../src/registry.ts";
import { importOptional } from "../../src/_import.ts";

/** The npm package this transport drives (an optional peer dependency). */
const AMQPLIB = { name: "amqplib", range: "^2", feature: "the amqplib:// transport" } as const;

/** What RabbitMQ offers through amqplib. */
export const amqplibCapabilities: Capabilities = RABBITMQ_CAPABILITIES;

function tlsSettings(ssl: boolean | TlsOptions): TlsOptions | undefined {
  if (ssl === false) return undefined;
  return ssl === true ? {} : ssl;
}

/**
 * Connects to RabbitMQ with amqplib.
 *
 * @param params where and how to connect (heartbeat in seconds, connect timeout in ms)
 * @returns the open connection
 * @throws {ConnectionError} when connecting, logging in or the TLS handshake fails, times out
 *   or is aborted
 * @throws {ConfigurationError} for an invalid transport option
 */
async function connect(params: ConnectionParams): Promise<TransportConnection> {
  const tls = tlsSettings(await readTlsFiles(params.ssl));
  const port = params.port ?? (tls === undefined ? 5672 : 5671);
  const virtualHost = params.virtualHost === "" ? "/" : params.virtualHost;
  const where = `${params.hostname}:${port}/${encodeURIComponent(virtualHost)}`;
  const { frameMax, confirmPublish } = readOptions(AMQPLIB_OPTIONS, params);
  const signal = params.signal;
  if (signal?.aborted) {
    throw new ConnectionError(`Cannot connect to ${where}: aborted`, { cause: signal.reason });
  }
  const amqplib = await importOptional<typeof Amqplib & { default?: typeof Amqplib }>(AMQPLIB);
  const socketOptions: Record<string, unknown> = { noDelay: true };
  if (params.connectTimeout > 0) socketOptions.timeout = params.connectTimeout;
  if (tls !== undefined) {
    socketOptions.rejectUnauthorized = tls.rejectUnauthorized ?? true;
    if (tls.ca !== undefined) socketOptions.ca = tls.ca;
    if (tls.cert !== undefined) socketOptions.cert = tls.cert;
    if (tls.key !== undefined) socketOptions.key = tls.key;
    if (tls.serverName !== undefined) socketOptions.servername = tls.serverName;
  }
  const attempt = (amqplib.default ?? amqplib).connect(
    {
      protocol: tls === undefined ? "amqp" : "amqps",
      hostname: params.hostname,
      port,
      // Kombu: an empty user or password (`amqp://:@host//`) falls back to guest too.
      username: params.userid || "guest",
      password: params.password || "guest",
      // amqplib unescapes the vhost, so "/" travels as "%2F".
      vhost: encodeURIComponent(virtualHost),
      heartbeat: Math.max(0, Math.round(params.heartbeat)),
      ...(frameMax === undefined ? {} : { frameMax }),
    },
    socketOptions,
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () =>
      reject(new ConnectionError(`Cannot connect to ${where}: aborted`, { cause: signal?.reason }));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    const model = await Promise.race([attempt, aborted]);
    return new AmqplibConnection(model, where, confirmPublish);
  } catch (error) {
    // A connection that still opens after an abort must not leak.
    attempt.then((late) => late.close(), () => undefined).catch(() => undefined);
    if (error instanceof ConnectionError) throw error;
    throw new ConnectionError(`Cannot connect to ${where}: ${replyText(error)}`, { cause: error });
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * The amqplib transport (register it under `amqplib`).
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { AmqplibTransport } from "@wakame/wakame/amqplib";
 * assert.ok(AmqplibTransport.capabilities.confirms);
 * ```
 */
export const AmqplibTransport: Transport = Object.freeze({
  name: "amqplib",
  defaultPort: 5672,
  defaultConnectionParams: RABBITMQ_DEFAULT_PARAMS,
  capabilities: amqplibCapabilities,
  connect,
});

// Importing this module makes its URL schemes resolve to it (also in bundles, where the
// registry cannot load it by itself).
registerTransport(["amqplib", "amqplibs"], AmqplibTransport);
