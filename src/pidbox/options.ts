/**
 * The options of a pidbox {@link Mailbox} and of its `broadcast` / `call` (durations in
 * milliseconds).
 *
 * @module
 */

import type { Connection } from "../connection.ts";
import type { ProducerPool } from "../pools.ts";
import type { ExchangeType } from "../transport.ts";
import type { LamportClock } from "../utils/clock.ts";
import type { MatcherRegistry } from "../utils/matcher.ts";
import type { PidboxReply } from "./wire.ts";

/** Options of a {@link Mailbox} (Kombu's keyword arguments; durations in milliseconds). */
export interface MailboxOptions {
  /** Exchange type of `<namespace>.pidbox`: `direct` (Kombu's default) or `fanout` (Celery). */
  type?: ExchangeType;
  /** The connection to use; see {@link Mailbox.bind}. */
  connection?: Connection;
  /** The Lamport clock stamped on requests and replies (default: a new one). */
  clock?: LamportClock;
  /** Content types accepted in replies and requests (default `["json"]`, as Kombu). */
  accept?: readonly string[];
  /** Serializer of requests and replies (default `json`). */
  serializer?: string;
  /** Message TTL of node queues in ms (x-message-ttl; Celery uses 300 000). */
  queueTtl?: number;
  /** Node queues expire after this many ms unused (x-expires; Celery uses 10 000). */
  queueExpires?: number;
  /** Message TTL of the reply queue in ms (x-message-ttl). */
  replyQueueTtl?: number;
  /** The reply queue expires after this many ms unused (x-expires; default 10 000). */
  replyQueueExpires?: number | null;
  /** The registry resolving `matcher` names (default: the global one). */
  matchers?: MatcherRegistry;
  /**
   * Publish requests and replies with producers from this pool (Kombu's `producer_pool`;
   * Celery passes its own) instead of a producer on the mailbox's connection.
   */
  producerPool?: ProducerPool;
}

/** Options of {@link Mailbox.broadcast}. */
export interface BroadcastOptions {
  /** Keyword arguments of the command. */
  arguments?: Record<string, unknown>;
  /** Hostnames to address; omit for every node. */
  destination?: readonly string[];
  /** A hostname pattern instead of a list (matched by the nodes). */
  pattern?: string;
  /** The pattern's matcher, `glob` (default when a pattern is given) or `pcre`. */
  matcher?: string;
  /** Collect replies (default false). */
  reply?: boolean;
  /**
   * When collecting: stop after this many ms without a reply (Kombu's `timeout`, seconds
   * there); default 1000.
   */
  timeout?: number;
  /** When collecting: stop after this many replies (default: the number of destinations). */
  limit?: number;
  /** Called with each reply as it arrives. */
  callback?: (reply: PidboxReply) => void;
  /** Serializer for this request. */
  serializer?: string;
  /** Stops collecting early; the replies so far are returned. */
  signal?: AbortSignal;
}

/** Options of {@link Mailbox.call} and {@link Mailbox.multiCall}. */
export type CallOptions = Pick<
  BroadcastOptions,
  "timeout" | "limit" | "callback" | "signal" | "serializer" | "pattern" | "matcher"
>;
