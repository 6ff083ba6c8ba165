/**
 * The native AMQP 0-9-1 transport: wakame's own client for RabbitMQ, on the runtime's sockets.
 *
 * URL: `amqp://user:password@host:5672/vhost` (Kombu's `amqp://guest:guest@localhost:5672//`
 * names the vhost `/`), `amqps://` for TLS on port 5671 (certificate and host name verified
 * unless `ssl` says otherwise). Also registered for Kombu's `pyamqp://` and `librabbitmq://`.
 *
 * Connection parameters: `heartbeat` in seconds as in Kombu (0 = off), `connectTimeout` in
 * milliseconds, `ssl` (true or {@link TlsOptions}).
 *
 * Transport options (declared once in `AMQP_OPTIONS`; camelCase in `transportOptions`, or
 * py-amqp's / Kombu's snake_case names with durations in seconds, as in a Celery
 * `broker_transport_options`; in the URL query Kombu's names and units):
 * | option | meaning | default |
 * | --- | --- | --- |
 * | `frameMax` | largest frame asked for, bytes | 131072 |
 * | `channelMax` | most channels asked for | 2047 |
 * | `maxMessageSize` | largest incoming body accepted, bytes; a bigger one fails the connection | 128 MiB |
 * | `authMechanism` | `PLAIN`, `AMQPLAIN` or `EXTERNAL` (client certificate); Kombu's `login_method` | PLAIN |
 * | `confirmPublish` | every channel in confirm mode: a publish resolves once the broker has it (Kombu's `confirm_publish`) | false |
 * | `connectionName` | shown by `rabbitmqctl list_connections client_properties` | none |
 * | `clientProperties` | extra client properties | none |
 * | `connectTimeout` | time connecting may take, over the connection's | the connection's |
 * | `socketFactory` | a {@link SocketFactory} to connect with | the runtime's |
 *
 * py-amqp's `read_timeout`, `write_timeout`, `socket_settings`, `locale` and Kombu's
 * `max_retries` / `interval_*` are accepted and ignored (logged once).
 *
 * Capabilities: every exchange type, native priority (x-max-priority), per-message and per-queue
 * TTL and limits, the redelivered flag, publisher confirms, mandatory returns, heartbeats,
 * persistence, exclusive queues and consumers, exchange-to-exchange bindings, cross-process
 * fanout and FIFO queues.
 *
 * @example
 * ```ts ignore
 * import { AmqpTransport } from "./mod.ts";
 * const conn = await AmqpTransport.connect({
 *   transport: "amqp", hostname: "127.0.0.1", port: undefined, userid: "guest",
 *   password: "guest", virtualHost: "/", url: "amqp://127.0.0.1", ssl: false, heartbeat: 60, connectTimeout: 4000,
 *   transportOptions: { connectionName: "example" },
 * });
 * const channel = await conn.createChannel();
 * await channel.queueDeclare({ name: "example", autoDelete: true });
 * await conn.close();
 * ```
 *
 * @module
 */

import { ConnectionError, KombuError } from "../../src/errors.ts";
import { connectSocket, guardSocketFactory } from "../../src/runtime/mod.ts";
import type { SocketFactory } from "../../src/socket.ts";
import type {
  Capabilities,
  ConnectionParams,
  FieldTable,
  TlsOptions,
  Transport,
} from "../../src/transport.ts";
import { AmqpConnection } from "./connection.ts";
import { AMQP_OPTIONS, type AmqpConnectionOptions } from "./options.ts";
import { readOptions } from "../../src/options/declare.ts";

export { AmqpConnection } from "./connection.ts";
export type { AmqpConnectionOptions, AuthMechanism } from "./options.ts";
export { AmqpChannel } from "./channel.ts";
export { Decoder, Writer } from "./codec/buffer.ts";
export type { ArgType, ArgValue, MethodArgs, MethodDef } from "./codec/methods.ts";
export type {
  BasicPublishOptions,
  Capabilities,
  Channel,
  ConnectionParams,
  ConsumeHandlers,
  ConsumeOptions,
  Delivery,
  DeliveryTag,
  ExchangeDeclaration,
  ExchangeType,
  FieldTable,
  FieldValue,
  MessageProperties,
  OutgoingMessage,
  QosOptions,
  QueueDeclaration,
  QueueDeclareOk,
  ReturnedMessage,
  TlsOptions,
  Transport,
  TransportConnection,
  TransportEvent,
} from "../../src/transport.ts";
import { RABBITMQ_CAPABILITIES, RABBITMQ_DEFAULT_PARAMS } from "../_rabbitmq.ts";
import { registerTransport } from "../../src/registry.ts";
export type { Socket, SocketFactory, SocketOptions } from "../../src/socket.ts";
export type { Body } from "../../src/body.ts";

/** Port of `amqp://`. */
export const AMQP_PORT = 5672;
/** Port of `amqps://`. */
export const AMQPS_PORT = 5671;

/** What the native AMQP transport can do (all of it: RabbitMQ is the reference broker). */
export const AMQP_CAPABILITIES: Capabilities = RABBITMQ_CAPABILITIES;

/**
 * Turns connection parameters into the options of {@link AmqpConnection}.
 *
 * @param params the parsed URL and options
 * @returns the connection options and where to connect
 * @throws {ConfigurationError} for an invalid option
 */
export function amqpOptions(
  params: ConnectionParams,
): AmqpConnectionOptions & {
  port: number;
  tls: boolean | TlsOptions;
  factory: SocketFactory;
  connectTimeout: number;
} {
  const t = readOptions(AMQP_OPTIONS, params);
  const tls = params.ssl ?? false;
  const port = params.port ?? (tls === false ? AMQP_PORT : AMQPS_PORT);
  const custom = t.socketFactory as SocketFactory | undefined;
  const connectTimeout = t.connectTimeout ?? params.connectTimeout;
  return {
    // Kombu: an empty user or password (`amqp://:@host//`) falls back to guest too.
    username: params.userid || "guest",
    password: params.password || "guest",
    virtualHost: params.virtualHost === "" || params.virtualHost === undefined
      ? "/"
      : params.virtualHost,
    heartbeat: params.heartbeat ?? 0,
    frameMax: t.frameMax,
    channelMax: t.channelMax,
    maxMessageSize: t.maxMessageSize,
    authMechanism: t.authMechanism,
    connectionName: t.connectionName,
    confirmPublish: t.confirmPublish,
    clientProperties: t.clientProperties as FieldTable | undefined,
    handshakeTimeout: connectTimeout > 0 ? connectTimeout : undefined,
    connectTimeout,
    peer: `${params.hostname}:${port}`,
    port,
    tls,
    factory: custom === undefined ? connectSocket : guardSocketFactory(custom as SocketFactory),
  };
}

/**
 * The native AMQP 0-9-1 transport (Kombu's `pyamqp` transport).
 *
 * @example
 * ```ts ignore
 * import { Connection } from "../../mod.ts";
 * const conn = new Connection("amqp://guest:guest@127.0.0.1:5672//");
 * ```
 */
export const AmqpTransport: Transport = {
  name: "amqp",
  defaultPort: AMQP_PORT,
  defaultConnectionParams: RABBITMQ_DEFAULT_PARAMS,
  capabilities: AMQP_CAPABILITIES,
  async connect(params: ConnectionParams): Promise<AmqpConnection> {
    const options = amqpOptions(params);
    const socket = await options.factory({
      hostname: params.hostname,
      port: options.port,
      tls: options.tls,
      timeout: options.connectTimeout > 0 ? options.connectTimeout : undefined,
      signal: params.signal,
      noDelay: true,
    });
    const conn = new AmqpConnection(socket, options);
    const onAbort = (): void => void conn.close();
    params.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await conn.handshake();
      return conn;
    } catch (error) {
      await conn.close().catch(() => undefined);
      if (error instanceof KombuError) throw error;
      throw new ConnectionError(`Cannot open AMQP connection to ${options.peer}`, { cause: error });
    } finally {
      params.signal?.removeEventListener("abort", onAbort);
    }
  },
};

// Importing this module makes its URL schemes resolve to it (also in bundles, where the
// registry cannot load it by itself).
registerTransport(["amqp", "amqps", "pyamqp", "librabbitmq"], AmqpTransport);
