/**
 * The options of an AMQP connection: credentials, tuning, limits.
 *
 * @module
 */

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
