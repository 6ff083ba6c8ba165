/**
 * Kombu's etcd key of a queue.
 *
 * @module
 */

import { PreconditionFailedError } from "../../src/errors.ts";

/**
 * The directory of a queue, `<prefix>/<queue>` (Kombu's `_key_prefix`).
 *
 * @param prefix the queues' directory (`kombu`)
 * @param queue the queue name
 * @returns its key
 * @throws {PreconditionFailedError} for a name etcd would read as a path
 */
export function etcdQueueKey(prefix: string, queue: string): string {
  if (queue === "" || queue.includes("/") || queue === "." || queue === "..") {
    throw new PreconditionFailedError(
      `Cannot use queue "${queue}" on etcd: a queue name must be a non-empty key segment ` +
        `without "/"`,
      { replyCode: 406 },
    );
  }
  return `${prefix}/${queue}`;
}
