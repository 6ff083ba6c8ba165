/**
 * What the virtual base remembers about exchanges in one broker scope (Kombu's `BrokerState`):
 * exchange types, and the bindings when the backend does not keep them itself.
 *
 * @module
 */

import { canonicalJson } from "../utils/canonical_json.ts";
import type { ExchangeDeclaration, ExchangeType } from "../transport.ts";
import type { Binding, BindingStore } from "./backend.ts";

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

/** True when two bindings are the same row. */
export function sameBinding(a: Binding, b: Binding): boolean {
  return a.queue === b.queue && a.routingKey === b.routingKey &&
    canonicalJson(a.arguments ?? {}) === canonicalJson(b.arguments ?? {});
}

/** Exchange declarations of one scope. */
export class VirtualState {
  /** Declared exchanges by name. */
  readonly exchanges: Map<string, ExchangeDeclaration> = new Map();
  /** Bindings, when the backend keeps none. */
  readonly bindings: MemoryBindingStore = new MemoryBindingStore();

  /**
   * The type of an exchange; undeclared exchanges route as `direct` (Kombu's
   * `default_exchange_type`), since another process may have declared them.
   */
  typeOf(exchange: string): ExchangeType {
    return this.exchanges.get(exchange)?.type ?? "direct";
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
