/**
 * The options of an AMQP connection: credentials, tuning, limits; the transport options of
 * `amqp://` and `amqplib://`, declared once ({@link AMQP_OPTIONS}, {@link AMQPLIB_OPTIONS}).
 *
 * @module
 */

import { CONNECT_RETRY_OPTIONS } from "../../src/options/common.ts";
import { declareOptions, type OptionSpec } from "../../src/options/declare.ts";
import type { FieldTable } from "../../src/transport.ts";

/** SASL mechanisms the client speaks. */
export type AuthMechanism = "PLAIN" | "AMQPLAIN" | "EXTERNAL";

/** Default largest frame asked for. */
export const DEFAULT_FRAME_MAX = 131072;
/** Default most channels asked for. */
export const DEFAULT_CHANNEL_MAX = 2047;

/** Everything needed to open an AMQP connection over a connected socket. */
export interface AmqpConnectionOptions {
  /** Login name (default `guest`). */
  username?: string;
  /** Password (default `guest`); never logged nor put in an error. */
  password?: string;
  /** Virtual host (default `/`). */
  virtualHost?: string;
  /** Heartbeat interval asked for, in seconds as in Kombu (0 = off, the default). */
  heartbeat?: number;
  /** Largest frame asked for, in bytes (default 131072, also for 0; the broker may lower it). */
  frameMax?: number;
  /** Most channels asked for (default 2047; the broker may lower it). */
  channelMax?: number;
  /** Largest incoming message body accepted, in bytes (default 128 MiB). */
  maxMessageSize?: number;
  /** SASL mechanism (default PLAIN, else AMQPLAIN when the broker lacks PLAIN). */
  authMechanism?: AuthMechanism;
  /** Name shown by the broker's management tools (client property `connection_name`). */
  connectionName?: string;
  /** Extra client properties. */
  clientProperties?: FieldTable;
  /**
   * Put every channel in publisher-confirm mode when it opens (Kombu's `confirm_publish`
   * transport option): each publish then resolves once the broker has the message.
   */
  confirmPublish?: boolean;
  /** Milliseconds the handshake may take (default 30000). */
  handshakeTimeout?: number;
  /** Used in error messages, such as `127.0.0.1:5672`. */
  peer?: string;
}

/** Default largest incoming message body: 128 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 128 * 1024 * 1024;

const IGNORED = "accepted from Celery configurations and ignored: ";

/** The options py-amqp takes that wakame's AMQP transports accept and ignore. */
export const PYAMQP_IGNORED_OPTIONS = {
  readTimeout: {
    kind: "duration",
    ignored: true,
    doc: IGNORED + "heartbeats find a dead connection",
  },
  writeTimeout: {
    kind: "duration",
    ignored: true,
    doc: IGNORED + "heartbeats find a dead connection",
  },
  socketSettings: { kind: "any", ignored: true, doc: IGNORED + "the runtime's socket defaults" },
  locale: { kind: "string", ignored: true, doc: IGNORED + "always en_US" },
  ...CONNECT_RETRY_OPTIONS,
} as const satisfies Record<string, OptionSpec>;

const FRAME_MAX = {
  kind: "integer",
  min: 0,
  doc: "Largest frame asked for, bytes (the broker may lower it)",
} as const satisfies OptionSpec;

const CONFIRM_PUBLISH = {
  kind: "boolean",
  default: false,
  doc: "Every channel in confirm mode: a publish resolves once the broker has it",
} as const satisfies OptionSpec;

/** Every option of the native AMQP transport, declared once. */
export const AMQP_OPTIONS = declareOptions("AMQP", {
  frameMax: FRAME_MAX,
  channelMax: {
    kind: "integer",
    min: 0,
    doc: "Most channels asked for (the broker may lower it)",
  },
  maxMessageSize: {
    kind: "integer",
    default: DEFAULT_MAX_MESSAGE_SIZE,
    min: 0,
    own: true,
    doc: "Largest incoming body accepted, bytes; a bigger one fails the connection",
  },
  authMechanism: {
    kind: "enum",
    values: ["PLAIN", "AMQPLAIN", "EXTERNAL"],
    kombu: "login_method",
    aliases: ["loginMethod"],
    doc: "SASL mechanism (default PLAIN, else AMQPLAIN); EXTERNAL for a client certificate",
  },
  confirmPublish: CONFIRM_PUBLISH,
  connectionName: {
    kind: "string",
    own: true,
    doc: "Shown by `rabbitmqctl list_connections client_properties`",
  },
  clientProperties: { kind: "object", doc: "Extra client properties" },
  connectTimeout: {
    kind: "duration",
    min: 0,
    doc: "Time connecting may take (over the connection's `connectTimeout`)",
  },
  socketFactory: { kind: "function", own: true, doc: "Opens the socket (a `SocketFactory`)" },
  ...PYAMQP_IGNORED_OPTIONS,
});

/** Every option of the amqplib transport, declared once. */
export const AMQPLIB_OPTIONS = declareOptions("amqplib", {
  frameMax: FRAME_MAX,
  confirmPublish: CONFIRM_PUBLISH,
  ...PYAMQP_IGNORED_OPTIONS,
});
