/**
 * Makes a {@link Transport} out of a queue store: the one way every non-AMQP transport is built.
 *
 * Every virtual transport reads the options declared in `src/virtual/options.ts`
 * (`VIRTUAL_OPTIONS`): `pollingInterval` (ms; Kombu's `polling_interval` in seconds),
 * `batchSize`, `topicRules`: `"amqp"` (default, RabbitMQ's topic matching) or `"kombu"` (Python
 * Kombu 5.2's regexes, for stores shared with Python publishers; see `kombuTopicMatches`), and
 * `queueOrderStrategy` (Kombu's `queue_order_strategy`): `round_robin` (default), `priority` or
 * `sorted`, the order in which a consumer of several queues visits them. A transport that
 * passes its own declaration (`options`, which spreads `VIRTUAL_OPTIONS`) has every key of
 * `transportOptions` and of the URL query checked against it.
 *
 * A failure a store or channel survives (a lost Redis connection being re-opened, a message that
 * cannot be decoded, a lease that cannot be renewed) is logged at `warn` level through the
 * logger `transport.<name>` (`setLogger`, `WAKAME_LOG`), and passed to the transport option
 * `onWarning` (called with `(message, error)`) when one is given.
 *
 * @module
 */

import { ConnectionError } from "../errors.ts";
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
import type { TopicRules } from "./exchange_types.ts";
import { declareOptions, type OptionsDeclaration, readOptions } from "../options/declare.ts";
import { VIRTUAL_OPTIONS } from "./options.ts";
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
   * Names the scope whose exchange table connections share (default: transport, host, port or
   * `defaultPort`, and virtual host). Connections of one scope in one process see each other's declarations.
   */
  scopeKey?(params: ConnectionParams): string;
  /** Default milliseconds between polls when the store cannot block (Kombu: 1000). */
  pollingInterval?: number;
  /** Most messages fetched in one round (default 100). */
  batchSize?: number;
  /**
   * The transport's option declaration (spreading `VIRTUAL_OPTIONS`): every key of
   * `transportOptions` and of the URL query is checked against it, and the base reads its own
   * options from it. Without it the base reads its own options and leaves the rest alone.
   */
  options?: OptionsDeclaration;
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

interface BaseSettings {
  pollingInterval: number;
  batchSize: number;
  topicRules: TopicRules;
  queueOrder: CycleName;
  onWarning: ((message: string, error: unknown) => void) | undefined;
}

function readBaseSettings(spec: VirtualTransportSpec, params: ConnectionParams): BaseSettings {
  const declaration = spec.options ?? declareOptions(spec.name, {
    ...VIRTUAL_OPTIONS,
    pollingInterval: { ...VIRTUAL_OPTIONS.pollingInterval, default: spec.pollingInterval ?? 1000 },
    batchSize: { ...VIRTUAL_OPTIONS.batchSize, default: spec.batchSize ?? 100 },
  });
  const o = readOptions(declaration, params, spec.options ? "error" : "skip");
  return {
    pollingInterval: o.pollingInterval as number,
    batchSize: o.batchSize as number,
    topicRules: o.topicRules as TopicRules,
    queueOrder: o.queueOrderStrategy as CycleName,
    onWarning: o.onWarning as BaseSettings["onWarning"],
  };
}

class VirtualConnection implements TransportConnection {
  onEvent: TransportConnection["onEvent"];
  readonly closed: Promise<Error | undefined>;
  readonly #spec: VirtualTransportSpec;
  readonly #params: ConnectionParams;
  readonly #settings: BaseSettings;
  readonly #topicRules: TopicRules;
  readonly #state: VirtualState;
  readonly #channels = new Set<VirtualChannel>();
  #backend: QueueBackend | undefined;
  #resolveClosed!: (error: Error | undefined) => void;
  #isClosed = false;
  readonly #log: Logger;

  constructor(spec: VirtualTransportSpec, params: ConnectionParams) {
    this.#spec = spec;
    this.#params = params;
    this.#settings = readBaseSettings(spec, params);
    this.#topicRules = this.#settings.topicRules;
    this.#state = stateFor(
      spec.scopeKey?.(params) ??
        `${spec.name}|${params.hostname}:${
          params.port ?? spec.defaultPort ?? ""
        }/${params.virtualHost}`,
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
    const hook = this.#settings.onWarning;
    if (hook === undefined) return;
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
    const channel = new VirtualChannel(this.#backend, this.#state, {
      pollingInterval: this.#settings.pollingInterval,
      batchSize: this.#settings.batchSize,
      topicRules: this.#topicRules,
      queueOrder: this.#settings.queueOrder,
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
