/**
 * The small client interface the Redis backend needs, and the native driver that implements it
 * with wakame's own RESP client. `ioredis_driver.ts` implements the same interface on ioredis.
 *
 * @module
 */

import type { SocketFactory } from "../../src/socket.ts";
import type { TlsOptions } from "../../src/transport.ts";
import { RespConnection, type SendOptions } from "./resp/client.ts";
import type { RespParserOptions } from "./resp/parser.ts";
import type { RespArg, RespValue } from "./resp/types.ts";

/** Where a link goes and how it logs in. */
export interface RedisLinkOptions {
  /** Host name or address. */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Unix socket path (`redis+socket://`). */
  path?: string;
  /** TLS settings (`rediss://`); verification on unless turned off. */
  tls?: boolean | TlsOptions;
  /** ACL user name. */
  username?: string;
  /** Password; never logged. */
  password?: string;
  /** Database number. */
  db: number;
  /** CLIENT SETNAME value. */
  clientName?: string;
  /** Milliseconds to connect (and log in). */
  connectTimeout: number;
  /** Milliseconds a reply may take; 0 = no limit. */
  commandTimeout: number;
  /** RESP version of command links (2, or 3 for HELLO 3). Pub/sub links always speak RESP2. */
  protocol?: 2 | 3;
  /** A pub/sub link: only (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING. */
  subscriber?: boolean;
  /** Opens sockets (native driver only). */
  socketFactory: SocketFactory;
  /** Parser limits (native driver only). */
  parser?: RespParserOptions;
  /** Aborts connecting. */
  signal?: AbortSignal;
}

/** One connection to Redis, as the backend uses it. */
export interface RedisLink {
  /**
   * Sends a command. Commands sent in one tick are pipelined. Error replies resolve as
   * `RespErrorReply` values; a lost connection rejects with a `ConnectionError`.
   */
  send(args: readonly RespArg[], options?: SendOptions): Promise<RespValue>;
  /** Pub/sub deliveries of a subscriber link: channel, payload and the matching pattern. */
  onMessage: ((channel: string, data: RespValue, pattern: string | undefined) => void) | undefined;
  /** False once the link is closed or lost. */
  readonly isOpen: boolean;
  /** Resolves (never rejects) when the link is gone, with the error if it failed. */
  readonly closed: Promise<Error | undefined>;
  /** Closes the link. */
  close(): Promise<void>;
}

/** Opens links: the seam between the backend and a Redis client library. */
export interface RedisDriver {
  /** `resp` (wakame's own client) or `ioredis`. */
  readonly name: string;
  /** Opens one link. */
  connect(options: RedisLinkOptions): Promise<RedisLink>;
}

const textDecoder = new TextDecoder();

/**
 * Reads a reply as text.
 *
 * @param value a reply value
 * @returns the text of a bulk or simple string, the decimal text of a number, else undefined
 */
export function replyText(value: RespValue | undefined): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return textDecoder.decode(value);
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  return undefined;
}

class NativeLink implements RedisLink {
  onMessage: RedisLink["onMessage"];
  readonly #connection: RespConnection;

  constructor(connection: RespConnection) {
    this.#connection = connection;
    connection.onPush = (push) => this.#push(push);
  }

  #push(push: RespValue[]): void {
    const kind = replyText(push[0]);
    if (kind === "pmessage") {
      this.onMessage?.(replyText(push[2]) ?? "", push[3] ?? null, replyText(push[1]));
    } else if (kind === "message" || kind === "smessage") {
      this.onMessage?.(replyText(push[1]) ?? "", push[2] ?? null, undefined);
    } else if (kind === "invalidate") {
      // RESP3 in-band invalidation (tracking without REDIRECT): same shape as the RESP2 message.
      this.onMessage?.("__redis__:invalidate", push[1] ?? null, undefined);
    }
  }

  get isOpen(): boolean {
    return this.#connection.isOpen;
  }

  get closed(): Promise<Error | undefined> {
    return this.#connection.closed;
  }

  send(args: readonly RespArg[], options?: SendOptions): Promise<RespValue> {
    return this.#connection.send(args, options);
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}

/**
 * The native driver: wakame's RESP client over the runtime socket seam.
 *
 * @example
 * ```ts ignore
 * import { nativeDriver } from "./driver.ts";
 * import { connectSocket } from "../../src/runtime/mod.ts";
 * const link = await nativeDriver.connect({
 *   hostname: "127.0.0.1", port: 6379, db: 0, connectTimeout: 1000, commandTimeout: 0,
 *   socketFactory: connectSocket,
 * });
 * await link.close();
 * ```
 */
export const nativeDriver: RedisDriver = {
  name: "resp",
  async connect(options: RedisLinkOptions): Promise<RedisLink> {
    const connection = await RespConnection.connect({
      hostname: options.hostname,
      port: options.port,
      path: options.path,
      tls: options.tls,
      username: options.username,
      password: options.password,
      db: options.db,
      clientName: options.clientName,
      connectTimeout: options.connectTimeout,
      commandTimeout: options.commandTimeout,
      protocol: options.subscriber ? 2 : options.protocol,
      socketFactory: options.socketFactory,
      parser: options.parser,
      signal: options.signal,
    });
    return new NativeLink(connection);
  },
};
