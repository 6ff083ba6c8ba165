/**
 * Kombu's ZooKeeper layout (`kombu/transport/zookeeper.py` over kazoo's `Queue` recipe): the
 * virtual host is a znode (`/` by default), each queue a child of it, each message a sequential
 * child `entry-PPP-NNNNNNNNNN` of the queue, where `PPP` is `9 - priority` on three digits (so
 * that sorting the names gives the highest priority first, then publication order).
 *
 * @module
 */

import { PreconditionFailedError } from "../../src/errors.ts";

/** Kombu's highest priority (the virtual channel's `max_priority`). */
export const MAX_PRIORITY = 9;

/**
 * The znode of a virtual host: `/` + the name without its slashes (Kombu's `_vhost`).
 *
 * @param virtualHost the URL's virtual host
 * @returns `/` or `/name`
 */
export function vhostPath(virtualHost: string): string {
  return `/${virtualHost.replace(/^\/+|\/+$/g, "")}`;
}

/**
 * Joins a parent znode and a child name (`os.path.join` for these).
 *
 * @param parent a znode path
 * @param name a child name
 * @returns the child's path
 */
export function childPath(parent: string, name: string): string {
  return parent === "/" ? `/${name}` : `${parent}/${name}`;
}

/**
 * The znode of a queue.
 *
 * @param vhost the virtual host's znode
 * @param queue the queue name
 * @returns its path
 * @throws {PreconditionFailedError} for a name ZooKeeper would read as a path
 */
export function queuePath(vhost: string, queue: string): string {
  if (
    queue === "" || queue.includes("/") || queue === "." || queue === ".." || queue === "zookeeper"
  ) {
    throw new PreconditionFailedError(
      `Cannot use queue "${queue}" on ZooKeeper: a queue name must be a znode name without "/"`,
      { replyCode: 406 },
    );
  }
  return childPath(vhost, queue);
}

/**
 * The name prefix of a message of `priority` (kazoo's `entry-%03d-` of Kombu's reversed
 * priority: `max(min(int(priority), 9), 0)`, 0 when absent or not a number).
 *
 * @param priority the message's priority property
 * @returns `entry-PPP-`
 */
export function entryPrefix(priority: unknown): string {
  let p = Math.trunc(Number(priority ?? 0));
  if (!Number.isFinite(p)) p = 0;
  p = Math.max(0, Math.min(MAX_PRIORITY, p));
  return `entry-${String(MAX_PRIORITY - p).padStart(3, "0")}-`;
}

/**
 * The priority digits of an entry name, to put a message back at its priority.
 *
 * @param name `entry-PPP-NNNNNNNNNN` (maybe after a prefix)
 * @returns `entry-PPP-`, or Kombu's default priority's when the name has none
 */
export function entryPrefixOf(name: string): string {
  const match = /entry-(\d{3})-\d+$/.exec(name);
  return match ? `entry-${match[1]}-` : entryPrefix(0);
}
