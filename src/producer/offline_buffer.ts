/**
 * The producer's offline buffer: publishes made while the connection is down and recovering
 * are held, in order, within a size and a time limit, and sent once the connection is back. A
 * held publish resolves only when the channel took the message (on a confirming channel, when
 * the broker confirmed it); past the limits it rejects at once, and nothing held is ever dropped
 * in silence: a timed-out, a refused or a closed publish rejects.
 *
 * Kombu has no such buffer (its `retry_policy` retries one publish); this is what
 * amqp-connection-manager's channel wrapper and BullMQ's offline queue do.
 *
 * @module
 */

import type { ConnectionInternals } from "../_connection_internals.ts";
import type { Revivable } from "../channel_source.ts";
import {
  ConfigurationError,
  ConnectionError,
  isRecoverable,
  LimitExceededError,
  TimeoutError,
} from "../errors.ts";
import type { BasicPublishOptions, Channel, OutgoingMessage } from "../transport.ts";

/** Limits of a producer's offline buffer (`conn.producer({ offlineBuffer })`). */
export interface OfflineBufferOptions {
  /** Most publishes held at once; one more rejects with `LimitExceededError`. */
  maxMessages: number;
  /** Most body bytes held at once (default: no limit besides `maxMessages`). */
  maxBytes?: number;
  /** Longest a publish is held, in ms; then it rejects with `TimeoutError`. */
  maxWaitMs: number;
}

/** One publish as the buffer holds it. */
export interface HeldPublish {
  /** The producer's publish number: held publishes go out in this order. */
  readonly seq: number;
  readonly exchange: string;
  readonly routingKey: string;
  readonly message: OutgoingMessage;
  readonly options: BasicPublishOptions | undefined;
  /** Declares what this publish needs on a channel (no-op when cached). */
  readonly declare: (channel: Channel) => Promise<void>;
}

interface Entry {
  held: HeldPublish;
  /** When it must have been handed to a channel (set when first held). */
  deadline: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The last recoverable failure, the cause of a timeout. */
  cause: unknown;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What the buffer needs of its producer and connection. */
export interface OfflineBufferHost {
  /** The connection's internals (attach, recovering, recover). */
  readonly internals: ConnectionInternals;
  /** The producer's channel (re-obtained after a reconnect). */
  channel(): Promise<Channel>;
  /** The connection's URL, masked, for error messages. */
  uri(): string;
  /** True once the connection was closed for good. */
  closed(): boolean;
}

function utf8Length(body: string | Uint8Array): number {
  if (typeof body !== "string") return body.byteLength;
  let bytes = 0;
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function describe(held: HeldPublish): string {
  return `Cannot publish to exchange "${held.exchange}" with routing key "${held.routingKey}"`;
}

/** Checks the options of an offline buffer. */
function checkOptions(options: OfflineBufferOptions): void {
  const { maxMessages, maxBytes, maxWaitMs } = options;
  if (!Number.isInteger(maxMessages) || maxMessages < 1) {
    throw new ConfigurationError(
      `Cannot make an offline buffer: maxMessages must be a whole number >= 1, not ${maxMessages}`,
    );
  }
  if (maxBytes !== undefined && !(maxBytes > 0)) {
    throw new ConfigurationError(
      `Cannot make an offline buffer: maxBytes must be > 0, not ${maxBytes}`,
    );
  }
  if (!(maxWaitMs > 0)) {
    throw new ConfigurationError(
      `Cannot make an offline buffer: maxWaitMs must be > 0, not ${maxWaitMs}`,
    );
  }
}

/**
 * Holds a producer's publishes while its connection recovers (internal to `Producer`).
 *
 * While it holds anything it is attached to the connection as something to revive, so a lost
 * connection is recovered even when no consumer runs; the recovery's `revive` sends what is held.
 */
export class OfflineBuffer implements Revivable {
  readonly #options: OfflineBufferOptions;
  readonly #host: OfflineBufferHost;
  readonly #held: Entry[] = [];
  /** Publishes the buffer owns (held, or sent and not yet settled) and their body bytes. */
  #count = 0;
  #bytes = 0;
  #flushing: Promise<void> | undefined;
  #attached = false;
  #closed: Error | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param options the limits
   * @param host the producer's channel and the connection's internals
   * @throws {ConfigurationError} for limits that are not positive
   */
  constructor(options: OfflineBufferOptions, host: OfflineBufferHost) {
    checkOptions(options);
    this.#options = options;
    this.#host = host;
  }

  /** True while publishes are held or being sent: a new publish must queue behind them. */
  get busy(): boolean {
    return this.#held.length > 0 || this.#flushing !== undefined;
  }

  /** Publishes held now, or sent from the buffer and not yet confirmed. */
  get size(): number {
    return this.#count;
  }

  /**
   * Holds a publish until the connection is back (or a limit is hit).
   *
   * @param held the publish
   * @param cause the failure that made it wait, if any
   * @returns settles when the message was sent (and confirmed), or rejects
   */
  hold(held: HeldPublish, cause?: unknown): Promise<void> {
    if (!this.#closed && this.#host.closed()) this.stop();
    if (this.#closed) {
      return Promise.reject(
        new ConnectionError(`${describe(held)}: ${this.#closed.message}`, { cause: this.#closed }),
      );
    }
    const bytes = utf8Length(held.message.body);
    const { maxMessages, maxBytes } = this.#options;
    if (
      this.#count >= maxMessages || (maxBytes !== undefined && this.#bytes + bytes > maxBytes)
    ) {
      const limit = maxBytes === undefined
        ? `${maxMessages} messages`
        : `${maxMessages} messages or ${maxBytes} bytes`;
      return Promise.reject(
        new LimitExceededError(
          `${describe(held)}: the offline buffer is full (${this.#count} messages, ` +
            `${this.#bytes} bytes held, limit ${limit}) while the connection to ` +
            `${this.#host.uri()} is down`,
          { cause },
        ),
      );
    }
    this.#count++;
    this.#bytes += bytes;
    return new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + this.#options.maxWaitMs;
      // The buffer stops counting a publish once it settles.
      let settled = false;
      const release = () => {
        if (settled) return false;
        settled = true;
        this.#count--;
        this.#bytes -= bytes;
        return true;
      };
      const entry: Entry = {
        held,
        deadline,
        timer: undefined,
        cause,
        resolve: () => {
          if (release()) resolve();
          this.#detachIfIdle();
        },
        reject: (error) => {
          if (release()) reject(error);
          this.#detachIfIdle();
        },
      };
      this.#insert(entry);
      this.#kick();
    });
  }

  /**
   * Holds a publish that failed on the way (the connection broke under it), or passes the
   * failure on when it is not a connection failure.
   *
   * @param sent the channel's publish
   * @param held what to hold when it fails
   * @returns the publish, held again after a recoverable failure
   */
  guard(sent: Promise<void>, held: () => HeldPublish): Promise<void> {
    return sent.then(undefined, (error) => {
      if (!isRecoverable(error) || this.#closed) throw error;
      return this.hold(held(), error);
    });
  }

  /** Inserts in publish order (a publish that failed in flight goes before later ones). */
  #insert(entry: Entry): void {
    const held = this.#held;
    let at = held.length;
    while (at > 0 && held[at - 1].held.seq > entry.held.seq) at--;
    held.splice(at, 0, entry);
    entry.timer = setTimeout(() => this.#expire(entry), Math.max(0, entry.deadline - Date.now()));
    if (!this.#attached) {
      this.#attached = true;
      this.#host.internals.attach(this);
    }
  }

  #remove(entry: Entry): boolean {
    const at = this.#held.indexOf(entry);
    if (at === -1) return false;
    this.#held.splice(at, 1);
    clearTimeout(entry.timer);
    entry.timer = undefined;
    this.#detachIfIdle();
    return true;
  }

  #detachIfIdle(): void {
    if (this.#attached && this.#count === 0 && this.#flushing === undefined) {
      this.#attached = false;
      this.#host.internals.detach(this);
    }
  }

  #expire(entry: Entry): void {
    if (!this.#remove(entry)) return;
    const cause = entry.cause;
    entry.reject(
      new TimeoutError(
        `${describe(entry.held)}: the connection to ${this.#host.uri()} was not back within ` +
          `maxWaitMs (${this.#options.maxWaitMs} ms)` +
          (cause instanceof Error ? ` (last failure: ${cause.message})` : ""),
        { cause },
      ),
    );
  }

  /** Gets what is held moving: a recovery revives this buffer, a live connection is sent to. */
  #kick(): void {
    const internals = this.#host.internals;
    internals.recover();
    if (!internals.recovering()) this.#flush();
  }

  /** Called by the connection's recovery once it is back: sends what is held. */
  revive(): Promise<void> {
    // Not awaited: consumers revived after this buffer must not wait for its confirms.
    this.#flush();
    return Promise.resolve();
  }

  /** The connection closed for good: every held publish rejects. */
  stop(): void {
    this.close(new ConnectionError(`the connection to ${this.#host.uri()} was closed`));
  }

  /**
   * Rejects every held publish and every later one.
   *
   * @param reason why (its message ends each rejection's message)
   */
  close(reason: Error = new ConnectionError("the producer was closed")): void {
    this.#closed ??= reason;
    clearTimeout(this.#retryTimer);
    for (const entry of [...this.#held]) {
      this.#remove(entry);
      entry.reject(
        new ConnectionError(`${describe(entry.held)}: ${reason.message}`, { cause: reason }),
      );
    }
  }

  #flush(): void {
    if (this.#flushing || this.#closed || this.#held.length === 0) return;
    clearTimeout(this.#retryTimer);
    this.#flushing = this.#send().finally(() => {
      this.#flushing = undefined;
      if (this.#held.length > 0) this.#retryLater();
      else this.#detachIfIdle();
    });
  }

  /** Sends what is held, in order, until nothing is left or the connection fails again. */
  async #send(): Promise<void> {
    while (this.#held.length > 0 && !this.#closed) {
      let failure: unknown;
      const batch = [...this.#held];
      for (const entry of batch) this.#remove(entry);
      const sent: Array<[Entry, Promise<void>]> = [];
      let at = 0;
      try {
        let channel = await this.#host.channel();
        for (; at < batch.length; at++) {
          const { held } = batch[at];
          if (!channel.isOpen) channel = await this.#host.channel();
          try {
            await held.declare(channel);
          } catch (error) {
            if (isRecoverable(error)) throw error;
            batch[at].reject(error);
            continue;
          }
          sent.push([
            batch[at],
            channel.basicPublish(held.exchange, held.routingKey, held.message, held.options),
          ]);
        }
      } catch (error) {
        failure = error;
      }
      // What was not handed to a channel waits again, in order.
      for (const entry of batch.slice(at)) this.#requeue(entry, failure);
      // Each settles as its confirm comes (handled at once: none is left unhandled meanwhile).
      await Promise.all(sent.map(([entry, promise]) =>
        promise.then(entry.resolve, (error) => {
          if (isRecoverable(error) && !this.#closed) {
            failure ??= error;
            this.#requeue(entry, error);
          } else entry.reject(error);
        })
      ));
      if (failure !== undefined) return;
    }
  }

  #requeue(entry: Entry, cause: unknown): void {
    if (this.#closed) {
      entry.reject(
        new ConnectionError(`${describe(entry.held)}: ${this.#closed.message}`, { cause }),
      );
      return;
    }
    entry.cause = cause;
    this.#insert(entry);
  }

  /**
   * After a failed send: a lost connection is recovered (and revives this buffer); one still up
   * (a failure that did not end it) is tried again shortly.
   */
  #retryLater(): void {
    if (this.#closed) return;
    const internals = this.#host.internals;
    internals.recover();
    if (internals.recovering()) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#kick(), 100);
  }
}
