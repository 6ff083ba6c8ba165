/**
 * Shared helpers of the Redis tests: a store with a random key prefix, a raw connection to look
 * at what the store left in Redis, and messages.
 */
import type { ConnectionParams } from "../../../src/transport.ts";
import { connectSocket } from "../../../src/runtime/mod.ts";
import type { StoredMessage } from "../../../src/virtual/backend.ts";
import type { TopicRules } from "../../../src/virtual/exchange_types.ts";
import { bindingRouter } from "../../../src/virtual/router.ts";
import { openRedisBackend, type RedisBackend } from "../../../transports/redis/mod.ts";
import { RespConnection } from "../../../transports/redis/resp/client.ts";
import type { RespValue } from "../../../transports/redis/resp/types.ts";
import { bodyText } from "../../../mod.ts";

/** Connection parameters for the local Redis. */
export function redisParams(
  transportOptions: Record<string, unknown>,
  extra: Partial<ConnectionParams> = {},
): ConnectionParams {
  return {
    transport: "redis",
    hostname: "127.0.0.1",
    port: 6379,
    userid: undefined,
    password: undefined,
    virtualHost: "0",
    ssl: false,
    heartbeat: 0,
    connectTimeout: 3000,
    transportOptions,
    url: "redis://127.0.0.1:6379/0",
    ...extra,
  } as ConnectionParams;
}

/** A random key prefix, so that runs and cases never share keys. */
export function randomPrefix(): string {
  return `wk-t-${crypto.randomUUID().slice(0, 12)}:`;
}

/** Warnings a store reported. */
export type Warnings = [string, unknown][];

/** Opens a store on the local Redis with a random key prefix (unless given). */
export async function openStore(
  options: Record<string, unknown> = {},
  warnings: Warnings = [],
  topicRules: TopicRules = "amqp",
): Promise<RedisBackend> {
  const warn = (message: string, error?: unknown) => void warnings.push([message, error]);
  // The virtual base's router over this store's bindings (exchange types undeclared here).
  const route = bindingRouter(() => store.bindings, () => undefined, topicRules, warn);
  const store: RedisBackend = await openRedisBackend(
    redisParams({ globalKeyprefix: randomPrefix(), ...options }),
    { warn, route },
  );
  return store;
}

/** A raw connection for looking at keys. */
export function rawRedis(port = 6379): Promise<RespConnection> {
  return RespConnection.connect({ hostname: "127.0.0.1", port, socketFactory: connectSocket });
}

const dec = new TextDecoder();

/** Reply as text. */
export function text(value: RespValue): string {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return dec.decode(value);
  return String(value);
}

/** A message as the virtual channel would hand it to the store. */
export function message(
  body: string,
  extra: Partial<StoredMessage> & { priority?: number } = {},
): StoredMessage {
  const { priority, ...rest } = extra;
  return {
    body: new TextEncoder().encode(body),
    properties: {
      contentType: "application/json",
      contentEncoding: "utf-8",
      deliveryMode: 2,
      priority: priority ?? 0,
      headers: {},
    },
    exchange: "",
    routingKey: "",
    tag: crypto.randomUUID(),
    redelivered: false,
    ...rest,
  };
}

/** The body of a stored message as text. */
export function bodyOf(m: StoredMessage): string {
  return bodyText(m.body);
}

/** Waits for up to `max` messages of the queues (bounded: gives up after `ms`). */
export async function take(
  store: RedisBackend,
  queues: string[],
  max: number,
  ms = 5000,
): Promise<[string, StoredMessage][]> {
  const out: [string, StoredMessage][] = [];
  const deadline = Date.now() + ms;
  while (out.length < max && Date.now() < deadline) {
    const signal = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
    for (
      const { queue, messages } of await store.getMany(queues, { max: max - out.length, signal })
    ) {
      for (const message of messages) out.push([queue, message]);
    }
  }
  return out;
}

/** Deletes every key under a prefix (SCAN, bounded). */
export async function dropPrefix(raw: RespConnection, prefix: string): Promise<void> {
  let cursor = "0";
  for (let round = 0; round < 10_000; round++) {
    const reply = await raw.send(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", 1000]);
    const [next, keys] = reply as [Uint8Array, Uint8Array[]];
    if (keys.length > 0) await raw.send(["DEL", ...keys]);
    cursor = text(next);
    if (cursor === "0") return;
  }
}

/** Kills the connections that carry `name` (CLIENT SETNAME), and only those. */
export async function killClientsNamed(raw: RespConnection, name: string): Promise<number> {
  const list = text(await raw.send(["CLIENT", "LIST", "TYPE", "normal"])) +
    text(await raw.send(["CLIENT", "LIST", "TYPE", "pubsub"]));
  let killed = 0;
  for (const line of list.split("\n")) {
    if (!line.includes(` name=${name} `)) continue;
    const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
    if (id && (await raw.send(["CLIENT", "KILL", "ID", id])) === 1) killed++;
  }
  return killed;
}
