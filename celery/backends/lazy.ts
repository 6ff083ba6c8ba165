/**
 * The redis:// backend loaded on first use, so that an app on rpc:// never loads the Redis
 * client.
 *
 * @module
 */

import { importSibling } from "../../src/_import.ts";
import type { ResultBackend, ResultMeta, StoreTarget, WaitOptions } from "./base.ts";
import type { RedisBackend, RedisBackendOptions } from "./redis.ts";

/** A {@link RedisBackend} that loads its module when first used. */
export class LazyRedisBackend implements ResultBackend {
  /** The URL, as configured. */
  readonly url: string;
  readonly #options: RedisBackendOptions;
  #backend: Promise<RedisBackend> | undefined;

  /**
   * Makes the backend.
   *
   * @param url the redis:// URL
   * @param options expiry, key prefix, connector options
   */
  constructor(url: string, options: RedisBackendOptions = {}) {
    this.url = url;
    this.#options = options;
  }

  /** The loaded backend. */
  load(): Promise<RedisBackend> {
    // Loaded as wakame loads transports (src/_import.ts): `.ts` from source, `.js` from npm.
    this.#backend ??= importSibling<typeof import("./redis.ts")>("./redis", import.meta.url)
      .then((m) => new m.RedisBackend(this.url, this.#options));
    return this.#backend;
  }

  /** See {@link ResultBackend.prepare}. */
  async prepare(taskId: string): Promise<string | undefined> {
    return await (await this.load()).prepare(taskId);
  }

  /** See {@link ResultBackend.wait}. */
  async wait(taskId: string, options?: WaitOptions): Promise<ResultMeta> {
    return await (await this.load()).wait(taskId, options);
  }

  /** See {@link ResultBackend.meta}. */
  async meta(taskId: string): Promise<ResultMeta | undefined> {
    return await (await this.load()).meta(taskId);
  }

  /** See {@link ResultBackend.forget}. */
  async forget(taskId: string): Promise<void> {
    await (await this.load()).forget(taskId);
  }

  /** See {@link ResultBackend.store}. */
  async store(meta: ResultMeta, target: StoreTarget): Promise<void> {
    await (await this.load()).store(meta, target);
  }

  /** Sets a chord's size (Celery's `set_chord_size`). */
  async setChordSize(groupId: string, size: number): Promise<void> {
    await (await this.load()).setChordSize(groupId, size);
  }

  /** See {@link RedisBackend.chordPartReturn}. */
  async chordPartReturn(
    ...args: Parameters<RedisBackend["chordPartReturn"]>
  ): ReturnType<RedisBackend["chordPartReturn"]> {
    return await (await this.load()).chordPartReturn(...args);
  }

  /** See {@link ResultBackend.close}. */
  async close(): Promise<void> {
    const backend = this.#backend;
    this.#backend = undefined;
    await (await backend?.catch(() => undefined))?.close();
  }
}
