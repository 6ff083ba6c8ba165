/**
 * The etcd store in Kombu's layout (`kombu/transport/etcd.py`): queue `q` is the directory
 * `/kombu/q`; a message is an in-order key under it (`POST`, named by its 20-digit creation
 * index) whose value is Kombu's JSON envelope.
 *
 * Where wakame differs, compatibly: it takes the oldest message (Kombu reads the directory
 * unsorted and takes the last node etcd lists); it takes it with a compare-and-delete
 * (`prevIndex`) instead of python-etcd's lock recipe under `/_locks/<queue>` (a Kombu consumer
 * that loses the race finds the key gone and skips it, as it does today); it waits on a watch
 * of the prefix instead of polling every 3 s; and it keeps a delivered message in a record until
 * it is acknowledged ({@link EtcdLease}).
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
import { ETCD_ERROR, type EtcdClient, type EtcdNode, isEtcdError } from "./client.ts";
import { etcdQueueKey } from "./keys.ts";
import type { EtcdLease } from "./lease.ts";
import type { EtcdSettings } from "./options.ts";

/** Longest wait of one watch before the queues are listed again, ms. */
const MAX_WATCH = 30_000;
/** Requests in flight at once when many keys are deleted. */
const PARALLEL = 32;
/** Changes that can put a message in a queue. */
const ARRIVALS = new Set(["create", "set", "update", "compareAndSwap"]);

/** Kombu's etcd layout over the v2 keys API. */
export class EtcdBackend implements QueueBackend {
  readonly #client: EtcdClient;
  readonly #settings: EtcdSettings;
  readonly #warn: (message: string, error?: unknown) => void;
  /** Each queue's messages as last listed, oldest first. */
  readonly #listings: ListingCursor<EtcdNode> = new ListingCursor(
    async (queue) => {
      const { nodes, index } = await this.#list(queue);
      return { items: nodes, index };
    },
    (queue, node) => this.#claim(queue, node),
  );
  /** The unacked records, unless the visibility timeout is 0. */
  readonly lease?: EtcdLease;
  #nextSweep = 0;

  /**
   * Makes the store of one connection.
   *
   * @param client the etcd client
   * @param settings the transport's settings
   * @param lease the unacked records, unless the visibility timeout is 0
   * @param warn where survived failures go
   */
  constructor(
    client: EtcdClient,
    settings: EtcdSettings,
    lease: EtcdLease | undefined,
    warn: (message: string, error?: unknown) => void,
  ) {
    this.#client = client;
    this.#settings = settings;
    this.lease = lease;
    this.#warn = warn;
  }

  #dir(queue: string): string {
    return etcdQueueKey(this.#settings.prefix, queue);
  }

  /** Appends Kombu's envelope as an in-order key. */
  async put(queue: string, message: StoredMessage): Promise<void> {
    await this.#client.append(this.#dir(queue), encodeEnvelope(message));
  }

  /** Creates the queue's directory (Kombu's `_new_queue`). */
  async declare(queue: string): Promise<void> {
    try {
      await this.#client.put(this.#dir(queue), { dir: true });
    } catch (error) {
      if (!isEtcdError(error, ETCD_ERROR.notFile, ETCD_ERROR.nodeExist)) throw error;
    }
  }

  /** True when the queue's directory exists (Kombu's `_has_queue`). */
  async exists(queue: string): Promise<boolean> {
    try {
      await this.#client.get(this.#dir(queue));
      return true;
    } catch (error) {
      if (isEtcdError(error, ETCD_ERROR.keyNotFound)) return false;
      throw error;
    }
  }

  /** Lists the queue's messages, oldest first, and the store's index. */
  async #list(queue: string): Promise<{ nodes: EtcdNode[]; index: number }> {
    try {
      const answer = await this.#client.get(this.#dir(queue), { sorted: true });
      return { nodes: (answer.node.nodes ?? []).filter((n) => !n.dir), index: answer.index };
    } catch (error) {
      if (isEtcdError(error, ETCD_ERROR.keyNotFound)) return { nodes: [], index: error.index };
      throw error;
    }
  }

  /** Takes one message node: a compare-and-delete, or a move into the lease's record. */
  async #claim(queue: string, node: EtcdNode): Promise<StoredMessage | undefined> {
    if (this.lease) return await this.lease.claim(queue, node);
    try {
      await this.#client.delete(node.key, { prevIndex: node.modifiedIndex });
    } catch (error) {
      if (isEtcdError(error, ETCD_ERROR.keyNotFound, ETCD_ERROR.testFailed)) return undefined;
      throw error;
    }
    return decodeOrWrap(node.value ?? "")[0];
  }

  /** Takes the oldest message. */
  async get(queue: string): Promise<StoredMessage | undefined> {
    return (await this.#listings.take(queue, 1)).messages[0];
  }

  /** Takes up to `max` messages, waiting on a watch of the prefix while there are none. */
  async getMany(queues: readonly string[], options: GetManyOptions): Promise<QueueBatch[]> {
    const { signal, max } = options;
    const perQueue = options.perQueue ?? max;
    for (;;) {
      await this.#sweepWhenDue();
      const got: QueueBatch[] = [];
      let left = max;
      let watchFrom: number | undefined = Infinity;
      for (const queue of queues) {
        if (left <= 0 || signal.aborted) break;
        const { messages, index } = await this.#listings.take(
          queue,
          Math.min(left, perQueue),
        );
        if (messages.length > 0) got.push({ queue, messages });
        left -= messages.length;
        // A queue whose last listing was all taken by others is listed again at once.
        watchFrom = index === undefined || watchFrom === undefined
          ? undefined
          : Math.min(watchFrom, index);
      }
      if (got.length > 0 || signal.aborted) return got;
      if (watchFrom !== undefined) await this.#watch(queues, watchFrom, signal);
      if (signal.aborted) return [];
    }
  }

  /**
   * Waits until a message may have arrived in one of `queues` after index `from`, the signal
   * aborts, a sweep is due or {@link MAX_WATCH} passed.
   */
  async #watch(queues: readonly string[], from: number, signal: AbortSignal): Promise<void> {
    const dirs = new Set(queues.map((queue) => `/${this.#dir(queue)}`));
    const until = Math.min(MAX_WATCH, Math.max(1, this.#nextSweep - Date.now()));
    const stop = AbortSignal.any([signal, AbortSignal.timeout(until)]);
    let waitIndex = Number.isFinite(from) ? from + 1 : undefined;
    while (!stop.aborted) {
      let event;
      try {
        event = await this.#client.get(
          this.#settings.prefix,
          { wait: true, recursive: true, waitIndex },
          stop,
        );
      } catch (error) {
        if (stop.aborted || isEtcdError(error, ETCD_ERROR.eventIndexCleared)) return;
        throw error;
      }
      const key = event.node.key;
      if (ARRIVALS.has(event.action) && dirs.has(key.slice(0, key.lastIndexOf("/")))) return;
      waitIndex = event.node.modifiedIndex + 1;
    }
  }

  async #sweepWhenDue(): Promise<void> {
    if (!this.lease || Date.now() < this.#nextSweep) return;
    this.#nextSweep = Date.now() + Math.min(60_000, Math.max(250, this.lease.duration / 4));
    try {
      await this.lease.sweep();
    } catch (error) {
      this.#warn("Cannot put back expired unacked records; trying again later", error);
    }
  }

  /** Deletes every message of the queue (each with a condition, so the count is exact). */
  async purge(queue: string): Promise<number> {
    this.#listings.forget(queue);
    const { nodes } = await this.#list(queue);
    let count = 0;
    for (let i = 0; i < nodes.length; i += PARALLEL) {
      const done = await Promise.all(
        nodes.slice(i, i + PARALLEL).map(async (node) => {
          try {
            await this.#client.delete(node.key, { prevIndex: node.modifiedIndex });
            return 1;
          } catch (error) {
            if (isEtcdError(error, ETCD_ERROR.keyNotFound, ETCD_ERROR.testFailed)) return 0;
            throw error;
          }
        }),
      );
      for (const n of done) count += n;
    }
    return count;
  }

  /** How many messages wait in the queue (Kombu's `_size`). */
  async size(queue: string): Promise<number> {
    return (await this.#list(queue)).nodes.length;
  }

  /** Removes the queue's directory and its messages (Kombu's `_delete`). */
  async delete(queue: string): Promise<void> {
    this.#listings.forget(queue);
    try {
      await this.#client.delete(this.#dir(queue), { recursive: true });
    } catch (error) {
      if (!isEtcdError(error, ETCD_ERROR.keyNotFound)) throw error;
    }
  }
}
