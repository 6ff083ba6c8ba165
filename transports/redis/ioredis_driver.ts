/**
 * The fallback driver: the Redis backend's {@link RedisDriver} interface on npm's `ioredis`
 * (selected with `transportOptions.driver: "ioredis"`). ioredis reconnects, queues offline
 * commands and resubscribes by itself; all of that is turned off here, because the backend does
 * its own recovery and must see every loss.
 *
 * ioredis opens its sockets with `node:net`/`node:tls` (Deno and Bun provide them); the
 * `socketFactory` and parser limits of the native driver do not apply.
 *
 * @module
 */

import { readTlsFiles } from "../../src/runtime/_tls_files.ts";
import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import type * as IoRedisModule from "ioredis";
import { importOptional } from "../../src/_import.ts";
import { ConnectionError, TimeoutError } from "../../src/errors.ts";
import type { RedisDriver, RedisLink, RedisLinkOptions } from "./driver.ts";
import { describeEndpoint, type SendOptions } from "./resp/client.ts";
import { type RespArg, RespErrorReply, type RespValue } from "./resp/types.ts";

type IoRedis = InstanceType<typeof IoRedisModule.Redis>;

/** The npm package this driver wraps (an optional peer dependency). */
const IOREDIS = { name: "ioredis", range: "^5", feature: "the ioredis Redis driver" } as const;

function toReply(value: unknown): RespValue {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) return value.map(toReply);
  if (value instanceof Error) return new RespErrorReply(value.message);
  return value as RespValue;
}

function toArg(arg: RespArg): string | number | Buffer {
  return arg instanceof Uint8Array ? Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength) : arg;
}

interface Queued {
  args: readonly RespArg[];
  options: SendOptions | undefined;
  resolve(value: RespValue): void;
  reject(error: Error): void;
}

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError";
}

class IoRedisLink implements RedisLink {
  onMessage: RedisLink["onMessage"];
  readonly closed: Promise<Error | undefined>;
  readonly #redis: IoRedis;
  readonly #endpoint: string;
  readonly #subscriber: boolean;
  #open = true;
  #failure: Error | undefined;
  #batch: Queued[] | undefined;

  constructor(redis: IoRedis, endpoint: string, subscriber: boolean) {
    this.#redis = redis;
    this.#endpoint = endpoint;
    this.#subscriber = subscriber;
    this.closed = new Promise((resolve) => {
      redis.on("error", (error: Error) => {
        this.#failure ??= new ConnectionError(
          `Redis connection to ${endpoint} failed: ${error.message}`,
          { cause: error },
        );
      });
      redis.on("end", () => {
        this.#open = false;
        resolve(this.#failure);
      });
    });
    redis.on("messageBuffer", (channel: Uint8Array, data: unknown) => {
      this.onMessage?.(new TextDecoder().decode(channel), toReply(data), undefined);
    });
    redis.on("pmessageBuffer", (pattern: string, channel: Uint8Array, data: unknown) => {
      this.onMessage?.(new TextDecoder().decode(channel), toReply(data), String(pattern));
    });
  }

  get isOpen(): boolean {
    return this.#open && this.#redis.status === "ready";
  }

  send(args: readonly RespArg[], options?: SendOptions): Promise<RespValue> {
    if (!this.isOpen) {
      return Promise.reject(
        this.#failure ??
          new ConnectionError(
            `Cannot send to Redis at ${this.#endpoint}: the connection is closed`,
          ),
      );
    }
    return new Promise<RespValue>((resolve, reject) => {
      if (this.#batch === undefined) {
        this.#batch = [];
        queueMicrotask(() => this.#flush());
      }
      this.#batch.push({ args, options, resolve, reject });
    });
  }

  /** Sends the commands of one tick as one ioredis pipeline (one write). */
  #flush(): void {
    const batch = this.#batch ?? [];
    this.#batch = undefined;
    if (batch.length === 1 || this.#subscriber) {
      for (const entry of batch) {
        const [name, ...rest] = entry.args;
        this.#redis.callBuffer(String(name).toLowerCase(), ...rest.map(toArg)).then(
          (reply: unknown) => entry.resolve(toReply(reply)),
          (error: unknown) => this.#settleError(entry, error),
        );
      }
      return;
    }
    const pipeline = this.#redis.pipeline();
    for (const entry of batch) {
      const [name, ...rest] = entry.args;
      pipeline.callBuffer(String(name).toLowerCase(), ...rest.map(toArg));
    }
    pipeline.exec().then(
      (results) => {
        for (let i = 0; i < batch.length; i++) {
          const [error, reply] = results?.[i] ?? [new Error("Connection is closed."), null];
          if (error) this.#settleError(batch[i]!, error);
          else batch[i]!.resolve(toReply(reply));
        }
      },
      (error: unknown) => {
        for (const entry of batch) this.#settleError(entry, error);
      },
    );
  }

  #settleError(entry: Queued, error: unknown): void {
    if (isReplyError(error)) {
      entry.resolve(new RespErrorReply(error.message));
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (/timed out/i.test(message) && entry.options?.timeout !== false) {
      this.#redis.disconnect();
      entry.reject(
        new TimeoutError(`Cannot get a reply from Redis at ${this.#endpoint}: timed out`, {
          cause: error,
        }),
      );
      return;
    }
    entry.reject(
      new ConnectionError(`Cannot send to Redis at ${this.#endpoint}: ${message}`, {
        cause: error,
      }),
    );
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.#redis.disconnect();
    await this.closed;
  }
}

/**
 * The ioredis driver.
 *
 * @example
 * ```ts ignore
 * import { ioredisDriver } from "./ioredis_driver.ts";
 * import { connectSocket } from "../../src/runtime/mod.ts";
 * const link = await ioredisDriver.connect({
 *   hostname: "127.0.0.1", port: 6379, db: 0, connectTimeout: 1000, commandTimeout: 0,
 *   socketFactory: connectSocket,
 * });
 * await link.close();
 * ```
 */
export const ioredisDriver: RedisDriver = {
  name: "ioredis",
  async connect(options: RedisLinkOptions): Promise<RedisLink> {
    const endpoint = describeEndpoint(options);
    const given = await readTlsFiles(options.tls);
    const tls = given === true ? {} : given === false ? undefined : given;
    const { Redis } = await importOptional<typeof IoRedisModule>(IOREDIS);
    const redis = new Redis({
      host: options.hostname,
      port: options.port,
      path: options.path,
      username: options.username,
      password: options.password,
      db: options.db,
      connectionName: options.clientName,
      connectTimeout: options.connectTimeout || undefined,
      commandTimeout: options.commandTimeout || undefined,
      tls: tls === undefined ? undefined : {
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        // SNI takes names only; with an address, node:tls checks the address against the SANs.
        servername: tls.serverName ?? (isIP(options.hostname) ? undefined : options.hostname),
        rejectUnauthorized: tls.rejectUnauthorized ?? true,
      },
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // Errors are reported through `closed`; without a listener ioredis would print them.
    redis.on("error", () => undefined);
    const link = new IoRedisLink(redis, endpoint, options.subscriber === true);
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      const message = error instanceof Error ? error.message : String(error);
      const refused = /WRONGPASS|NOAUTH|NOPERM|invalid password/i.test(message);
      throw new ConnectionError(`Cannot open Redis connection to ${endpoint}: ${message}`, {
        cause: error,
        replyCode: refused ? 403 : undefined,
      });
    }
    return link;
  },
};
