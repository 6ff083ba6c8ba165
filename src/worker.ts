/**
 * A consumer program loop (Kombu's `ConsumerMixin` and `ConsumerProducerMixin`,
 * `kombu.mixins`): connect, start the consumers, handle messages until told to stop, and start
 * over on a fresh connection when the connection fails, no faster than a token bucket allows.
 *
 * Stopping is graceful: consumers are cancelled, messages whose callbacks started finish (their
 * acks included), messages delivered but not started go back to their queues, then the
 * connection closes and anything still unacknowledged goes back too. Stop with an `AbortSignal`, {@link Worker.stop}, or SIGINT / SIGTERM with
 * `handleSignals` (Deno, Bun and Node).
 *
 * @module
 */

import type { Connection } from "./connection.ts";
import { Consumer, type ConsumerOptions } from "./consumer.ts";
import type { Queue } from "./entity.ts";
import { ChannelError, isRecoverable, TimeoutError } from "./errors.ts";
import { getLogger } from "./logger.ts";
import type { Message } from "./message.ts";
import { Producer, type ProducerOptions } from "./producer.ts";
import type { Channel } from "./transport.ts";
import { sleep } from "./utils/sleep.ts";
import { TokenBucket } from "./utils/token_bucket.ts";

const log = getLogger("worker");

/** Makes a consumer on the worker's connection (Kombu passes `Consumer` to `get_consumers`). */
export type ConsumerFactory = (
  queues: Queue | string | ReadonlyArray<Queue | string>,
  options?: ConsumerOptions,
) => Consumer;

/** What the worker's hooks are told about the running connection. */
export interface WorkerSession {
  /** The worker's connection (a clone of the one it was given). */
  connection: Connection;
  /** Its default channel, which the consumers use. */
  channel: Channel;
  /** The consumers, once made. */
  consumers: Consumer[];
}

/** Options of a {@link Worker}: the connection, the consumers and the hooks. */
export interface WorkerOptions {
  /** The connection to clone for consuming (and for publishing, see {@link Worker.producer}). */
  connection: Connection;
  /** Makes the consumers (Kombu's `get_consumers(Consumer, channel)`). */
  getConsumers?: (make: ConsumerFactory, channel: Channel) => Consumer[] | Promise<Consumer[]>;
  /** Called when connecting fails, with the error and the wait before the next try in ms. */
  onConnectionError?: (error: unknown, delay: number) => void;
  /** Called each time the connection is (re-)established. */
  onConnectionRevived?: () => void | Promise<void>;
  /** Called once the consumers consume. */
  onConsumeReady?: (session: WorkerSession) => void | Promise<void>;
  /** Called after the consumers were cancelled and their in-flight messages finished. */
  onConsumeEnd?: (session: WorkerSession) => void | Promise<void>;
  /** Called before each wait for events. */
  onIteration?: () => void | Promise<void>;
  /**
   * Called when a message cannot be decoded. The default logs it and acknowledges it, as Kombu
   * does (so it is not redelivered forever).
   */
  onDecodeError?: (message: Message, error: unknown) => void | Promise<void>;
  /** Most connection retries per start; default: no limit (Kombu's `connect_max_retries`). */
  connectMaxRetries?: number;
  /** Throttles restarts after failures (default: one per second, Kombu's `TokenBucket(1)`). */
  restartLimit?: TokenBucket;
  /** How long to wait for an event before checking for a stop, in ms (default 1000). */
  safetyInterval?: number;
  /** Stops the worker gracefully. */
  signal?: AbortSignal;
  /**
   * Stop gracefully on SIGINT and SIGTERM (or these signals) while running; a second signal
   * closes the connection at once. Default false: a library should not take signals unasked.
   */
  handleSignals?: boolean | readonly string[];
}

/** Options of {@link Worker.consume}. */
export interface ConsumeLoopOptions {
  /** Stop after this many events (default: no limit). */
  limit?: number;
  /** Throw a TimeoutError after this many ms without an event (default: wait forever). */
  timeout?: number;
}

type SignalName = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGQUIT" | "SIGUSR1" | "SIGUSR2";

interface DenoSignals {
  addSignalListener(signal: SignalName, handler: () => void): void;
  removeSignalListener(signal: SignalName, handler: () => void): void;
}

interface NodeProcess {
  on(event: string, handler: () => void): unknown;
  off(event: string, handler: () => void): unknown;
}

/**
 * Listens for OS signals on Deno (`Deno.addSignalListener`), Bun and Node (`process.on`).
 * Signals the runtime does not know (SIGTERM on Windows) are skipped.
 *
 * @param signals signal names such as `SIGTERM`
 * @param handler called with the signal's name
 * @returns a function that removes the listeners
 */
export function onSignals(
  signals: readonly string[],
  handler: (signal: string) => void,
): () => void {
  const removers: Array<() => void> = [];
  const deno = (globalThis as { Deno?: Partial<DenoSignals> }).Deno;
  const proc = (globalThis as { process?: Partial<NodeProcess> }).process;
  for (const name of signals) {
    const listener = () => handler(name);
    try {
      if (typeof deno?.addSignalListener === "function") {
        deno.addSignalListener(name as SignalName, listener);
        removers.push(() => deno.removeSignalListener?.(name as SignalName, listener));
      } else if (typeof proc?.on === "function") {
        proc.on(name, listener);
        removers.push(() => proc.off?.(name, listener));
      }
    } catch (error) {
      log.debug(`Cannot listen for ${name}:`, error);
    }
  }
  return () => {
    for (const remove of removers.splice(0)) {
      try {
        remove();
      } catch {
        // already gone
      }
    }
  };
}

/**
 * A worker: consumes until stopped, restarting on connection failures (Kombu's
 * `ConsumerMixin`, with `ConsumerProducerMixin`'s {@link Worker.producer}). Give the consumers
 * and hooks as options, or subclass and override the methods.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.ts";
 * import { Queue } from "./entity.ts";
 * import { Worker } from "./worker.ts";
 * await using conn = new Connection("memory://");
 * const tasks = new Queue("worker-doc");
 * const stop = new AbortController();
 * const worker = new Worker({
 *   connection: conn,
 *   signal: stop.signal,
 *   getConsumers: (make) => [make([tasks], {
 *     callbacks: [async (body, message) => {
 *       console.log("task", body);
 *       await message.ack();
 *       stop.abort();
 *     }],
 *   })],
 * });
 * const running = worker.run();
 * await conn.producer().publish({ n: 1 }, { routingKey: "worker-doc", declare: [tasks] });
 * await running;
 * ```
 */
export class Worker {
  /** The connection the worker clones. */
  readonly template: Connection;
  /** The options. */
  readonly options: WorkerOptions;
  /** Throttles restarts. */
  readonly restartLimit: TokenBucket;
  readonly #stop = new AbortController();
  #connection: Connection | undefined;
  #producerConnection: Connection | undefined;
  #producer: Producer | undefined;

  /**
   * Makes a Worker.
   *
   * @param options the connection, how to make consumers, hooks, stop signal
   */
  constructor(options: WorkerOptions) {
    this.options = options;
    this.template = options.connection;
    this.restartLimit = options.restartLimit ?? new TokenBucket(1);
    const signal = options.signal;
    if (signal?.aborted) this.stop();
    else signal?.addEventListener("abort", () => this.stop(), { once: true });
  }

  /** True once a stop was asked for (Kombu's `should_stop`). */
  get shouldStop(): boolean {
    return this.#stop.signal.aborted;
  }

  /** The connection consuming now, if any. */
  get connection(): Connection | undefined {
    return this.#connection;
  }

  /** Asks the worker to stop after the messages in hand (graceful). */
  stop(): void {
    if (!this.#stop.signal.aborted) {
      log.info("Stopping: finishing the messages in hand");
      this.#stop.abort();
    }
  }

  /**
   * Stops at once: closes the connection, so unacknowledged messages go back to their queues.
   */
  async forceStop(): Promise<void> {
    this.stop();
    await this.#connection?.close();
  }

  /**
   * A producer on a connection of its own, opened on first use and closed when consuming ends
   * (Kombu's `ConsumerProducerMixin.producer`): publishing never waits behind consuming.
   *
   * @param options producer defaults (used when the producer is first made)
   * @returns the producer
   */
  producer(options?: ProducerOptions): Producer {
    if (this.#producer === undefined) {
      this.#producerConnection ??= this.template.clone();
      this.#producer = new Producer(this.#producerConnection, options);
    }
    return this.#producer;
  }

  /**
   * Makes the consumers; override it or give `getConsumers` (Kombu's `get_consumers`).
   *
   * @param make makes a consumer on the worker's connection
   * @param channel the channel consumers use
   * @returns the consumers
   */
  getConsumers(make: ConsumerFactory, channel: Channel): Consumer[] | Promise<Consumer[]> {
    if (this.options.getConsumers === undefined) {
      throw new TypeError("Cannot start a worker without consumers: give getConsumers");
    }
    return this.options.getConsumers(make, channel);
  }

  /** Hook: connecting failed; retrying in `delay` ms. Logs by default. */
  onConnectionError(error: unknown, delay: number): void {
    if (this.options.onConnectionError) return this.options.onConnectionError(error, delay);
    log.warn(`Broker connection error, trying again in ${Math.round(delay)} ms:`, error);
  }

  /** Hook: the connection is (re-)established. */
  onConnectionRevived(): void | Promise<void> {
    return this.options.onConnectionRevived?.();
  }

  /** Hook: consumers are consuming. */
  onConsumeReady(session: WorkerSession): void | Promise<void> {
    return this.options.onConsumeReady?.(session);
  }

  /** Hook: consumers were cancelled and their messages finished. */
  onConsumeEnd(session: WorkerSession): void | Promise<void> {
    return this.options.onConsumeEnd?.(session);
  }

  /** Hook: before each wait for events. */
  onIteration(): void | Promise<void> {
    return this.options.onIteration?.();
  }

  /** Hook: a message could not be decoded. Logs and acknowledges it by default, as Kombu. */
  async onDecodeError(message: Message, error: unknown): Promise<void> {
    if (this.options.onDecodeError) return await this.options.onDecodeError(message, error);
    log.error(
      `Cannot decode message body (content type "${message.contentType}", encoding "${message.contentEncoding}"):`,
      error,
    );
    if (!message.acknowledged) await message.ack();
  }

  /**
   * Runs until stopped (Kombu's `run`): consumes, and after a connection or channel failure
   * starts again on a new connection, at most as often as {@link Worker.restartLimit} allows.
   * Resolves once stopped and the messages in hand are finished.
   *
   * @throws the first error that is not a connection or channel failure
   */
  async run(): Promise<void> {
    const handled = this.options.handleSignals;
    let removeSignals: (() => void) | undefined;
    if (handled) {
      const names = handled === true ? ["SIGINT", "SIGTERM"] : handled;
      let seen = 0;
      removeSignals = onSignals(names, (name) => {
        seen++;
        if (seen === 1) {
          log.info(`Received ${name}: stopping gracefully (again to stop at once)`);
          this.stop();
        } else {
          log.warn(`Received ${name} again: stopping now`);
          void this.forceStop();
        }
      });
    }
    try {
      while (!this.shouldStop) {
        if (this.restartLimit.canConsume(1)) {
          try {
            for await (const _ of this.consume()) {
              // each event; hooks do the work
            }
          } catch (error) {
            if (this.shouldStop) break;
            if (!(isRecoverable(error) || error instanceof ChannelError)) throw error;
            log.warn("Connection to broker lost, trying to re-establish connection:", error);
          }
        } else {
          await sleep(this.restartLimit.expectedTime(1), this.#stop.signal);
        }
      }
    } finally {
      removeSignals?.();
    }
  }

  /**
   * One consuming session (Kombu's `consume`): connects (retrying), makes and starts the
   * consumers, and yields once per event handled until stopped or the limit or timeout is hit;
   * then cancels the consumers, waits for their messages in hand, and closes the connection.
   *
   * @param options most events, and ms without events before a TimeoutError
   * @returns an async generator yielding per event
   * @throws {TimeoutError} when `timeout` passes without an event
   * @throws {ConnectionError} when the connection fails
   */
  async *consume(options: ConsumeLoopOptions = {}): AsyncGenerator<void, void, undefined> {
    const limit = options.limit ?? Infinity;
    const safety = this.options.safetyInterval ?? 1000;
    const stop = this.#stop.signal;
    const connection = this.template.clone();
    this.#connection = connection;
    let session: WorkerSession | undefined;
    try {
      await connection.ensureConnection({
        maxRetries: this.options.connectMaxRetries ?? Infinity,
        signal: stop,
        onRetry: (error, _attempt, delay) => this.onConnectionError(error, delay),
      });
      if (stop.aborted) return;
      await this.onConnectionRevived();
      log.info(`Connected to ${connection.asUri()}`);
      const channel = await connection.defaultChannel();
      const make: ConsumerFactory = (queues, consumerOptions = {}) =>
        new Consumer(connection, queues, this.#gated(consumerOptions));
      // Made before the session starts: when getConsumers throws, onConsumeEnd is not called
      // (as in Kombu, where it runs only after the consumers' context was entered).
      const consumers = [...await this.getConsumers(make, channel)];
      session = { connection, channel, consumers };
      for (const consumer of consumers) await consumer.consume();
      await this.onConsumeReady(session);
      let elapsed = 0;
      for (let i = 0; i < limit && !stop.aborted; i++) {
        await this.onIteration();
        try {
          await connection.drainEvents({ timeout: safety, signal: stop });
        } catch (error) {
          if (stop.aborted) break;
          if (!(error instanceof TimeoutError)) throw error;
          elapsed += safety;
          if (options.timeout !== undefined && elapsed >= options.timeout) throw error;
          continue;
        }
        elapsed = 0;
        yield;
      }
      log.debug("consume exiting");
    } finally {
      await this.#endSession(connection, session);
    }
  }

  /**
   * Wraps a consumer's callbacks so that once a stop was asked for, messages that were not
   * started yet go back to their queue instead of starting (those started finish). With
   * `noAck` nothing can go back, so they run.
   */
  #gated(options: ConsumerOptions): ConsumerOptions {
    const started = new WeakSet<Message>();
    const skipped = new WeakSet<Message>();
    const admit = async (message: Message): Promise<boolean> => {
      if (started.has(message)) return true;
      if (skipped.has(message)) return false;
      if (this.shouldStop && !options.noAck && !message.acknowledged) {
        skipped.add(message);
        try {
          await message.requeue();
        } catch (error) {
          log.debug("Cannot requeue a message that arrived while stopping:", error);
        }
        return false;
      }
      started.add(message);
      return true;
    };
    const gated: ConsumerOptions = {
      onDecodeError: (message, error) => this.onDecodeError(message, error),
      ...options,
    };
    if (options.callbacks) {
      gated.callbacks = options.callbacks.map((callback) => async (body, message) => {
        if (await admit(message)) await callback(body, message);
      });
    }
    const onMessage = options.onMessage;
    if (onMessage) {
      gated.onMessage = async (message) => {
        if (await admit(message)) await onMessage(message);
      };
    }
    return gated;
  }

  async #endSession(connection: Connection, session: WorkerSession | undefined): Promise<void> {
    if (session) {
      for (const consumer of session.consumers) {
        try {
          await consumer.cancel();
        } catch (error) {
          log.debug("Cannot cancel a consumer:", error);
        }
      }
      // Messages already handed to callbacks finish, acks included, before the connection goes.
      await Promise.all(session.consumers.map((c) => c.idle()));
      log.debug("Consumers cancelled");
      try {
        await this.onConsumeEnd(session);
      } catch (error) {
        log.error("onConsumeEnd failed:", error);
      }
    }
    const producerConnection = this.#producerConnection;
    this.#producerConnection = undefined;
    this.#producer = undefined;
    await producerConnection?.close();
    if (this.#connection === connection) this.#connection = undefined;
    await connection.close();
    log.debug("Connection closed");
  }
}
