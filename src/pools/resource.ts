/**
 * A generic pool of resources (Kombu's `kombu.resource.Resource`): limits, waiting with a
 * timeout or a signal, leases given back with `await using`, broken resources replaced.
 *
 * @module
 */

import { KombuError, LimitExceededError } from "../errors.ts";
import { getLogger } from "../logger.ts";
import { checkLimit } from "./limit.ts";

const log = getLogger("pools");

/** How a {@link ResourcePool} makes, checks and ends its resources. */
export interface ResourcePoolOptions<T> {
  /** Makes a new resource. */
  create(): T | Promise<T>;
  /** Ends a resource that leaves the pool (broken, surplus, or the pool closed). */
  dispose?(resource: T): void | Promise<void>;
  /**
   * Tells whether an idle resource may still be handed out (a connection that lost its
   * socket may not). A resource that fails is disposed and another one is taken or made.
   */
  isUsable?(resource: T): boolean;
  /**
   * Most resources at once, in use or idle; 0 (the default) means no limit: every acquire
   * makes a resource and every release disposes it, as in Kombu.
   */
  limit?: number;
  /** A name for error messages, such as the URL without its password. */
  name?: string;
}

/** Options of {@link ResourcePool.acquire}. */
export interface AcquireOptions {
  /**
   * Milliseconds to wait when the limit is reached; without it the wait lasts until a resource
   * comes back (or `signal` aborts). `0` fails at once, like Kombu's `acquire(block=False)`.
   */
  timeout?: number;
  /** Aborts the wait; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of {@link ResourcePool.setLimit}. */
export interface SetLimitOptions {
  /**
   * Shrink even while more resources than the new limit are in use; the surplus is disposed as
   * it comes back. Without it, such a shrink throws, as Kombu's `resize` does.
   */
  force?: boolean;
}

/**
 * One resource taken from a pool. Give it back with {@link PoolLease.release}, or with
 * {@link PoolLease.discard} when it is broken so it is never handed out again; `await using`
 * releases it at the end of the block.
 */
export interface PoolLease<T> extends AsyncDisposable {
  /** The resource. */
  readonly resource: T;
  /** True once released or discarded. */
  readonly released: boolean;
  /** Returns the resource to the pool (a second call does nothing). */
  release(): Promise<void>;
  /** Disposes a broken resource instead of returning it; the pool may make a new one. */
  discard(): Promise<void>;
}

const CREATE = Symbol("create");

interface Waiter<T> {
  resolve(value: T | typeof CREATE): void;
  reject(error: unknown): void;
}

/**
 * A pool of reusable resources with a limit (Kombu's `Resource`).
 *
 * Idle resources are handed out last-in first-out, so the warmest one is reused and the
 * coldest ones are the first to go when the limit shrinks. A waiting acquire gets the next
 * resource released, in arrival order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResourcePool } from "@wakame/wakame";
 * let made = 0;
 * const pool = new ResourcePool({ create: () => ({ id: ++made }), limit: 2 });
 * {
 *   await using lease = await pool.acquire();
 *   assert.equal(lease.resource.id, 1);
 * }
 * const again = await pool.acquire();
 * assert.equal(again.resource.id, 1);
 * assert.equal(made, 1);
 * await again.release();
 * await pool.close();
 * ```
 */
export class ResourcePool<T> implements AsyncDisposable {
  readonly #options: ResourcePoolOptions<T>;
  #limit: number;
  readonly #idle: T[] = [];
  readonly #inUse = new Set<T>();
  #creating = 0;
  readonly #waiters: Waiter<T>[] = [];
  #closed = false;

  /**
   * Makes a ResourcePool.
   *
   * @param options how to make and end resources, and the limit
   * @throws {RangeError} when the limit is not a whole number >= 0
   */
  constructor(options: ResourcePoolOptions<T>) {
    this.#options = options;
    this.#limit = checkLimit(options.limit ?? 0);
  }

  /** The limit; 0 means none. */
  get limit(): number {
    return this.#limit;
  }

  /** Resources handed out and not yet returned. */
  get inUse(): number {
    return this.#inUse.size;
  }

  /** Resources waiting in the pool. */
  get idle(): number {
    return this.#idle.length;
  }

  /** Acquires waiting for a resource. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** True once {@link ResourcePool.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The limit (Kombu's `limit` property); same as {@link ResourcePool.limit}. */
  getLimit(): number {
    return this.#limit;
  }

  get #total(): number {
    return this.#idle.length + this.#inUse.size + this.#creating;
  }

  get #label(): string {
    return this.#options.name === undefined ? "pool" : `pool "${this.#options.name}"`;
  }

  /**
   * Takes a resource: an idle one, a new one while under the limit, or the next one released.
   *
   * @param options how long to wait at the limit, and a signal to stop waiting
   * @returns a lease on the resource
   * @throws {LimitExceededError} when the limit is reached and the timeout passes (at once with
   *   `timeout: 0`)
   * @throws {KombuError} when the pool is closed
   */
  async acquire(options: AcquireOptions = {}): Promise<PoolLease<T>> {
    options.signal?.throwIfAborted();
    if (this.#closed) throw new KombuError(`Cannot acquire from ${this.#label}: it is closed`);
    for (;;) {
      const resource = this.#takeIdle();
      if (resource !== undefined) {
        if (await this.#checkUsable(resource)) return this.#lease(resource);
        continue;
      }
      if (this.#limit === 0 || this.#total < this.#limit) {
        this.#creating++;
        return this.#lease(await this.#make());
      }
      const got = await this.#wait(options);
      if (got === CREATE) return this.#lease(await this.#make());
      return this.#lease(got);
    }
  }

  /**
   * Makes resources ahead of use, up to `count` idle ones (never past the limit).
   *
   * @param count how many to make (default: the limit)
   * @returns how many were made
   */
  async preload(count: number = this.#limit): Promise<number> {
    let made = 0;
    while (
      !this.#closed && made < count && (this.#limit === 0 || this.#total < this.#limit)
    ) {
      this.#creating++;
      const resource = await this.#make();
      await this.#giveBack(resource);
      made++;
    }
    return made;
  }

  /**
   * Changes the limit (Kombu's `resize`). Idle resources beyond a lower limit are disposed, the
   * coldest first; waiting acquires get their chance under a higher one.
   *
   * @param limit the new limit; 0 for none
   * @param options `force` to shrink while too many are in use
   * @throws {KombuError} when shrinking below the resources in use without `force`
   * @throws {RangeError} when the limit is not a whole number >= 0
   */
  async setLimit(limit: number, options: SetLimitOptions = {}): Promise<void> {
    checkLimit(limit);
    if (limit > 0 && this.#inUse.size > limit && !options.force) {
      throw new KombuError(
        `Cannot shrink ${this.#label} from ${this.#limit} to ${limit}: ${this.#inUse.size} resources are in use`,
      );
    }
    this.#limit = limit;
    // Without a limit nothing is pooled (Kombu closes on release): idle resources go too.
    const surplus: T[] = limit === 0 ? this.#idle.splice(0) : [];
    while (this.#limit > 0 && this.#total > this.#limit && this.#idle.length > 0) {
      surplus.push(this.#idle.shift()!);
    }
    this.#grantWaiters();
    await Promise.all(surplus.map((r) => this.#dispose(r)));
  }

  /**
   * Closes the pool: idle resources are disposed now, resources in use when they come back,
   * and waiting acquires fail.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const error = new KombuError(`Cannot acquire from ${this.#label}: it was closed`);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    const idle = this.#idle.splice(0);
    await Promise.all(idle.map((r) => this.#dispose(r)));
  }

  /** Same as {@link ResourcePool.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #takeIdle(): T | undefined {
    const resource = this.#idle.pop();
    if (resource !== undefined) this.#inUse.add(resource);
    return resource;
  }

  async #checkUsable(resource: T): Promise<boolean> {
    let usable = true;
    try {
      usable = this.#options.isUsable?.(resource) ?? true;
    } catch {
      usable = false;
    }
    if (usable) return true;
    this.#inUse.delete(resource);
    await this.#dispose(resource);
    this.#grantWaiters();
    return false;
  }

  /** Makes a resource for a slot already counted in `#creating`. */
  async #make(): Promise<T> {
    let resource: T;
    try {
      resource = await this.#options.create();
    } catch (error) {
      this.#creating--;
      this.#grantWaiters();
      throw error;
    }
    this.#creating--;
    this.#inUse.add(resource);
    return resource;
  }

  #wait(options: AcquireOptions): Promise<T | typeof CREATE> {
    const { timeout, signal } = options;
    if (timeout !== undefined && timeout <= 0) {
      return Promise.reject(
        new LimitExceededError(
          `Cannot acquire from ${this.#label}: limit of ${this.#limit} reached`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) this.#waiters.splice(i, 1);
      };
      const waiter: Waiter<T> = {
        resolve: (value) => {
          cleanup();
          resolve(value);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const onAbort = () => waiter.reject(signal!.reason);
      this.#waiters.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          waiter.reject(
            new LimitExceededError(
              `Cannot acquire from ${this.#label}: limit of ${this.#limit} reached, waited ${timeout} ms`,
            ),
          );
        }, timeout);
      }
    });
  }

  /** Lets waiting acquires make resources while there is room under the limit. */
  #grantWaiters(): void {
    while (
      this.#waiters.length > 0 && (this.#limit === 0 || this.#total < this.#limit)
    ) {
      this.#creating++;
      this.#waiters[0]!.resolve(CREATE);
    }
  }

  #lease(resource: T): PoolLease<T> {
    let released = false;
    const finish = async (broken: boolean): Promise<void> => {
      if (released) return;
      released = true;
      if (broken) {
        this.#inUse.delete(resource);
        await this.#dispose(resource);
        this.#grantWaiters();
      } else {
        await this.#giveBack(resource);
      }
    };
    return {
      resource,
      get released() {
        return released;
      },
      release: () => finish(false),
      discard: () => finish(true),
      [Symbol.asyncDispose]: () => finish(false),
    };
  }

  async #giveBack(resource: T): Promise<void> {
    this.#inUse.delete(resource);
    const unlimited = this.#limit === 0;
    if (this.#closed || unlimited || this.#total >= this.#limit) {
      await this.#dispose(resource);
      this.#grantWaiters();
      return;
    }
    const waiter = this.#waiters[0];
    if (waiter !== undefined) {
      this.#inUse.add(resource);
      waiter.resolve(resource);
      return;
    }
    this.#idle.push(resource);
  }

  async #dispose(resource: T): Promise<void> {
    try {
      await this.#options.dispose?.(resource);
    } catch (error) {
      log.warn(`Cannot dispose a resource of ${this.#label}:`, error);
    }
  }
}
