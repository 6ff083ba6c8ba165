/**
 * `-LOADING`: a Redis server that restarted answers every data command with this error until its
 * dataset is back in memory. The server is there but not usable yet, as during a reconnect: like
 * redis-py (`BusyLoadingError`, a `ConnectionError`), the link treats it as a lost connection.
 * The link closes and the command rejects with a {@link ConnectionError}, so the recovery that
 * follows a connection loss (reconnect with its backoff, `retry` of a publish, the consumers'
 * revival) covers it; a `ChannelError` would end a publish and stop a consumer for good.
 *
 * Not a short in-link retry as for `-TRYAGAIN`: loading a large dataset takes seconds to minutes,
 * and the recovery policy, not a fixed loop, should decide how long to wait for it.
 *
 * @module
 */

import { ConnectionError } from "../../src/errors.ts";
import type { RedisDriver, RedisLink } from "./driver.ts";
import { type RespArg, RespErrorReply, type RespValue } from "./resp/types.ts";
import type { SendOptions } from "./resp/client.ts";

/** Whether a reply is the loading error. */
export function isLoading(reply: unknown): reply is RespErrorReply {
  return reply instanceof RespErrorReply && reply.code === "LOADING";
}

/** A link whose `-LOADING` replies close it and reject with a {@link ConnectionError}. */
class LoadingAwareLink implements RedisLink {
  readonly #link: RedisLink;
  readonly #endpoint: string;

  constructor(link: RedisLink, endpoint: string) {
    this.#link = link;
    this.#endpoint = endpoint;
  }

  get onMessage(): RedisLink["onMessage"] {
    return this.#link.onMessage;
  }

  set onMessage(handler: RedisLink["onMessage"]) {
    this.#link.onMessage = handler;
  }

  get isOpen(): boolean {
    return this.#link.isOpen;
  }

  get closed(): Promise<Error | undefined> {
    return this.#link.closed;
  }

  async send(args: readonly RespArg[], options?: SendOptions): Promise<RespValue> {
    const reply = await this.#link.send(args, options);
    if (!isLoading(reply)) return reply;
    void this.#link.close().catch(() => undefined);
    throw new ConnectionError(
      `Cannot run ${String(args[0])} on Redis at ${this.#endpoint}: the server is loading its ` +
        `dataset (${reply.message}); reconnecting`,
      { cause: reply },
    );
  }

  close(): Promise<void> {
    return this.#link.close();
  }
}

/** The driver whose links treat `-LOADING` as a lost connection (both drivers go through it). */
export function loadingAware(driver: RedisDriver): RedisDriver {
  return {
    name: driver.name,
    connect: async (options) =>
      new LoadingAwareLink(await driver.connect(options), `${options.hostname}:${options.port}`),
  };
}
