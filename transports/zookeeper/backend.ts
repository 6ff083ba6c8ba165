/**
 * The ZooKeeper store in Kombu's layout ({@link queuePath}, {@link entryPrefix}): a message is
 * a sequential child of its queue holding Kombu's JSON envelope; the consumer takes the first
 * name in sorted order (highest priority, then oldest), as kazoo's `Queue.get` does, and waits
 * on a child watch instead of polling every second.
 *
 * @module
 */

import { encodeEnvelope } from "../../src/envelope.ts";
import type {
  GetManyOptions,
  QueueBackend,
  QueueBatch,
  StoredMessage,
} from "../../src/virtual/backend.ts";
import { ListingCursor } from "../../src/virtual/listing.ts";
import { decodeOrWrap } from "../_http/foreign.ts";
import type { ZkClient } from "./client.ts";
import type { ZkLease } from "./lease.ts";
import { childPath, entryPrefix, queuePath } from "./paths.ts";
import { CREATE_MODE, EVENT, isZkError, ZK_ERROR } from "./protocol.ts";

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
/** Longest wait on a watch before the queues are listed again, ms. */
const MAX_WATCH = 30_000;

/** Kombu's ZooKeeper layout over one session. */
export class ZooKeeperBackend implements QueueBackend {
  readonly #client: ZkClient;
  readonly #vhost: string;
  readonly #lease: ZkLease;
  readonly #leased: boolean;
  readonly #warn: (message: string, error?: unknown) => void;
  /** Each queue's entries as last listed, in kazoo's order. */
  readonly #listings: ListingCursor<string> = new ListingCursor(
    async (queue) => ({ items: await this.#list(queue, false) }),
    (queue, name) => this.#claim(queue, name),
  );
  readonly #wakers = new Set<(path: string) => void>();
  readonly #sweepEvery: number;
  #nextSweep = 0;

  /**
   * Makes the store of one connection.
   *
   * @param client the session
   * @param vhost the virtual host's znode
   * @param lease the session's records (paths, and the hold on deliveries when `leased`)
   * @param leased keep delivered messages in records until they are settled
   * @param sweepEvery milliseconds between sweeps of ended sessions' records
   * @param warn where survived failures go
   */
  constructor(
    client: ZkClient,
    vhost: string,
    lease: ZkLease,
    leased: boolean,
    sweepEvery: number,
    warn: (message: string, error?: unknown) => void,
  ) {
    this.#client = client;
    this.#vhost = vhost;
    this.#lease = lease;
    this.#leased = leased;
    this.#sweepEvery = sweepEvery;
    this.#warn = warn;
    client.onWatch((event) => {
      if (event.type === EVENT.nodeChildrenChanged || event.type === -1) {
        for (const wake of this.#wakers) wake(event.path);
      }
    });
  }

  /** The hold on delivered messages, unless turned off. */
  get lease(): ZkLease | undefined {
    return this.#leased ? this.#lease : undefined;
  }

  #path(queue: string): string {
    return queuePath(this.#vhost, queue);
  }

  /** Creates a sequential entry `entry-PPP-` (kazoo's `Queue.put`). */
  async put(queue: string, message: StoredMessage): Promise<void> {
    const path = this.#path(queue);
    const operation = {
      op: "create" as const,
      path: childPath(path, entryPrefix(message.properties.priority)),
      data: utf8.encode(encodeEnvelope(message)),
      mode: CREATE_MODE.sequential,
    };
    try {
      await this.#client.call(operation);
    } catch (error) {
      if (!isZkError(error, ZK_ERROR.noNode)) throw error;
      await this.#lease.ensurePath(path);
      await this.#client.call(operation);
    }
  }

  /** Creates the queue's znode and its ancestors (Kombu's `_new_queue`). */
  declare(queue: string): Promise<void> {
    return this.#lease.ensurePath(this.#path(queue));
  }

  /** True when the queue's znode exists (Kombu's `_has_queue`). */
  async exists(queue: string): Promise<boolean> {
    try {
      await this.#client.call({ op: "exists", path: this.#path(queue), watch: false });
      return true;
    } catch (error) {
      if (isZkError(error, ZK_ERROR.noNode)) return false;
      throw error;
    }
  }

  async #list(queue: string, watch: boolean): Promise<string[]> {
    try {
      const answer = await this.#client.call({ op: "getChildren", path: this.#path(queue), watch });
      return answer.op === "getChildren" ? answer.children.sort() : [];
    } catch (error) {
      if (!isZkError(error, ZK_ERROR.noNode)) throw error;
      if (!watch) return [];
      await this.declare(queue);
      return await this.#list(queue, watch);
    }
  }

  async #claim(queue: string, name: string): Promise<StoredMessage | undefined> {
    const path = childPath(this.#path(queue), name);
    let data: Uint8Array;
    let version: number;
    try {
      const answer = await this.#client.call({ op: "getData", path, watch: false });
      if (answer.op !== "getData") return undefined;
      [data, version] = [answer.data, answer.stat.version];
    } catch (error) {
      if (isZkError(error, ZK_ERROR.noNode)) return undefined;
      throw error;
    }
    if (this.#leased) return await this.#lease.claim(queue, name, data, version);
    try {
      await this.#client.call({ op: "delete", path, version });
    } catch (error) {
      if (isZkError(error, ZK_ERROR.noNode, ZK_ERROR.badVersion)) return undefined;
      throw error;
    }
    return decodeOrWrap(fromUtf8.decode(data))[0];
  }

  /** Takes the first message in kazoo's order. */
  async get(queue: string): Promise<StoredMessage | undefined> {
    await this.#sweepWhenDue();
    return (await this.#listings.take(queue, 1)).messages[0];
  }

  /** Takes up to `max` messages, waiting on child watches while there are none. */
  async getMany(queues: readonly string[], options: GetManyOptions): Promise<QueueBatch[]> {
    const { signal, max } = options;
    const perQueue = options.perQueue ?? max;
    for (;;) {
      await this.#sweepWhenDue();
      const got: QueueBatch[] = [];
      let left = max;
      for (const queue of queues) {
        if (left <= 0 || signal.aborted) break;
        const { messages } = await this.#listings.take(queue, Math.min(left, perQueue));
        if (messages.length > 0) got.push({ queue, messages });
        left -= messages.length;
      }
      if (got.length > 0 || signal.aborted) return got;
      await this.#wait(queues, signal);
      if (signal.aborted) return [];
    }
  }

  /** Arms a child watch on every queue and waits for one to fire (or a timeout). */
  async #wait(queues: readonly string[], signal: AbortSignal): Promise<void> {
    const paths = new Set(queues.map((queue) => this.#path(queue)));
    let wake!: (path: string) => void;
    const woken = new Promise<void>((resolve) => {
      wake = (path) => {
        if (path === "" || paths.has(path)) resolve();
      };
    });
    this.#wakers.add(wake);
    const stop = AbortSignal.any([
      signal,
      AbortSignal.timeout(Math.min(MAX_WATCH, Math.max(1, this.#nextSweep - Date.now()))),
    ]);
    const stopped = new Promise<void>((resolve) => {
      if (stop.aborted) resolve();
      stop.addEventListener("abort", () => resolve(), { once: true });
    });
    try {
      for (const queue of queues) {
        const names = await this.#list(queue, true);
        if (names.length > 0) {
          this.#listings.set(queue, names);
          return;
        }
      }
      await Promise.race([woken, stopped]);
    } finally {
      this.#wakers.delete(wake);
    }
  }

  async #sweepWhenDue(): Promise<void> {
    if (!this.#leased || Date.now() < this.#nextSweep) return;
    this.#nextSweep = Date.now() + this.#sweepEvery;
    try {
      await this.#lease.sweep();
    } catch (error) {
      this.#warn("Cannot put back the records of ended sessions; trying again later", error);
    }
  }

  /** Deletes every entry of the queue; resolves to how many went. */
  async purge(queue: string): Promise<number> {
    this.#listings.forget(queue);
    const names = await this.#list(queue, false);
    const path = this.#path(queue);
    const done = await Promise.all(names.map(async (name) => {
      try {
        await this.#client.call({ op: "delete", path: childPath(path, name), version: -1 });
        return 1;
      } catch (error) {
        if (isZkError(error, ZK_ERROR.noNode)) return 0;
        throw error;
      }
    }));
    return done.reduce<number>((a, b) => a + b, 0);
  }

  /** Counts the queue's entries (kazoo's `len(queue)`: the znode's child count). */
  async size(queue: string): Promise<number> {
    try {
      const answer = await this.#client.call({
        op: "exists",
        path: this.#path(queue),
        watch: false,
      });
      return answer.op === "exists" ? answer.stat.numChildren : 0;
    } catch (error) {
      if (isZkError(error, ZK_ERROR.noNode)) return 0;
      throw error;
    }
  }

  /** Purges the queue and deletes its znode (Kombu's `_delete`). */
  async delete(queue: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.purge(queue);
      try {
        await this.#client.call({ op: "delete", path: this.#path(queue), version: -1 });
        return;
      } catch (error) {
        if (isZkError(error, ZK_ERROR.noNode)) return;
        if (!isZkError(error, ZK_ERROR.notEmpty)) throw error;
      }
    }
  }

  /** Ends the session. */
  close(): Promise<void> {
    return this.#client.close();
  }
}
