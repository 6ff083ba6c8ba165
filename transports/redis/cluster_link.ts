/**
 * Redis Cluster redirections for the command link. Every key of the transport lives in one
 * hash slot (the hash tag of `globalKeyprefix`), so one node serves everything: the link
 * follows that slot's owner.
 *
 * - `-MOVED <slot> <host>:<port>`: the slot has a new owner for good. The command link (and
 *   the subscriber link, whose client id the tracking redirect names) moves there, and the
 *   command is sent again.
 * - `-ASK <slot> <host>:<port>`: the slot is being migrated and this key is already on the
 *   target. `ASKING` and the command go to the target, once; the slot stays with its owner.
 * - `-TRYAGAIN` (a multi-key command or script whose keys are split by a migration) and
 *   `-CLUSTERDOWN` (no owner for the moment, as during a failover): sent again after a wait
 *   that grows up to half a second, for about thirteen seconds in all; then the command fails
 *   with a `ConnectionError`, which callers retry as a lost connection.
 *
 * A transaction (`MULTI` ... `EXEC`, sent in one tick) is redirected as a whole: a queued
 * command refused with a redirection aborts the `EXEC`, and the block is sent again.
 *
 * @module
 */

import { ConnectionError } from "../../src/errors.ts";
import type { RedisLink } from "./driver.ts";
import type { SendOptions } from "./resp/client.ts";
import { type RespArg, RespErrorReply, type RespValue } from "./resp/types.ts";

/** Where the cluster sent a command. */
export interface Redirection {
  /** `MOVED` (for good) or `ASK` (this command only). */
  readonly kind: "MOVED" | "ASK";
  /** The hash slot. */
  readonly slot: number;
  /** The node's host; empty when the server did not know its own (use the current host). */
  readonly hostname: string;
  /** The node's port. */
  readonly port: number;
}

/**
 * Reads a `-MOVED` or `-ASK` error reply.
 *
 * @param reply any reply
 * @returns the redirection, or undefined for any other reply
 */
export function readRedirection(reply: RespValue): Redirection | undefined {
  if (!(reply instanceof RespErrorReply)) return undefined;
  const match = /^(MOVED|ASK) (\d+) (\S*):(\d+)/.exec(reply.message);
  if (!match) return undefined;
  const host = match[3].startsWith("[") ? match[3].slice(1, -1) : match[3];
  return {
    kind: match[1] as "MOVED" | "ASK",
    slot: Number(match[2]),
    hostname: host,
    port: Number(match[4]),
  };
}

/** The replies worth a retry after a wait: a split migration or a cluster without an owner. */
function retryLater(reply: RespValue): boolean {
  return reply instanceof RespErrorReply &&
    (reply.code === "TRYAGAIN" || reply.code === "CLUSTERDOWN");
}

/** What the redirecting link needs from the store's links. */
export interface ClusterHome {
  /** The command link to the slot owner, opened when needed. */
  current(): Promise<RedisLink>;
  /** The command link to the slot owner when it is open, else undefined. */
  openNow(): RedisLink | undefined;
  /**
   * The slot moved: reopen the links at the new owner.
   *
   * @returns true when `from` was the command link and is now closed; false when it was
   *   already replaced
   */
  relocate(from: RedisLink, hostname: string, port: number): boolean;
  /** Opens a command link to another node (the target of an `ASK`). */
  openAt(hostname: string, port: number): Promise<RedisLink>;
  /** True once the store is closed. */
  readonly isClosed: boolean;
}

const MAX_ATTEMPTS = 30;

function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** attempt, 500)));
}

interface Queued {
  readonly args: readonly RespArg[];
  readonly resolve: (value: RespValue) => void;
  readonly reject: (error: unknown) => void;
}

/** The command link of cluster mode: follows the slot owner; see the module text. */
export class ClusterLink implements RedisLink {
  onMessage: RedisLink["onMessage"];
  readonly #home: ClusterHome;
  readonly #asking = new Map<string, Promise<RedisLink>>();
  readonly #retired = new WeakSet<RedisLink>();
  /** Commands in flight per `ASK` link; dropped links close when theirs are answered. */
  readonly #busy = new Map<RedisLink, number>();
  readonly #dropped = new WeakSet<RedisLink>();
  #block: Queued[] | undefined;
  #closed = false;
  readonly #resolveClosed: (error: Error | undefined) => void;
  /** Resolves when the store closes this link. */
  readonly closed: Promise<Error | undefined>;

  /**
   * Makes the link (it opens nothing).
   *
   * @param home the store's links
   */
  constructor(home: ClusterHome) {
    this.#home = home;
    let resolve!: (error: Error | undefined) => void;
    this.closed = new Promise((r) => (resolve = r));
    this.#resolveClosed = resolve;
  }

  /** True until closed: a lost node is reopened on the next send. */
  get isOpen(): boolean {
    return !this.#closed && !this.#home.isClosed;
  }

  /**
   * Sends a command to the slot owner, following redirections. `MULTI` starts a block that is
   * sent with its `EXEC` (or `DISCARD`).
   *
   * @param args the command
   * @param options a reply timeout
   * @returns the reply
   * @throws {ConnectionError} when a node cannot be reached, or the cluster still redirects
   *   or answers `-CLUSTERDOWN` / `-TRYAGAIN` after every attempt
   */
  send(args: readonly RespArg[], options?: SendOptions): Promise<RespValue> {
    const name = String(args[0]).toUpperCase();
    if (this.#block === undefined && name !== "MULTI") {
      return this.#run([args], options).then((r) => r[0]);
    }
    return new Promise((resolve, reject) => {
      if (name === "MULTI") this.#block = [];
      this.#block!.push({ args, resolve, reject });
      if (name === "EXEC" || name === "DISCARD") {
        const block = this.#block!;
        this.#block = undefined;
        this.#run(block.map((q) => q.args), options).then(
          (replies) => block.forEach((q, i) => q.resolve(replies[i])),
          (error) => block.forEach((q) => q.reject(error)),
        );
      }
    });
  }

  /** Sends commands in one tick; redirects or retries them as one. */
  async #run(
    commands: readonly (readonly RespArg[])[],
    options?: SendOptions,
  ): Promise<RespValue[]> {
    let replies: RespValue[] = [];
    let ask: Redirection | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (this.#closed) {
        throw new ConnectionError("Cannot use the Redis cluster link: it is closed");
      }
      let link: RedisLink | undefined;
      try {
        // The open link at once (no await): commands sent in one tick stay together, in order.
        const to: RedisLink = link = ask
          ? await this.#askLink(ask)
          : this.#home.openNow() ?? await this.#home.current();
        // One tick, in order: ASKING covers the command (or the whole MULTI block) behind it.
        const sends = (ask ? [["ASKING"], ...commands] : commands).map((args) =>
          to.send(args, options)
        );
        if (ask) this.#busy.set(to, (this.#busy.get(to) ?? 0) + 1);
        try {
          replies = await Promise.all(sends);
        } finally {
          if (ask) this.#idle(to);
        }
        if (ask) replies.shift();
      } catch (error) {
        // Closing a link retired by a MOVED fails its commands in flight; the server refused
        // them (the slot had moved before they arrived): send them again.
        if (error instanceof ConnectionError && link && this.#retired.has(link)) continue;
        throw error;
      }
      const redirection = replies.map(readRedirection).find((r) => r !== undefined);
      if (redirection?.kind === "MOVED") {
        ask = undefined;
        this.#dropAsking();
        if (this.#home.relocate(link, redirection.hostname, redirection.port)) {
          this.#retired.add(link);
        }
        // Moved again and again: the cluster is still electing a new owner (failover).
        if (attempt > 1) await pause(attempt);
        continue;
      }
      if (redirection?.kind === "ASK" && !ask) {
        ask = redirection;
        continue;
      }
      if (replies.some(retryLater) || (redirection?.kind === "ASK")) {
        // An ASK answered by an ASK, or keys split by the migration: wait, ask the owner again.
        ask = undefined;
        await pause(attempt);
        continue;
      }
      return replies;
    }
    // Still no owner (a failover that takes longer than cluster-node-timeout allows): the
    // server is unavailable for now, which a caller retries as any lost connection.
    const last = replies.find((r) => r instanceof RespErrorReply) as RespErrorReply | undefined;
    throw new ConnectionError(
      `Cannot send to the Redis cluster: still "${last?.message}" after ${MAX_ATTEMPTS} attempts`,
      { cause: last },
    );
  }

  #askLink(to: Redirection): Promise<RedisLink> {
    const key = `${to.hostname}:${to.port}`;
    let opening = this.#asking.get(key);
    if (opening) {
      return opening.then((link) => {
        if (link.isOpen) return link;
        this.#asking.delete(key);
        return this.#askLink(to);
      });
    }
    opening = this.#home.openAt(to.hostname, to.port);
    opening.catch(() => this.#asking.delete(key));
    this.#asking.set(key, opening);
    return opening;
  }

  /**
   * Forgets the `ASK` links (the migration is over). A link closes once its commands in flight
   * have their replies: the importing node may have run them, so they must not be cut off and
   * sent again.
   */
  #dropAsking(): void {
    for (const opening of this.#asking.values()) {
      opening.then((link) => {
        this.#dropped.add(link);
        this.#idle(link, 0);
      }).catch(() => undefined);
    }
    this.#asking.clear();
  }

  #idle(link: RedisLink, done = 1): void {
    const busy = (this.#busy.get(link) ?? 0) - done;
    if (busy > 0) {
      this.#busy.set(link, busy);
      return;
    }
    this.#busy.delete(link);
    if (this.#dropped.has(link) || this.#closed) link.close().catch(() => undefined);
  }

  /** Closes the links opened for `ASK` (the store closes the command link itself). */
  close(): Promise<void> {
    this.#closed = true;
    this.#dropAsking();
    this.#resolveClosed(undefined);
    return Promise.resolve();
  }
}
