/**
 * wakame's hold on delivered etcd messages, which Kombu's etcd transport does not have (it
 * deletes a message when it reads it, so a consumer that dies loses what it held).
 *
 * Taking a message moves it to a record `<unackedPrefix>/<queue>/<key name>` whose value is
 * `{"deadline": <ms since the epoch>, "envelope": "<Kombu's envelope text>"}`:
 *
 * 1. `PUT` the record with `prevExist=false`: the claim among wakame consumers (one wins);
 * 2. `DELETE` the message with `prevIndex`: the claim against Kombu's consumers, which delete
 *    without a condition. When it fails another consumer has the message and the record goes.
 *
 * An ack deletes the record; a requeue appends the envelope (marked redelivered) to the queue
 * and deletes the record; the base renews the deadline while the delivery is unacknowledged
 * (compare-and-swap on the record's index). A sweep run by every consuming wakame connection
 * puts back the records whose deadline passed: it first moves the deadline (compare-and-swap,
 * so one sweeper wins), then appends, then deletes. A failure between two steps can deliver a
 * message twice, never lose it. Records live outside Kombu's prefix, where Kombu never looks.
 *
 * @module
 */

import { decodeEnvelope, encodeEnvelope } from "../../src/envelope.ts";
import { etcdQueueKey } from "./keys.ts";
import type { Lease, ReleaseOptions, StoredMessage } from "../../src/virtual/backend.ts";
import { decodeOrWrap } from "../_http/foreign.ts";
import { ETCD_ERROR, type EtcdClient, type EtcdNode, isEtcdError } from "./client.ts";

/** What a delivered message carries in `backendData`. */
export interface EtcdClaim {
  /** The record's key. */
  readonly record: string;
  /** The record's `modifiedIndex` (the condition of the next change). */
  index: number;
  /** The envelope text as stored. */
  readonly envelope: string;
}

/** The record's value. */
interface RecordValue {
  deadline: number;
  envelope: string;
}

function recordValue(deadline: number, envelope: string): string {
  return JSON.stringify({ deadline, envelope } satisfies RecordValue);
}

function lastSegment(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

/** The unacked records of one connection's store. */
export class EtcdLease implements Lease {
  readonly #client: EtcdClient;
  readonly #unacked: string;
  readonly #prefix: string;
  readonly #warn: (message: string, error?: unknown) => void;
  /** Milliseconds a record lives without renewal. */
  readonly duration: number;

  /**
   * Makes the lease.
   *
   * @param client the etcd client
   * @param unackedPrefix directory of the records
   * @param prefix the queues' directory
   * @param duration the visibility timeout, ms
   * @param warn where survived failures go
   */
  constructor(
    client: EtcdClient,
    unackedPrefix: string,
    prefix: string,
    duration: number,
    warn: (message: string, error?: unknown) => void,
  ) {
    this.#client = client;
    this.#unacked = unackedPrefix;
    this.#prefix = prefix;
    this.duration = duration;
    this.#warn = warn;
  }

  #record(queue: string, name: string): string {
    return `${this.#unacked}/${queue}/${name}`;
  }

  /**
   * Takes one message node of `queue` into a record, or finds it taken.
   *
   * @param queue the queue
   * @param node the message's node
   * @returns the message, or `undefined` when another consumer has it
   */
  async claim(queue: string, node: EtcdNode): Promise<StoredMessage | undefined> {
    const envelope = node.value ?? "";
    const record = this.#record(queue, lastSegment(node.key));
    let index: number;
    try {
      const created = await this.#client.put(record, {
        value: recordValue(Date.now() + this.duration, envelope),
        prevExist: false,
      });
      index = created.node.modifiedIndex;
    } catch (error) {
      if (isEtcdError(error, ETCD_ERROR.nodeExist)) return undefined;
      throw error;
    }
    try {
      await this.#client.delete(node.key, { prevIndex: node.modifiedIndex });
    } catch (error) {
      await this.#client.delete(record, { prevIndex: index }).catch((e) =>
        this.#warn(`Cannot drop the record "${record}" of a message taken by another`, e)
      );
      if (isEtcdError(error, ETCD_ERROR.keyNotFound, ETCD_ERROR.testFailed)) return undefined;
      throw error;
    }
    const [message] = decodeOrWrap(envelope);
    message.backendData = { record, index, envelope } satisfies EtcdClaim;
    message.leasedAt = Date.now();
    return message;
  }

  /** Deletes the record: the message is done. */
  async settle(_queue: string, message: StoredMessage, _outcome: "ack" | "reject"): Promise<void> {
    const claim = message.backendData as EtcdClaim;
    try {
      await this.#client.delete(claim.record, { prevIndex: claim.index });
    } catch (error) {
      if (!isEtcdError(error, ETCD_ERROR.keyNotFound, ETCD_ERROR.testFailed)) throw error;
      this.#warn(
        `The record "${claim.record}" was put back after its visibility timeout before the ` +
          "acknowledgement: the message is delivered again",
        error,
      );
    }
  }

  /** Appends the message (as the base marked it) to its queue, then deletes the record. */
  async release(queue: string, message: StoredMessage, _options: ReleaseOptions): Promise<void> {
    const copy = { ...message, backendData: undefined, leasedAt: undefined };
    await this.#client.append(etcdQueueKey(this.#prefix, queue), encodeEnvelope(copy));
    await this.settle(queue, message, "reject");
  }

  /** Moves the record's deadline `ms` from now. */
  async extend(_queue: string, message: StoredMessage, ms: number): Promise<void> {
    const claim = message.backendData as EtcdClaim;
    const answer = await this.#client.put(claim.record, {
      value: recordValue(Date.now() + ms, claim.envelope),
      prevIndex: claim.index,
    });
    claim.index = answer.node.modifiedIndex;
  }

  /**
   * Puts back every record whose deadline passed (any queue, any consumer).
   *
   * @returns how many messages went back
   */
  async sweep(): Promise<number> {
    let root: EtcdNode;
    try {
      root = (await this.#client.get(this.#unacked, { recursive: true })).node;
    } catch (error) {
      if (isEtcdError(error, ETCD_ERROR.keyNotFound)) return 0;
      throw error;
    }
    const now = Date.now();
    let restored = 0;
    for (const dir of root.nodes ?? []) {
      const queue = lastSegment(dir.key);
      for (const record of dir.nodes ?? []) {
        let value: RecordValue;
        try {
          value = JSON.parse(record.value ?? "");
        } catch (error) {
          this.#warn(`Cannot read the unacked record "${record.key}"; it stays`, error);
          continue;
        }
        if (!(value.deadline <= now)) continue;
        if (await this.#restore(queue, record, value.envelope)) restored++;
      }
    }
    return restored;
  }

  async #restore(queue: string, record: EtcdNode, envelope: string): Promise<boolean> {
    let index: number;
    try {
      const moved = await this.#client.put(record.key, {
        value: recordValue(Date.now() + this.duration, envelope),
        prevIndex: record.modifiedIndex,
      });
      index = moved.node.modifiedIndex;
    } catch (error) {
      if (isEtcdError(error, ETCD_ERROR.keyNotFound, ETCD_ERROR.testFailed)) return false;
      throw error;
    }
    let text = envelope;
    try {
      text = encodeEnvelope({ ...decodeEnvelope(envelope), redelivered: true });
    } catch {
      // Not Kombu's envelope: it goes back as it was.
    }
    await this.#client.append(etcdQueueKey(this.#prefix, queue), text);
    await this.#client.delete(record.key, { prevIndex: index }).catch((error) =>
      this.#warn(`Cannot delete the restored record "${record.key}"`, error)
    );
    return true;
  }
}
