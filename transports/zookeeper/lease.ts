/**
 * wakame's hold on delivered ZooKeeper messages, tied to its session. Kombu (kazoo's `Queue`
 * recipe) deletes a message when it reads it, so a consumer that dies loses what it held.
 *
 * Each session marks itself with an ephemeral node `<vhost>/wakame.sessions/<session id>`. A
 * taken message moves, in one transaction (`multi`: delete the entry at its version, create the
 * record), to `<vhost>/wakame.unacked/<queue>/<session id>.<entry name>`. An ack deletes the
 * record; a requeue moves it back (same transaction shape) as a new entry of its priority,
 * marked redelivered. When a session ends without settling (the consumer was killed, or its
 * session expired), its marker goes with it, and a sweep by any wakame consumer moves its
 * records back to their queues: nothing is lost and, the moves being atomic, nothing doubled.
 * Kombu never looks under these nodes.
 *
 * @module
 */

import { encodeEnvelope } from "../../src/envelope.ts";
import type { Lease, ReleaseOptions, StoredMessage } from "../../src/virtual/backend.ts";
import type { ZkClient } from "./client.ts";
import { childPath, entryPrefixOf, queuePath } from "./paths.ts";
import { CREATE_MODE, isZkError, ZK_ERROR } from "./protocol.ts";
import { decodeOrWrap } from "../_http/foreign.ts";

/** What a delivered message carries in `backendData`. */
export interface ZkClaim {
  /** The record's path. */
  readonly record: string;
  /** The entry name it was taken from. */
  readonly entry: string;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** The unacked records of one session. */
export class ZkLease implements Lease {
  readonly #client: ZkClient;
  readonly #vhost: string;
  readonly #warn: (message: string, error?: unknown) => void;
  readonly #ensured = new Set<string>();
  #marker: Promise<void> = Promise.resolve();

  /**
   * Makes the lease of a session.
   *
   * @param client the session
   * @param vhost the virtual host's znode
   * @param warn where survived failures go
   */
  constructor(client: ZkClient, vhost: string, warn: (message: string, error?: unknown) => void) {
    this.#client = client;
    this.#vhost = vhost;
    this.#warn = warn;
  }

  get #sessions(): string {
    return childPath(this.#vhost, "wakame.sessions");
  }

  get #unacked(): string {
    return childPath(this.#vhost, "wakame.unacked");
  }

  #session(): string {
    return this.#client.sessionId.toString(16);
  }

  /**
   * Creates a path and its missing ancestors (kazoo's `ensure_path`).
   *
   * @param path the znode
   */
  async ensurePath(path: string): Promise<void> {
    if (this.#ensured.has(path)) return;
    const parts = path.split("/").filter((p) => p !== "");
    let current = "";
    for (const part of parts) {
      current += `/${part}`;
      try {
        await this.#client.call({
          op: "create",
          path: current,
          data: new Uint8Array(),
          mode: CREATE_MODE.persistent,
        });
      } catch (error) {
        if (!isZkError(error, ZK_ERROR.nodeExists)) throw error;
      }
    }
    this.#ensured.add(path);
  }

  /** Marks this session alive (again after a new session). */
  markSession(): Promise<void> {
    this.#marker = (async () => {
      await this.ensurePath(this.#sessions);
      try {
        await this.#client.call({
          op: "create",
          path: childPath(this.#sessions, this.#session()),
          data: new Uint8Array(),
          mode: CREATE_MODE.ephemeral,
        });
      } catch (error) {
        if (!isZkError(error, ZK_ERROR.nodeExists)) throw error;
      }
    })();
    return this.#marker;
  }

  /**
   * Moves one entry of `queue` into this session's record, or finds it taken.
   *
   * @param queue the queue
   * @param entry the entry's name
   * @param data its bytes
   * @param version its version
   * @returns the message, or `undefined` when another consumer has it
   */
  async claim(
    queue: string,
    entry: string,
    data: Uint8Array,
    version: number,
  ): Promise<StoredMessage | undefined> {
    await this.#marker;
    const dir = childPath(this.#unacked, queue);
    await this.ensurePath(dir);
    const record = childPath(dir, `${this.#session()}.${entry}`);
    try {
      await this.#client.call({
        op: "multi",
        ops: [
          { op: "delete", path: childPath(queuePath(this.#vhost, queue), entry), version },
          { op: "create", path: record, data, mode: CREATE_MODE.persistent },
        ],
      });
    } catch (error) {
      if (isZkError(error, ZK_ERROR.noNode, ZK_ERROR.badVersion)) return undefined;
      throw error;
    }
    const [message] = decodeOrWrap(fromUtf8.decode(data));
    message.backendData = { record, entry } satisfies ZkClaim;
    return message;
  }

  /** Deletes the record: the message is done. */
  async settle(_queue: string, message: StoredMessage, _outcome: "ack" | "reject"): Promise<void> {
    const { record } = message.backendData as ZkClaim;
    try {
      await this.#client.call({ op: "delete", path: record, version: -1 });
    } catch (error) {
      if (!isZkError(error, ZK_ERROR.noNode)) throw error;
      this.#warn(
        `The record "${record}" was put back after its session ended: the message is ` +
          "delivered again",
        error,
      );
    }
  }

  /** Moves the record back to its queue as a new entry of its priority, as marked. */
  async release(queue: string, message: StoredMessage, _options: ReleaseOptions): Promise<void> {
    const { record, entry } = message.backendData as ZkClaim;
    const text = encodeEnvelope({ ...message, backendData: undefined });
    try {
      await this.#moveBack(record, -1, queue, entryPrefixOf(entry), utf8.encode(text));
    } catch (error) {
      if (!isZkError(error, ZK_ERROR.noNode)) throw error;
      this.#warn(`The record "${record}" was already put back`, error);
    }
  }

  async #moveBack(
    record: string,
    version: number,
    queue: string,
    prefix: string,
    data: Uint8Array,
  ): Promise<void> {
    await this.#client.call({
      op: "multi",
      ops: [
        { op: "delete", path: record, version },
        {
          op: "create",
          path: childPath(queuePath(this.#vhost, queue), prefix),
          data,
          mode: CREATE_MODE.sequential,
        },
      ],
    });
  }

  /**
   * Moves back every record whose session ended (any queue).
   *
   * @returns how many messages went back
   */
  async sweep(): Promise<number> {
    const children = async (path: string): Promise<string[]> => {
      try {
        const answer = await this.#client.call({ op: "getChildren", path, watch: false });
        return answer.op === "getChildren" ? answer.children.sort() : [];
      } catch (error) {
        if (isZkError(error, ZK_ERROR.noNode)) return [];
        throw error;
      }
    };
    const queues = await children(this.#unacked);
    if (queues.length === 0) return 0;
    const alive = new Set(await children(this.#sessions));
    alive.add(this.#session());
    let restored = 0;
    for (const queue of queues) {
      const dir = childPath(this.#unacked, queue);
      for (const name of await children(dir)) {
        if (alive.has(name.slice(0, name.indexOf(".")))) continue;
        if (await this.#restore(queue, childPath(dir, name))) restored++;
      }
    }
    return restored;
  }

  async #restore(queue: string, record: string): Promise<boolean> {
    try {
      const answer = await this.#client.call({ op: "getData", path: record, watch: false });
      if (answer.op !== "getData") return false;
      let data = answer.data;
      const [message, foreign] = decodeOrWrap(fromUtf8.decode(data));
      if (!foreign) data = utf8.encode(encodeEnvelope({ ...message, redelivered: true }));
      await this.#moveBack(record, answer.stat.version, queue, entryPrefixOf(record), data);
      return true;
    } catch (error) {
      if (isZkError(error, ZK_ERROR.noNode, ZK_ERROR.badVersion)) return false;
      throw error;
    }
  }
}
