/**
 * The contract between the virtual base and a plain queue store (Kombu's five primitives).
 *
 * A backend stores {@link StoredMessage}s in named queues. The virtual channel adds exchanges,
 * bindings, QoS, delivery tags and restore on top. Backends are composed into a channel, not
 * subclassed: optional members let a store do better than the default (block on receive, keep
 * bindings where other processes see them) and a {@link Lease} keeps unacked messages on the
 * server.
 *
 * @module
 */

import type { Body } from "../body.ts";
import type { MessageProperties } from "../transport.ts";

/**
 * A message as the virtual base keeps it. Backends that persist turn it into Kombu's JSON
 * envelope with `src/envelope.ts`; in-process backends keep the object as it is.
 */
export interface StoredMessage {
  /** The serialized (maybe compressed) body; a string stands for its UTF-8 bytes. */
  body: Body;
  /** Properties as published (camelCase). */
  properties: MessageProperties;
  /** Exchange it was published to. */
  exchange: string;
  /** Routing key it was published with. */
  routingKey: string;
  /** The Kombu delivery tag (uuid4) it was given at publication. */
  tag: string;
  /** True when it went back to a queue after a delivery that was not acknowledged. */
  redelivered: boolean;
  /** Opaque data of the backend (receipt handle, raw text); never put on the wire by the base. */
  backendData?: unknown;
  /**
   * When the store's lease on this message began (ms since the epoch: Redis's fetch, an SQS or
   * Azure receive), for a store whose lease can be extended and which may hold a message a while
   * before the base delivers it (read-ahead, buffered receives). The base renews counting from
   * it; absent, from the delivery.
   */
  leasedAt?: number;
  /**
   * How often the store has handed this message out, this time included (SQS
   * `ApproximateReceiveCount`, Azure `DequeueCount`); above 1 the base marks it redelivered.
   */
  deliveryCount?: number;
  /**
   * The store may hold this message twice (a send retried after an answer was lost); the base
   * shows it to the consumer as header {@link POSSIBLE_DUPLICATE_HEADER}.
   */
  possibleDuplicate?: boolean;
  /**
   * Envelope fields wakame does not model (unknown top-level keys, unknown `properties` and
   * `delivery_info` keys), in the envelope's own snake_case layout. `src/envelope.ts` fills it
   * when reading a message written by another Kombu and writes it back, so a restore or requeue
   * loses nothing. Keep it when copying a message.
   */
  envelopeExtras?: Record<string, unknown>;
}

/** One row of a binding table: queue `queue` gets messages of `routingKey` (or headers). */
export interface Binding {
  /** Queue that receives. */
  queue: string;
  /** Routing key or topic pattern; empty for fanout. */
  routingKey: string;
  /** Headers-exchange match arguments (x-match and the headers). */
  arguments?: Record<string, unknown>;
  /**
   * Kombu's stored pattern (a regex for topic bindings, else empty), written by stores that
   * share bindings with Python peers; routing never reads it.
   */
  pattern?: string;
}

/** Where bindings live (in-process by default; Redis keeps them in `_kombu.binding.*`). */
export interface BindingStore {
  /** Adds a binding (idempotent). */
  add(exchange: string, binding: Binding): Promise<void>;
  /** Removes a binding. */
  remove(exchange: string, binding: Binding): Promise<void>;
  /** Lists the bindings of an exchange. */
  list(exchange: string): Promise<Binding[]>;
  /** Forgets an exchange and its bindings. */
  deleteExchange(exchange: string): Promise<void>;
}

/**
 * The header a consumer sees (`true`) on a message the store may hold twice: a send was retried
 * after an attempt whose answer was lost. Stores report it with
 * {@link StoredMessage.possibleDuplicate}; the base sets the header.
 */
export const POSSIBLE_DUPLICATE_HEADER = "x-wakame-possible-duplicate";

/** Where a released message goes in its queue. */
export interface ReleaseOptions {
  /**
   * `back` for a reject with requeue (Kombu's LPUSH), `front` for a restore (channel close,
   * recover, a fetched message nobody took: Kombu's RPUSH). Stores that release in place (by
   * visibility) ignore it.
   */
  position: "back" | "front";
}

/**
 * A store's hold on delivered messages until they are settled (Redis `unacked`, SQS receipt
 * handles, Azure pop receipts). Without one, the virtual base keeps unacknowledged messages in
 * memory and puts them back on close.
 *
 * The base marks a released message redelivered (`message.redelivered`) before it calls
 * {@link Lease.release}; a lease writes the message as it is given.
 */
export interface Lease {
  /**
   * The message is done: `ack`, or `reject` (without requeue; a dead-letter policy may keep
   * it). No-ack deliveries are settled as soon as they are handed out.
   */
  settle(queue: string, message: StoredMessage, outcome: "ack" | "reject"): Promise<void>;
  /** Makes the message available again in `queue` (marked redelivered by the base, or not). */
  release(queue: string, message: StoredMessage, options: ReleaseOptions): Promise<void>;
  /**
   * Keeps the message hidden `ms` longer. With it (and {@link Lease.duration}) the base renews
   * the lease of every unacknowledged delivery before it runs out.
   */
  extend?(queue: string, message: StoredMessage, ms: number): Promise<void>;
  /** How long a lease lasts from delivery or the last extension, in ms (for renewal). */
  readonly duration?: number;
}

/** Options of {@link QueueBackend.getMany}. */
export interface GetManyOptions {
  /** Most messages to return, over all queues. */
  max: number;
  /**
   * Most messages to take from one queue (the base's share per queue, so that one busy queue
   * cannot fill the round); `max` when absent.
   */
  perQueue?: number;
  /** Aborted when the caller stops waiting; resolve with what you have (maybe nothing). */
  signal: AbortSignal;
}

/** Messages taken from one queue in one round, oldest first. */
export interface QueueBatch {
  /** The queue they come from. */
  readonly queue: string;
  /** The messages (at least one). */
  readonly messages: StoredMessage[];
}

/** A plain queue store: what a transport writes to add a backend to the virtual base. */
export interface QueueBackend {
  /** Appends a message to a queue (creating the queue if the store needs that). */
  put(queue: string, message: StoredMessage): Promise<void>;
  /** Takes the oldest message, or `undefined` when the queue is empty. */
  get(queue: string): Promise<StoredMessage | undefined>;
  /** Removes every message; resolves to how many. */
  purge(queue: string): Promise<number>;
  /** How many messages wait in the queue. */
  size(queue: string): Promise<number>;
  /** Removes the queue and its messages. */
  delete(queue: string): Promise<void>;
  /** Creates the queue where the store needs that (Azure, SQS); optional. */
  declare?(queue: string, args: Record<string, unknown>): Promise<void>;
  /**
   * Tells whether the queue exists (Kombu's `_has_queue`), so a passive declaration of a
   * missing queue fails with 404. Stores that cannot tell leave it out: every queue exists.
   */
  exists?(queue: string): Promise<boolean>;
  /**
   * Waits until at least one of `queues` has a message (or the signal aborts) and takes up to
   * `max` of them, at most `perQueue` from one queue, visiting the queues in the order given
   * (the base rotates it). Returns one batch per queue that gave something; the base
   * interleaves them. Without it the base polls with `get`.
   */
  getMany?(queues: readonly string[], options: GetManyOptions): Promise<QueueBatch[]>;
  /** Fanout delivered by the store itself (Redis PUB/SUB) instead of per-queue copies. */
  putFanout?(exchange: string, message: StoredMessage, routingKey: string): Promise<void>;
  /**
   * Called when `queue` is bound to the fanout exchange `exchange`, for stores with their own
   * fanout ({@link QueueBackend.putFanout}): from then on `get`/`getMany` of that queue also
   * receive what is published to the exchange.
   */
  bindFanout?(exchange: string, queue: string, routingKey: string): Promise<void>;
  /** Where bindings live when other processes must see them. */
  readonly bindings?: BindingStore;
  /** The store's hold on delivered messages, where it has one. */
  readonly lease?: Lease;
  /** Releases the store's resources (sockets, timers). */
  close?(): Promise<void>;
}
