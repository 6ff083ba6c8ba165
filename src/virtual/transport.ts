/**
 * Makes a {@link Transport} out of a queue store: the one way every non-AMQP transport is built.
 *
 * Every virtual transport reads these `transportOptions`: `pollingInterval` (ms), `batchSize`,
 * `topicRules`: `"amqp"` (default, RabbitMQ's topic matching) or `"kombu"` (Python Kombu 5.2's
 * regexes, for stores shared with Python publishers; see `kombuTopicMatches`), and
 * `queueOrderStrategy` (Kombu's `queue_order_strategy`): `round_robin` (default), `priority` or
 * `sorted`, the order in which a consumer of several queues visits them.
 *
 * A failure a store or channel survives (a lost Redis connection being re-opened, a message that
 * cannot be decoded, a lease that cannot be renewed) is logged at `warn` level through the
 * logger `transport.<name>` (`setLogger`, `WAKAME_LOG`), and passed to the transport option
 * `onWarning(message, error)` when one is given.
 *
 * @module
 */

import { ConfigurationError, ConnectionError } from "../errors.ts";
import { getLogger, type Logger } from "../logger.ts";
import type {
  Capabilities,
  Channel,
  ConnectionParams,
  MessageProperties,
  Transport,
  TransportConnection,
} from "../transport.ts";
import type { QueueBackend } from "./backend.ts";
import { VirtualChannel } from "./channel.ts";
import { readTopicRules, type TopicRules } from "./exchange_types.ts";
import { bindingRouter } from "./router.ts";
import { stateFor, type VirtualState } from "./state.ts";
import type { CycleName } from "../utils/fair_cycle.ts";

/** What a backend may tell the connection that owns it. */
export interface BackendContext {
  /** The store is unreachable (socket lost): the connection closes with this error. */
  fail(error: Error): void;
  /** A failure the backend survived, for the log. */
  warn(message: string, error?: unknown): void;
  /**
   * The queues a message of `exchange` and `routingKey` reaches now, by the base's routing
   * (Kombu's `_lookup`), for a store that restores messages on its own (Redis's visibility
   * sweep). Never empty: Kombu's dead-letter queue `ae.undeliver` when nothing matches.
   */
  route(
    exchange: string,
    routingKey: string,
    properties?: MessageProperties,
  ): Promise<string[]>;
}

/** How to build a virtual transport. */
export interface VirtualTransportSpec {
  /** Canonical transport name. */
  name: string;
  /** What it can do. */
  capabilities: Capabilities;
  /** Port used when the URL names none. */
  defaultPort?: number;
  /** Opens the store for one connection. */
  openBackend(params: ConnectionParams, context: BackendContext): Promise<QueueBackend>;
  /**
   * Names the scope whose exchange table connections share (default: transport, host, port
   * and virtual host). Connections of one scope in one process see each other's declarations.
   */
  scopeKey?(params: ConnectionParams): string;
  /** Default milliseconds between polls when the store cannot block (Kombu: 1000). */
  pollingInterval?: number;
  /** Most messages fetched in one round (default 100). */
  batchSize?: number;
}

/**
 * Builds a transport from a queue store.
 *
 * @param spec the store and its capabilities
 * @returns a transport whose channels are {@link VirtualChannel}s
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { virtualTransport } from "@wakame/wakame";
 * import { MemoryBackend } from "@wakame/wakame/memory";
 * const transport = virtualTransport({
 *   name: "my-memory",
 *   capabilities: {
 *     exchangeTypes: ["direct", "topic", "fanout", "headers"], priority: "none",
 *     messageTtl: false, queueArguments: false, redeliveredFlag: true, confirms: false,
 *     mandatory: true, heartbeats: false, persistent: false, exclusive: false,
 *     exchangeBindings: false, crossProcess: false, fifo: true, queueEquivalence: true,
 *   },
 *   openBackend: () => Promise.resolve(new MemoryBackend()),
 * });
 * assert.equal(transport.name, "my-memory");
 * ```
 */
export function virtualTransport(spec: VirtualTransportSpec): Transport {
  return {
    name: spec.name,
    defaultPort: spec.defaultPort,
    capabilities: spec.capabilities,
    async connect(params: ConnectionParams): Promise<TransportConnection> {
      const connection = new VirtualConnection(spec, params);
      await connection.open();
      return connection;
    },
  };
}

function optionNumber(value: unknown, fallback: number): number {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : fallback;
}

function readQueueOrder(value: unknown): CycleName {
  if (value === undefined || value === null || value === "") return "round_robin";
  if (value === "round_robin" || value === "priority" || value === "sorted") return value;
  throw new ConfigurationError(
    `Cannot use transport option "queueOrderStrategy" = ${JSON.stringify(String(value))}: ` +
      'expected "round_robin", "priority" or "sorted"',
  );
}

class VirtualConnection implements TransportConnection {
  onEvent: TransportConnection["onEvent"];
  readonly closed: Promise<Error | undefined>;
  readonly #spec: VirtualTransportSpec;
  readonly #params: ConnectionParams;
  readonly #topicRules: TopicRules;
  readonly #queueOrder: CycleName;
  readonly #state: VirtualState;
  readonly #channels = new Set<VirtualChannel>();
  #backend: QueueBackend | undefined;
  #resolveClosed!: (error: Error | undefined) => void;
  #isClosed = false;
  readonly #log: Logger;

  constructor(spec: VirtualTransportSpec, params: ConnectionParams) {
    this.#spec = spec;
    this.#params = params;
    this.#topicRules = readTopicRules(params.transportOptions.topicRules);
    this.#queueOrder = readQueueOrder(params.transportOptions.queueOrderStrategy);
    this.#state = stateFor(
      spec.scopeKey?.(params) ??
        `${spec.name}|${params.hostname}:${params.port ?? ""}/${params.virtualHost}`,
    );
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#log = getLogger(`transport.${spec.name}`);
  }

  async open(): Promise<void> {
    const state = this.#state;
    this.#backend = await this.#spec.openBackend(this.#params, {
      fail: (error) => this.#fail(error),
      warn: (message, error) => this.#warn(message, error),
      route: bindingRouter(
        () => this.#backend?.bindings ?? state.bindings,
        (exchange) => state.exchanges.get(exchange)?.type,
        this.#topicRules,
        (message) => this.#warn(message, undefined),
      ),
    });
  }

  /**
   * A failure the store or a channel survived: to wakame's logger at `warn` level (redacted,
   * as every line), and to the `onWarning(message, error)` transport option when given.
   */
  #warn(message: string, error: unknown): void {
    if (error === undefined) this.#log.warn(message);
    else this.#log.warn(message, error);
    const hook = (this.#params.transportOptions as { onWarning?: unknown }).onWarning;
    if (typeof hook !== "function") return;
    try {
      hook(message, error);
    } catch {
      // a failing hook must not break messaging
    }
  }

  #fail(error: Error): void {
    if (this.#isClosed) return;
    void this.#shutdown(error);
  }

  createChannel(): Promise<Channel> {
    if (this.#isClosed || !this.#backend) {
      return Promise.reject(new ConnectionError("Cannot open a channel: the connection is closed"));
    }
    const options = this.#params.transportOptions;
    const channel = new VirtualChannel(this.#backend, this.#state, {
      pollingInterval: optionNumber(options.pollingInterval, this.#spec.pollingInterval ?? 1000),
      batchSize: optionNumber(options.batchSize, this.#spec.batchSize ?? 100) || 1,
      topicRules: this.#topicRules,
      queueOrder: this.#queueOrder,
      queueEquivalence: this.#spec.capabilities.queueEquivalence,
      onFatal: (error) => this.#fail(error),
      onWarning: (message, error) => this.#warn(message, error),
      onClose: () => this.#channels.delete(channel),
    });
    this.#channels.add(channel);
    return Promise.resolve(channel);
  }

  async #shutdown(error: Error | undefined): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    const channels = [...this.#channels];
    this.#channels.clear();
    // A failed store cannot take messages back; a clean close restores them first.
    if (!error) await Promise.allSettled(channels.map((channel) => channel.close()));
    else for (const channel of channels) void channel.close().catch(() => {});
    try {
      await this.#backend?.close?.();
    } catch (closeError) {
      this.#warn("Cannot close the queue store cleanly", closeError);
    }
    this.#resolveClosed(error);
  }

  close(): Promise<void> {
    return this.#shutdown(undefined);
  }
}
