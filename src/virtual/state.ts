/**
 * What the virtual base remembers about exchanges in one broker scope (Kombu's `BrokerState`):
 * exchange types, and the bindings when the backend does not keep them itself.
 *
 * @module
 */

import { canonicalJson } from "../utils/canonical_json.ts";
import type {
  ExchangeDeclaration,
  ExchangeType,
  FieldTable,
  QueueDeclaration,
} from "../transport.ts";
import type { Binding, BindingStore } from "./backend.ts";
import { builtInExchangeType } from "./declarations.ts";

/** Bindings kept in process memory, shared by every channel of one scope. */
export class MemoryBindingStore implements BindingStore {
  readonly #table = new Map<string, Binding[]>();

  /** Adds a binding unless the same one exists. */
  add(exchange: string, binding: Binding): Promise<void> {
    const rows = this.#table.get(exchange) ?? [];
    if (!rows.some((row) => sameBinding(row, binding))) rows.push({ ...binding });
    this.#table.set(exchange, rows);
    return Promise.resolve();
  }

  /** Removes a binding. */
  remove(exchange: string, binding: Binding): Promise<void> {
    const rows = this.#table.get(exchange);
    if (rows) this.#table.set(exchange, rows.filter((row) => !sameBinding(row, binding)));
    return Promise.resolve();
  }

  /** Lists an exchange's bindings. */
  list(exchange: string): Promise<Binding[]> {
    return Promise.resolve(this.#table.get(exchange) ?? []);
  }

  /** The bindings, without a promise (for the in-process fast path). */
  listNow(exchange: string): readonly Binding[] {
    return this.#table.get(exchange) ?? [];
  }

  /** Forgets an exchange. */
  deleteExchange(exchange: string): Promise<void> {
    this.#table.delete(exchange);
    return Promise.resolve();
  }

  /** Removes every binding that targets a queue (the queue was deleted). */
  removeQueue(queue: string): void {
    for (const [exchange, rows] of this.#table) {
      this.#table.set(exchange, rows.filter((row) => row.queue !== queue));
    }
  }
}

/** The binding row of a `queue.bind` (arguments only when there are some). */
export function bindingOf(
  queue: string,
  routingKey: string,
  args: FieldTable | undefined,
): Binding {
  return args && Object.keys(args).length > 0
    ? { queue, routingKey, arguments: args as Record<string, unknown> }
    : { queue, routingKey };
}

/** True when two bindings are the same row. */
export function sameBinding(a: Binding, b: Binding): boolean {
  return a.queue === b.queue && a.routingKey === b.routingKey &&
    canonicalJson(a.arguments ?? {}) === canonicalJson(b.arguments ?? {});
}

/** Exchange declarations of one scope. */
export class VirtualState {
  /** Declared exchanges by name. */
  readonly exchanges: Map<string, ExchangeDeclaration> = new Map();
  /**
   * Queue declarations by name, kept only by a store that knows every declaration (the
   * transport's `queueEquivalence` capability), so that a redeclaration can be compared.
   */
  readonly queues: Map<string, QueueDeclaration> = new Map();
  /** Bindings, when the backend keeps none. */
  readonly bindings: MemoryBindingStore = new MemoryBindingStore();

  /**
   * The type of an exchange: as declared, as built in (`amq.topic` is a topic exchange), else
   * `direct` (Kombu's `default_exchange_type`), since another process may have declared it.
   */
  typeOf(exchange: string): ExchangeType {
    return this.exchanges.get(exchange)?.type ?? builtInExchangeType(exchange) ?? "direct";
  }

  /**
   * Tells whether an exchange exists for a passive declaration or a binding: declared in this
   * scope, built in, or (where bindings are shared with other processes, which declare their
   * exchanges in their own memory as Kombu does) named by a binding in the shared store.
   *
   * @param exchange the exchange's name
   * @param shared the store's shared bindings, when it has them
   * @returns true when it exists as far as this process can know
   */
  async exchangeExists(exchange: string, shared: BindingStore | undefined): Promise<boolean> {
    if (this.exchanges.has(exchange) || builtInExchangeType(exchange) !== undefined) return true;
    return shared !== undefined && (await shared.list(exchange)).length > 0;
  }
}

const scopes = new Map<string, VirtualState>();

/**
 * The state of a scope (one per transport and broker address in this process).
 *
 * @param key the scope's key, such as `memory|/` or `redis|127.0.0.1:6379/0`
 * @returns the state, made on first use
 */
export function stateFor(key: string): VirtualState {
  let state = scopes.get(key);
  if (!state) {
    state = new VirtualState();
    scopes.set(key, state);
  }
  return state;
}
