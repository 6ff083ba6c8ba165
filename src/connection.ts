/**
 * The broker connection (Kombu's `kombu.Connection`): URLs and failover, lazy connect, retries,
 * recovery of consumers after a connection loss, and the factories of producers and consumers.
 *
 * @module
 */

import { setConnectionInternals } from "./_connection_internals.ts";
import type { ChannelSource, EnsureOptions, Revivable } from "./channel_source.ts";
import { eitherSignal, withTimeout } from "./connection/_async.ts";
import { DrainGate } from "./connection/_drain.ts";
import { failoverCycle } from "./connection/failover.ts";
import { awaitRecovery, type Recovery, RECOVERY_POLICY } from "./connection/recovering.ts";
import { type ConnectionInfo, connectionInfo } from "./connection/info.ts";
import type { ConnectionOptions } from "./connection/options.ts";
import { withCurrentPassword } from "./connection/credentials.ts";
import { resolveParams } from "./connection/params.ts";
import { Consumer, type ConsumerOptions } from "./consumer.ts";
import type { Queue } from "./entity.ts";
import { ConfigurationError, ConnectionError, isRecoverable, KombuError } from "./errors.ts";
import { getLogger, redact } from "./logger.ts";
import { Producer, type ProducerOptions } from "./producer.ts";
import { retryOverTime, type RetryPolicy, roundDelays } from "./retry.ts";
import { SimpleBuffer, SimpleQueue, type SimpleQueueOptions } from "./simple.ts";
import {
  type Capabilities,
  type Channel,
  type Feature,
  hasFeature,
  type Transport,
  type TransportConnection,
  type TransportEvent,
} from "./transport.ts";
import { maskUrl, splitUrls } from "./url.ts";

export type { ConnectionOptions, FailoverStrategy } from "./connection/options.ts";
export type { EnsureOptions, Revivable } from "./channel_source.ts";

const log = getLogger("connection");

/**
 * A connection to a broker, made lazily.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection } from "@wakame/wakame";
 * await using conn = new Connection("memory://");
 * await conn.connect();
 * assert.ok(conn.connected);
 * assert.ok(conn.supports("topic"));
 * ```
 */
export class Connection implements ChannelSource {
  /** Receives out-of-band events (AMQP blocked / unblocked). */
  onEvent: ((event: TransportEvent) => void) | undefined;
  readonly #urls: readonly string[];
  readonly #options: ConnectionOptions;
  readonly #cycle: Iterator<string>;
  #url: string;
  #transport: Transport | undefined;
  #live: TransportConnection | undefined;
  #connecting: Promise<TransportConnection> | undefined;
  #defaultChannel: Channel | undefined;
  #defaultChannelOpening: Promise<Channel> | undefined;
  #closed = false;
  readonly #stop = new AbortController();
  readonly #attached = new Set<Revivable>();
  #recovering: Promise<void> | undefined;
  /** What a caller that does not run the recovery looks at while it runs. */
  readonly #recovery: Recovery<TransportConnection> = {
    live: () => this.#live,
    lastFailure: undefined,
    progress: () => this.#connecting ?? this.#recovering,
    stop: this.#stop.signal,
  };
  readonly #drain = new DrainGate();
  /** Keys of entities declared on the current connection (cleared on reconnect). */
  readonly #declared = new Set<string>();

  /**
   * Makes a connection; nothing is opened until it is used (or `connect()` is called).
   *
   * @param url one broker URL, several separated by `;`, or a list (default `memory://`)
   * @param options failover, transport options, timeouts, TLS
   * @throws {ConfigurationError} when no URL is given in a list
   */
  constructor(url: string | readonly string[] = "memory://", options: ConnectionOptions = {}) {
    const urls = (typeof url === "string" ? splitUrls(url) : url.flatMap(splitUrls))
      .concat((options.alternates ?? []).flatMap(splitUrls));
    if (urls.length === 0) throw new ConfigurationError("Cannot make a connection: no broker URL");
    this.#urls = urls;
    this.#options = options;
    this.#cycle = failoverCycle(urls, options.failoverStrategy);
    this.#url = this.#cycle.next().value;
    setConnectionInternals(this, {
      declared: this.#declared,
      activity: this.#drain,
      attach: (revivable) => this.#attached.add(revivable),
      detach: (revivable) => this.#attached.delete(revivable),
      recovering: () => this.#recovering !== undefined && this.#live === undefined,
      recover: () => {
        if (!this.#closed && this.#live === undefined && this.#attached.size > 0) this.#recover();
      },
    });
  }

  /** The URLs tried, in failover order, with passwords masked. */
  get alternates(): string[] {
    return this.#urls.map(maskUrl);
  }

  /** True while a transport connection is open. */
  get connected(): boolean {
    return this.#live !== undefined;
  }

  /** True once `close()` was called; a closed connection cannot be used again. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The transport's capabilities, once known (after `connect()`, or given as an object). */
  get capabilities(): Capabilities | undefined {
    const given = this.#options.transport;
    return this.#transport?.capabilities ??
      (typeof given === "object" ? given.capabilities : undefined);
  }

  /**
   * Tells whether the transport has a feature (from its Capabilities).
   *
   * @param feature an exchange type or a capability name
   * @returns true when the transport has it
   * @throws {ConfigurationError} before the transport is known: call `connect()` first
   */
  supports(feature: Feature): boolean {
    const capabilities = this.capabilities;
    if (!capabilities) {
      throw new ConfigurationError(
        `Cannot tell whether "${this.asUri()}" supports "${feature}": call connect() first`,
      );
    }
    return hasFeature(capabilities, feature);
  }

  /** The current URL with its password masked (Kombu's `as_uri()`). */
  asUri(options: { includePassword?: boolean } = {}): string {
    return options.includePassword ? this.#url : maskUrl(this.#url);
  }

  /** The parameters the current URL connects with, password masked (Kombu's `info()`). */
  async info(): Promise<ConnectionInfo> {
    return await connectionInfo(this.#url, this.#urls, this.#options, this.#stop.signal);
  }

  /** The current URL, masked. */
  toString(): string {
    return `<Connection: ${this.asUri()}>`;
  }

  /** JSON shows only the masked URL. */
  toJSON(): { uri: string } {
    return { uri: this.asUri() };
  }

  /** Node's and Bun's `util.inspect`: only the masked URL. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  /** Deno's `Deno.inspect`: only the masked URL. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  /** One attempt on the current URL; moves to the next URL when it fails. */
  async #attempt(): Promise<TransportConnection> {
    const url = this.#url;
    try {
      const { transport, params } = await resolveParams(
        url,
        this.#options,
        this.#stop.signal,
        this.#urls,
      );
      this.#transport = transport;
      const live = await withTimeout(
        withCurrentPassword(params, this.#options.password).then((p) => transport.connect(p)),
        params.connectTimeout,
        () => `Cannot connect to ${maskUrl(url)}: timed out after ${params.connectTimeout} ms`,
      );
      if (this.#closed) {
        await live.close();
        throw new ConnectionError(`Cannot connect to ${maskUrl(url)}: the connection was closed`);
      }
      this.#adopt(live);
      return live;
    } catch (error) {
      this.#recovery.lastFailure = error;
      if (this.#urls.length > 1) this.#url = this.#cycle.next().value;
      if (error instanceof KombuError) throw error;
      throw new ConnectionError(
        `Cannot connect to ${maskUrl(url)}: ${redact(String((error as Error)?.message ?? error))}`,
        { cause: error },
      );
    }
  }

  #adopt(live: TransportConnection): void {
    this.#live = live;
    this.#declared.clear();
    this.#defaultChannel = undefined;
    live.onEvent = (event) => this.onEvent?.(event);
    void live.closed.then((error) => this.#lost(live, error));
    log.info(`Connected to ${this.asUri()}`);
  }

  #lost(live: TransportConnection, error: Error | undefined): void {
    if (this.#live !== live) return;
    this.#live = undefined;
    this.#defaultChannel = undefined;
    this.#declared.clear();
    const failure = error ?? new ConnectionError(`Connection to ${this.asUri()} closed`);
    this.#drain.fail(failure);
    if (error && !this.#closed) {
      log.warn(`Connection to ${this.asUri()} lost:`, error);
      if (this.#attached.size > 0) this.#recover();
    }
  }

  /** Reconnects and revives attached consumers, until it works or the connection is closed. */
  #recover(): void {
    if (this.#recovering) return;
    const policy = { ...RECOVERY_POLICY, ...this.#options.recoveryPolicy };
    this.#recovering = (async () => {
      while (!this.#closed && !this.#live && this.#attached.size > 0) {
        try {
          await this.#open({ ...policy, signal: this.#stop.signal }, true);
          // One consumer that cannot start again must not keep the others down.
          for (const revivable of [...this.#attached]) {
            try {
              await revivable.revive();
            } catch (error) {
              if (isRecoverable(error)) throw error;
              log.error("Cannot revive a consumer after reconnecting:", error);
            }
          }
          log.info(`Connection to ${this.asUri()} recovered`);
        } catch (error) {
          if (this.#closed) return;
          log.error(`Cannot recover the connection to ${this.asUri()}:`, error);
          if (!isRecoverable(error)) return;
        }
      }
    })().finally(() => (this.#recovering = undefined));
  }

  /** Resolves once a running recovery is over (for tests and graceful shutdowns). */
  async recovered(): Promise<void> {
    await this.#recovering;
  }

  async #open(policy: RetryPolicy, own = false): Promise<TransportConnection> {
    if (this.#closed) throw new ConnectionError(`Cannot connect to ${this.asUri()}: closed`);
    if (this.#live) return this.#live;
    // Not the recovery's own connect (it may wait forever): as often as this policy says.
    if (!own && this.#recovering) return awaitRecovery(this.#recovery, this.asUri(), policy);
    // Kombu: the next alternate URL at once, the policy's wait after each full round.
    this.#connecting ??= retryOverTime(
      () => this.#attempt(),
      { ...policy, signal: eitherSignal(this.#stop.signal, policy.signal) },
      roundDelays(policy, this.#urls.length),
    ).finally(() => (this.#connecting = undefined));
    return await this.#connecting;
  }

  /**
   * Connects now, trying each failover URL once (Kombu's `connect()`).
   *
   * @returns this connection
   * @throws {ConnectionError} when no URL could be reached
   * @throws {ConfigurationError} for a bad URL or an unknown transport
   */
  async connect(): Promise<this> {
    await this.#open({ maxRetries: this.#urls.length - 1, intervalStart: 0, intervalStep: 0 });
    return this;
  }

  /**
   * Connects, retrying as the policy says (Kombu's `ensure_connection`; defaults: forever,
   * 2 s growing by 2 s up to 30 s).
   *
   * @param policy the retry policy (milliseconds), with an optional AbortSignal
   * @returns this connection
   */
  async ensureConnection(policy: RetryPolicy = {}): Promise<this> {
    await this.#open(policy);
    return this;
  }

  /**
   * Wraps an operation so that recoverable failures reconnect and retry it (Kombu's `ensure`).
   *
   * @param fn the operation
   * @param options retry policy (default: forever, 1 s steps up to 1 s) and a revive hook
   * @returns the wrapped operation
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Connection } from "@wakame/wakame";
   * await using conn = new Connection("memory://");
   * const declare = conn.ensure(async () => {
   *   const channel = await conn.defaultChannel();
   *   return (await channel.queueDeclare({ name: "ensure-doc" })).queue;
   * }, { maxRetries: 3 });
   * assert.equal(await declare(), "ensure-doc");
   * ```
   */
  ensure<A extends unknown[], R>(
    fn: (...args: A) => Promise<R>,
    options: EnsureOptions = {},
  ): (...args: A) => Promise<R> {
    return (...args: A) =>
      retryOverTime(async (attempt) => {
        if (attempt > 0) {
          // While a recovery runs, one look per attempt: the attempts count as this policy says.
          const maxRetries = this.#recovering ? 0 : options.maxRetries ?? Infinity;
          await this.ensureConnection({ ...options, maxRetries });
          await options.onRevive?.(await this.defaultChannel());
        }
        return await fn(...args);
      }, {
        intervalStart: 1000,
        intervalStep: 1000,
        intervalMax: 1000,
        ...options,
        signal: eitherSignal(this.#stop.signal, options.signal),
        onRetry: async (error, n, delay) => {
          log.warn(`Operation failed (retry ${n} in ${Math.round(delay)} ms):`, error);
          await this.#dropIfBroken(error);
          await options.onRetry?.(error, n, delay);
        },
      });
  }

  /** A connection error leaves the transport unusable: drop it so the retry reconnects. */
  async #dropIfBroken(error: unknown): Promise<void> {
    if (!(error instanceof ConnectionError)) return;
    const live = this.#live;
    if (!live) return;
    this.#live = undefined;
    this.#defaultChannel = undefined;
    this.#declared.clear();
    try {
      await live.close();
    } catch {
      // Already broken; nothing more to release.
    }
    // The consumers of the dropped connection start again on the next one, as after a loss.
    if (!this.#closed && this.#attached.size > 0) this.#recover();
  }

  /**
   * Wraps `fn(channel)` so it runs on the default channel and is retried on connection failures
   * (Kombu's `autoretry`).
   *
   * @param fn the operation on a channel
   * @param options retry policy
   * @returns the wrapped operation
   */
  autoretry<R>(
    fn: (channel: Channel) => Promise<R>,
    options: RetryPolicy = {},
  ): () => Promise<R> {
    return this.ensure(async () => fn(await this.defaultChannel()), options);
  }

  /**
   * Opens a new channel (connecting first if needed).
   *
   * @returns the channel
   */
  async channel(): Promise<Channel> {
    if (!this.#live) await this.connect();
    const live = this.#live;
    if (!live) throw new ConnectionError(`Cannot open a channel on ${this.asUri()}: not connected`);
    return await live.createChannel();
  }

  /** The channel shared by producers and consumers made from this connection. */
  async defaultChannel(): Promise<Channel> {
    if (this.#defaultChannel?.isOpen) return this.#defaultChannel;
    this.#defaultChannelOpening ??= this.channel().then((channel) => {
      this.#defaultChannel = channel;
      return channel;
    }).finally(() => (this.#defaultChannelOpening = undefined));
    return await this.#defaultChannelOpening;
  }

  /**
   * Waits for deliveries (Kombu's `drain_events`). Consumers' callbacks run as messages arrive;
   * this resolves once at least one message was handled since the previous drain (at once when
   * one was handled before the call), so a drain loop never misses a message.
   *
   * @param options `timeout` in ms, or a `signal`
   * @throws {TimeoutError} when nothing arrived in time
   * @throws {ConnectionError} when the connection is lost meanwhile
   */
  async drainEvents(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (!this.#live) await this.connect();
    await this.#drain.wait(options);
  }

  /**
   * A new connection with the same URLs and options, not yet connected (Kombu's `clone`).
   *
   * @param overrides options to change
   * @returns the new connection
   */
  clone(overrides: ConnectionOptions = {}): Connection {
    return new Connection(this.#urls, { ...this.#options, alternates: [], ...overrides });
  }

  /**
   * Closes the connection, its channels and any recovery in progress. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort(new ConnectionError(`Connection to ${this.asUri()} closed`));
    const attached = [...this.#attached];
    this.#attached.clear();
    const live = this.#live;
    this.#live = undefined;
    this.#defaultChannel = undefined;
    this.#drain.fail(new ConnectionError(`Connection to ${this.asUri()} closed`));
    if (live) await live.close();
    // After the channels are closed, so an ending `for await` has nothing left to cancel.
    for (const revivable of attached) revivable.stop?.();
  }

  /** Same as {@link Connection.close} (Kombu's `release`). */
  release(): Promise<void> {
    return this.close();
  }

  /** Closes the connection (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * A producer on this connection's default channel.
   *
   * @param options default exchange, routing key, serializer, compression
   * @returns the producer
   */
  producer<T = unknown>(options?: ProducerOptions<T>): Producer<T> {
    return new Producer<T>(this, options);
  }

  /**
   * A consumer on this connection's default channel (revived after reconnects).
   *
   * @param queues the queues
   * @param options callbacks, accept, prefetch
   * @returns the consumer (call `consume()` or iterate it)
   */
  consumer<T = unknown>(
    queues: Queue<T> | string | ReadonlyArray<Queue<T> | string>,
    options?: ConsumerOptions<T>,
  ): Consumer<T> {
    return new Consumer<T>(this, queues, options);
  }

  /**
   * A persistent FIFO queue with put / get (Kombu's `SimpleQueue`).
   *
   * @param name queue name or Queue
   * @param options serializer, compression, noAck, queue options
   * @returns the simple queue
   */
  simpleQueue(name: string | Queue, options?: SimpleQueueOptions): SimpleQueue {
    return new SimpleQueue(this, name, options);
  }

  /**
   * A transient, no-ack, auto-delete queue (Kombu's `SimpleBuffer`).
   *
   * @param name queue name or Queue
   * @param options serializer, compression
   * @returns the simple buffer
   */
  simpleBuffer(name: string | Queue, options?: SimpleQueueOptions): SimpleBuffer {
    return new SimpleBuffer(this, name, options);
  }
}
