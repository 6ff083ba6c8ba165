/**
 * Every method of AMQP 0-9-1 with RabbitMQ's extensions (confirm.select, basic.nack,
 * exchange.bind / unbind, connection.blocked / unblocked, connection.update-secret, server-sent
 * basic.cancel), described once as data and encoded / decoded from that description.
 *
 * The hot methods (basic.publish, basic.ack / reject / nack) also have hand-written encoders in
 * `basic_frames.ts`, and basic.deliver a hand-written reader in `../_content.ts`; their ids are
 * named in `ids.ts`. The tests check those against this table.
 *
 * @module
 */

import { ProtocolError } from "../../../src/errors.ts";
import type { FieldTable } from "../../../src/transport.ts";
import type { Decoder, Writer } from "./buffer.ts";
import { decodeTable, encodeTable } from "./field_table.ts";
import { FRAME_END, FRAME_METHOD } from "./frame.ts";

/** The domain of a method argument. */
export type ArgType =
  | "octet"
  | "short"
  | "long"
  | "longlong"
  | "shortstr"
  | "longstr"
  | "bit"
  | "table"
  | "timestamp";

/** The value of one method argument. */
export type ArgValue = number | string | boolean | FieldTable | Uint8Array;

/** The arguments of a method, by camelCase name. */
export type MethodArgs = Record<string, ArgValue>;

/** One method of the protocol. */
export interface MethodDef {
  /** Dotted name, such as `basic.publish`. */
  readonly name: string;
  /** Class id. */
  readonly classId: number;
  /** Method id. */
  readonly methodId: number;
  /** Arguments in wire order. */
  readonly args: readonly (readonly [string, ArgType])[];
}

/** A decoded method. */
export interface Method {
  /** Its definition. */
  readonly def: MethodDef;
  /** Its arguments. */
  readonly args: MethodArgs;
}

type A = readonly [string, ArgType];
const closeArgs: A[] = [
  ["replyCode", "short"],
  ["replyText", "shortstr"],
  ["classId", "short"],
  ["methodId", "short"],
];
const bindArgs: A[] = [
  ["reserved1", "short"],
  ["destination", "shortstr"],
  ["source", "shortstr"],
  ["routingKey", "shortstr"],
  ["noWait", "bit"],
  ["arguments", "table"],
];
const tuneArgs: A[] = [["channelMax", "short"], ["frameMax", "long"], ["heartbeat", "short"]];

function m(name: string, classId: number, methodId: number, args: A[] = []): MethodDef {
  return { name, classId, methodId, args };
}

/** Every method, by dotted name. */
export const METHODS = {
  connectionStart: m("connection.start", 10, 10, [
    ["versionMajor", "octet"],
    ["versionMinor", "octet"],
    ["serverProperties", "table"],
    ["mechanisms", "longstr"],
    ["locales", "longstr"],
  ]),
  connectionStartOk: m("connection.start-ok", 10, 11, [
    ["clientProperties", "table"],
    ["mechanism", "shortstr"],
    ["response", "longstr"],
    ["locale", "shortstr"],
  ]),
  connectionSecure: m("connection.secure", 10, 20, [["challenge", "longstr"]]),
  connectionSecureOk: m("connection.secure-ok", 10, 21, [["response", "longstr"]]),
  connectionTune: m("connection.tune", 10, 30, tuneArgs),
  connectionTuneOk: m("connection.tune-ok", 10, 31, tuneArgs),
  connectionOpen: m("connection.open", 10, 40, [
    ["virtualHost", "shortstr"],
    ["reserved1", "shortstr"],
    ["reserved2", "bit"],
  ]),
  connectionOpenOk: m("connection.open-ok", 10, 41, [["reserved1", "shortstr"]]),
  connectionClose: m("connection.close", 10, 50, closeArgs),
  connectionCloseOk: m("connection.close-ok", 10, 51),
  connectionBlocked: m("connection.blocked", 10, 60, [["reason", "shortstr"]]),
  connectionUnblocked: m("connection.unblocked", 10, 61),
  connectionUpdateSecret: m("connection.update-secret", 10, 70, [
    ["newSecret", "longstr"],
    ["reason", "shortstr"],
  ]),
  connectionUpdateSecretOk: m("connection.update-secret-ok", 10, 71),

  channelOpen: m("channel.open", 20, 10, [["reserved1", "shortstr"]]),
  channelOpenOk: m("channel.open-ok", 20, 11, [["reserved1", "longstr"]]),
  channelFlow: m("channel.flow", 20, 20, [["active", "bit"]]),
  channelFlowOk: m("channel.flow-ok", 20, 21, [["active", "bit"]]),
  channelClose: m("channel.close", 20, 40, closeArgs),
  channelCloseOk: m("channel.close-ok", 20, 41),

  exchangeDeclare: m("exchange.declare", 40, 10, [
    ["reserved1", "short"],
    ["exchange", "shortstr"],
    ["type", "shortstr"],
    ["passive", "bit"],
    ["durable", "bit"],
    ["autoDelete", "bit"],
    ["internal", "bit"],
    ["noWait", "bit"],
    ["arguments", "table"],
  ]),
  exchangeDeclareOk: m("exchange.declare-ok", 40, 11),
  exchangeDelete: m("exchange.delete", 40, 20, [
    ["reserved1", "short"],
    ["exchange", "shortstr"],
    ["ifUnused", "bit"],
    ["noWait", "bit"],
  ]),
  exchangeDeleteOk: m("exchange.delete-ok", 40, 21),
  exchangeBind: m("exchange.bind", 40, 30, bindArgs),
  exchangeBindOk: m("exchange.bind-ok", 40, 31),
  exchangeUnbind: m("exchange.unbind", 40, 40, bindArgs),
  exchangeUnbindOk: m("exchange.unbind-ok", 40, 51),

  queueDeclare: m("queue.declare", 50, 10, [
    ["reserved1", "short"],
    ["queue", "shortstr"],
    ["passive", "bit"],
    ["durable", "bit"],
    ["exclusive", "bit"],
    ["autoDelete", "bit"],
    ["noWait", "bit"],
    ["arguments", "table"],
  ]),
  queueDeclareOk: m("queue.declare-ok", 50, 11, [
    ["queue", "shortstr"],
    ["messageCount", "long"],
    ["consumerCount", "long"],
  ]),
  queueBind: m("queue.bind", 50, 20, [
    ["reserved1", "short"],
    ["queue", "shortstr"],
    ["exchange", "shortstr"],
    ["routingKey", "shortstr"],
    ["noWait", "bit"],
    ["arguments", "table"],
  ]),
  queueBindOk: m("queue.bind-ok", 50, 21),
  queuePurge: m("queue.purge", 50, 30, [
    ["reserved1", "short"],
    ["queue", "shortstr"],
    ["noWait", "bit"],
  ]),
  queuePurgeOk: m("queue.purge-ok", 50, 31, [["messageCount", "long"]]),
  queueDelete: m("queue.delete", 50, 40, [
    ["reserved1", "short"],
    ["queue", "shortstr"],
    ["ifUnused", "bit"],
    ["ifEmpty", "bit"],
    ["noWait", "bit"],
  ]),
  queueDeleteOk: m("queue.delete-ok", 50, 41, [["messageCount", "long"]]),
  queueUnbind: m("queue.unbind", 50, 50, [
    ["reserved1", "short"],
    ["queue", "shortstr"],
    ["exchange", "shortstr"],
    ["routingKey", "shortstr"],
    ["arguments", "table"],
  ]),
  queueUnbindOk: m("queue.unbind-ok", 50, 51),

  basicQos: m("basic.qos", 60, 10, [
    ["prefetchSize", "long"],
    ["prefetchCount", "short"],
    ["global", "bit"],
  ]),
  basicQosOk: m("basic.qos-ok", 60, 11),
  basicConsume: m("basic.consume", 60, 20, [
    ["reserved1", "short"],
    ["queue", "shortstr"],
    ["consumerTag", "shortstr"],
    ["noLocal", "bit"],
    ["noAck", "bit"],
    ["exclusive", "bit"],
    ["noWait", "bit"],
    ["arguments", "table"],
  ]),
  basicConsumeOk: m("basic.consume-ok", 60, 21, [["consumerTag", "shortstr"]]),
  basicCancel: m("basic.cancel", 60, 30, [["consumerTag", "shortstr"], ["noWait", "bit"]]),
  basicCancelOk: m("basic.cancel-ok", 60, 31, [["consumerTag", "shortstr"]]),
  basicPublish: m("basic.publish", 60, 40, [
    ["reserved1", "short"],
    ["exchange", "shortstr"],
    ["routingKey", "shortstr"],
    ["mandatory", "bit"],
    ["immediate", "bit"],
  ]),
  basicReturn: m("basic.return", 60, 50, [
    ["replyCode", "short"],
    ["replyText", "shortstr"],
    ["exchange", "shortstr"],
    ["routingKey", "shortstr"],
  ]),
  basicDeliver: m("basic.deliver", 60, 60, [
    ["consumerTag", "shortstr"],
    ["deliveryTag", "longlong"],
    ["redelivered", "bit"],
    ["exchange", "shortstr"],
    ["routingKey", "shortstr"],
  ]),
  basicGet: m("basic.get", 60, 70, [
    ["reserved1", "short"],
    ["queue", "shortstr"],
    ["noAck", "bit"],
  ]),
  basicGetOk: m("basic.get-ok", 60, 71, [
    ["deliveryTag", "longlong"],
    ["redelivered", "bit"],
    ["exchange", "shortstr"],
    ["routingKey", "shortstr"],
    ["messageCount", "long"],
  ]),
  basicGetEmpty: m("basic.get-empty", 60, 72, [["reserved1", "shortstr"]]),
  basicAck: m("basic.ack", 60, 80, [["deliveryTag", "longlong"], ["multiple", "bit"]]),
  basicReject: m("basic.reject", 60, 90, [["deliveryTag", "longlong"], ["requeue", "bit"]]),
  basicRecoverAsync: m("basic.recover-async", 60, 100, [["requeue", "bit"]]),
  basicRecover: m("basic.recover", 60, 110, [["requeue", "bit"]]),
  basicRecoverOk: m("basic.recover-ok", 60, 111),
  basicNack: m("basic.nack", 60, 120, [
    ["deliveryTag", "longlong"],
    ["multiple", "bit"],
    ["requeue", "bit"],
  ]),

  txSelect: m("tx.select", 90, 10),
  txSelectOk: m("tx.select-ok", 90, 11),
  txCommit: m("tx.commit", 90, 20),
  txCommitOk: m("tx.commit-ok", 90, 21),
  txRollback: m("tx.rollback", 90, 30),
  txRollbackOk: m("tx.rollback-ok", 90, 31),

  confirmSelect: m("confirm.select", 85, 10, [["noWait", "bit"]]),
  confirmSelectOk: m("confirm.select-ok", 85, 11),
} as const;

/** Every method definition as a list. */
export const ALL_METHODS: readonly MethodDef[] = Object.values(METHODS);

const byId = new Map<number, MethodDef>();
for (const def of ALL_METHODS) byId.set((def.classId << 16) | def.methodId, def);

/**
 * Finds a method by its ids.
 *
 * @param classId class id
 * @param methodId method id
 * @returns the definition, or undefined for an unknown method
 */
export function methodById(classId: number, methodId: number): MethodDef | undefined {
  return byId.get((classId << 16) | methodId);
}

/** Default value of an argument of a type, used when the caller leaves it out. */
function defaultFor(type: ArgType): ArgValue {
  switch (type) {
    case "shortstr":
    case "longstr":
      return "";
    case "bit":
      return false;
    case "table":
      return {};
    default:
      return 0;
  }
}

/**
 * Encodes the arguments of a method (no frame around them).
 *
 * @param w the writer
 * @param def the method
 * @param args its arguments; missing ones take their zero value
 * @throws {ConfigurationError} for a short string over 255 bytes or an unencodable table value
 */
export function encodeMethodArgs(w: Writer, def: MethodDef, args: Partial<MethodArgs>): void {
  w.ensure(4);
  w.u16(def.classId);
  w.u16(def.methodId);
  let bitAt = -1;
  let bit = 0;
  for (const [name, type] of def.args) {
    const v = args[name] ?? defaultFor(type);
    if (type === "bit") {
      if (bitAt < 0 || bit === 8) {
        w.ensure(1);
        bitAt = w.pos;
        w.u8(0);
        bit = 0;
      }
      if (v) w.buf[bitAt] |= 1 << bit;
      bit++;
      continue;
    }
    bitAt = -1;
    switch (type) {
      case "octet":
        w.ensure(1);
        w.u8(v as number);
        break;
      case "short":
        w.ensure(2);
        w.u16(v as number);
        break;
      case "long":
        w.ensure(4);
        w.u32(v as number);
        break;
      case "longlong":
      case "timestamp":
        w.ensure(8);
        w.u64(v as number);
        break;
      case "shortstr":
        w.shortStr(v as string, `${def.name} ${name}`);
        break;
      case "longstr":
        w.longStr(v as string | Uint8Array);
        break;
      case "table":
        encodeTable(w, v as FieldTable);
        break;
    }
  }
}

/**
 * Encodes a whole method frame.
 *
 * @param w the writer
 * @param channel channel number
 * @param def the method
 * @param args its arguments
 * @throws {ConfigurationError} when an argument cannot be encoded
 */
export function encodeMethodFrame(
  w: Writer,
  channel: number,
  def: MethodDef,
  args: Partial<MethodArgs> = {},
): void {
  const start = w.pos;
  w.ensure(7);
  w.u8(FRAME_METHOD);
  w.u16(channel);
  w.pos += 4;
  try {
    encodeMethodArgs(w, def, args);
  } catch (e) {
    w.pos = start;
    throw e;
  }
  const end = w.pos;
  w.pos = start + 3;
  w.u32(end - start - 7);
  w.pos = end;
  w.ensure(1);
  w.u8(FRAME_END);
}

/**
 * Decodes the arguments of a method whose ids were read already.
 *
 * @param d the reader, after the class and method ids
 * @param def the method
 * @param longStrAsBytes decode long strings as bytes (SASL responses, secrets)
 * @returns the arguments
 * @throws {ProtocolError} when the frame is malformed
 */
export function decodeMethodArgs(d: Decoder, def: MethodDef, longStrAsBytes = false): MethodArgs {
  const out: MethodArgs = {};
  let bits = 0;
  let bit = 8;
  for (const [name, type] of def.args) {
    if (type === "bit") {
      if (bit === 8) {
        bits = d.u8();
        bit = 0;
      }
      out[name] = (bits & (1 << bit)) !== 0;
      bit++;
      continue;
    }
    bit = 8;
    switch (type) {
      case "octet":
        out[name] = d.u8();
        break;
      case "short":
        out[name] = d.u16();
        break;
      case "long":
        out[name] = d.u32();
        break;
      case "longlong":
      case "timestamp":
        out[name] = d.u64();
        break;
      case "shortstr":
        out[name] = d.shortStr();
        break;
      case "longstr":
        out[name] = longStrAsBytes ? d.longBytes() : d.longStr();
        break;
      case "table":
        out[name] = decodeTable(d);
        break;
    }
  }
  return out;
}

/**
 * Decodes a method frame payload.
 *
 * @param d the reader over the payload
 * @returns the method
 * @throws {ProtocolError} for an unknown method or a malformed payload
 */
export function decodeMethod(d: Decoder): Method {
  const classId = d.u16();
  const methodId = d.u16();
  const def = methodById(classId, methodId);
  if (def === undefined) {
    throw new ProtocolError(`Cannot decode method: unknown class ${classId} method ${methodId}`);
  }
  return { def, args: decodeMethodArgs(d, def) };
}
