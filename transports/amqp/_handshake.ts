/**
 * The pieces of the AMQP connection handshake that are plain functions: the SASL mechanism
 * choice and response, the client properties, and the tune negotiation.
 *
 * Internal to the native AMQP transport.
 *
 * @module
 */

import { ConfigurationError, ConnectionError, ProtocolError } from "../../src/errors.ts";
import type { FieldTable } from "../../src/transport.ts";
import { Writer } from "./codec/buffer.ts";
import { encodeTable } from "./codec/field_table.ts";
import { FRAME_MIN_SIZE } from "./codec/frame.ts";
import type { MethodArgs } from "./codec/methods.ts";
import { type AmqpConnectionOptions, DEFAULT_CHANNEL_MAX, DEFAULT_FRAME_MAX } from "./options.ts";

/** The negotiated limits. */
export interface Tuning {
  channelMax: number;
  frameMax: number;
  heartbeat: number;
}

function negotiate(server: number, client: number): number {
  if (server === 0) return client;
  if (client === 0) return server;
  return Math.min(server, client);
}

/**
 * Checks connection.start and builds connection.start-ok.
 *
 * @param args connection.start's arguments
 * @param o the connection options
 * @param peer for error messages
 * @returns connection.start-ok's arguments
 * @throws {ProtocolError} for another protocol version
 * @throws {ConnectionError} when the broker does not offer the mechanism
 */
export function startOk(args: MethodArgs, o: AmqpConnectionOptions, peer: string): MethodArgs {
  if (args.versionMajor !== 0 || args.versionMinor !== 9) {
    throw new ProtocolError(
      `Cannot open AMQP connection: the broker speaks ${args.versionMajor}-${args.versionMinor}, not 0-9`,
    );
  }
  const offered = String(args.mechanisms).split(" ").filter((s) => s.length > 0);
  const mechanism = o.authMechanism ??
    (offered.includes("PLAIN") || !offered.includes("AMQPLAIN") ? "PLAIN" : "AMQPLAIN");
  if (!offered.includes(mechanism)) {
    throw new ConnectionError(
      `Cannot log in to ${peer}: the broker offers "${offered.join(" ")}", not "${mechanism}"`,
    );
  }
  return {
    clientProperties: clientProperties(o),
    mechanism,
    response: saslResponse(mechanism, o),
    locale: "en_US",
  };
}

/**
 * Negotiates channel_max, frame_max and the heartbeat from connection.tune.
 *
 * @param args connection.tune's arguments
 * @param o the connection options
 * @returns the values for connection.tune-ok
 */
export function tune(args: MethodArgs, o: AmqpConnectionOptions): Tuning {
  const channelMax = negotiate(args.channelMax as number, o.channelMax ?? DEFAULT_CHANNEL_MAX) ||
    65535;
  const frameMax = Math.max(
    FRAME_MIN_SIZE,
    negotiate(args.frameMax as number, o.frameMax || DEFAULT_FRAME_MAX),
  );
  const asked = Math.max(0, Math.floor(o.heartbeat ?? 0));
  const heartbeat = asked === 0 ? 0 : negotiate(args.heartbeat as number, asked);
  return { channelMax, frameMax, heartbeat };
}

function clientProperties(o: AmqpConnectionOptions): FieldTable {
  const props: FieldTable = {
    product: "wakame",
    platform: "TypeScript",
    information: "https://jsr.io/@wakame/wakame",
    capabilities: {
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      "basic.nack": true,
      consumer_cancel_notify: true,
      "connection.blocked": true,
      authentication_failure_close: true,
      per_consumer_qos: true,
    },
    ...o.clientProperties,
  };
  if (o.connectionName !== undefined) props.connection_name = o.connectionName;
  return props;
}

function saslResponse(mechanism: string, o: AmqpConnectionOptions): Uint8Array {
  const user = o.username ?? "guest";
  const pass = o.password ?? "guest";
  const w = new Writer(256);
  if (mechanism === "PLAIN") {
    w.ensure(1);
    w.u8(0);
    w.utf8(user);
    w.ensure(1);
    w.u8(0);
    w.utf8(pass);
  } else if (mechanism === "AMQPLAIN") {
    encodeTable(w, { LOGIN: user, PASSWORD: pass });
    return w.buf.slice(4, w.pos);
  } else if (mechanism !== "EXTERNAL") {
    throw new ConfigurationError(`Cannot log in with mechanism "${mechanism}": not supported`);
  }
  return w.buf.slice(0, w.pos);
}
