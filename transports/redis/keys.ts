/**
 * Kombu's key layout on Redis: priority lists, binding sets, fanout channels, the topic regex
 * Python Kombu stores with a topic binding.
 *
 * @module
 */

import type { RedisSettings } from "./options.ts";

/**
 * Rounds a priority down to a step (Kombu's `Channel.priority`).
 *
 * @param steps the sorted steps, starting at 0
 * @param priority the message priority (absent = 0)
 * @returns the step
 */
export function priorityStep(steps: readonly number[], priority: number | undefined): number {
  const p = priority === undefined || !Number.isFinite(priority) ? 0 : priority;
  let step = steps[0] ?? 0;
  for (const s of steps) {
    if (s <= p) step = s;
    else break;
  }
  return step;
}

/** Key names of one backend (every name already carries `globalKeyprefix`). */
export class KeyLayout {
  readonly #s: RedisSettings;
  readonly #fanoutPrefix: string;

  /**
   * Names the keys of one database.
   *
   * @param settings the transport settings
   * @param db the database number (part of the fanout prefix `/{db}.`)
   */
  constructor(settings: RedisSettings, db: number) {
    this.#s = settings;
    const p = settings.fanoutPrefix;
    this.#fanoutPrefix = p === true ? `/${db}.` : p === false ? "" : p.replace("{db}", String(db));
  }

  /** The global key prefix. */
  get prefix(): string {
    return this.#s.globalKeyprefix;
  }

  /** The priority steps. */
  get steps(): readonly number[] {
    return this.#s.prioritySteps;
  }

  /** Key of the list of `queue` at priority step `step` (unprefixed form: see {@link key}). */
  queueKey(queue: string, step: number): string {
    return this.#s.globalKeyprefix + (step ? `${queue}${this.#s.sep}${step}` : queue);
  }

  /** Every list key of a queue, in step order (0 first). */
  queueKeys(queue: string): string[] {
    return this.#s.prioritySteps.map((step) => this.queueKey(queue, step));
  }

  /** Prefixes any key. */
  key(name: string): string {
    return this.#s.globalKeyprefix + name;
  }

  /** The `unacked` hash. */
  get unacked(): string {
    return this.key(this.#s.unackedKey);
  }

  /** The `unacked_index` sorted set. */
  get unackedIndex(): string {
    return this.key(this.#s.unackedIndexKey);
  }

  /** The `unacked_mutex` lock. */
  get unackedMutex(): string {
    return this.key(this.#s.unackedMutexKey);
  }

  /** The binding set of an exchange, `_kombu.binding.<exchange>`. */
  bindingKey(exchange: string): string {
    return this.key(`_kombu.binding.${exchange}`);
  }

  /** A binding set member: routing key, pattern and queue joined by the separator. */
  bindingMember(routingKey: string, pattern: string, queue: string): string {
    return [routingKey, pattern, queue].join(this.#s.sep);
  }

  /** Splits a binding set member (Python splits on every separator, as here). */
  parseBindingMember(member: string): [routingKey: string, pattern: string, queue: string] {
    const parts = member.split(this.#s.sep);
    return [parts[0] ?? "", parts[1] ?? "", parts[2] ?? ""];
  }

  /**
   * The pub/sub channel of a fanout publish (Kombu's `_get_publish_topic`), prefixed.
   *
   * @param exchange the fanout exchange
   * @param routingKey the routing key (part of the channel with `fanoutPatterns`)
   */
  fanoutChannel(exchange: string, routingKey: string): string {
    const base = this.#s.globalKeyprefix + this.#fanoutPrefix + exchange;
    return routingKey && this.#s.fanoutPatterns ? `${base}/${routingKey}` : base;
  }

  /**
   * The PSUBSCRIBE pattern of a queue bound to a fanout exchange (`#` becomes `*`, as in Kombu).
   *
   * @param exchange the fanout exchange
   * @param routingKey the binding key
   */
  fanoutPattern(exchange: string, routingKey: string): string {
    return this.fanoutChannel(exchange, routingKey.replaceAll("#", "*"));
  }

  /** Maps a list key back to its queue: split on the LAST separator (Kombu's `rsplit`). */
  queueOfKey(key: string): string {
    const bare = key.startsWith(this.#s.globalKeyprefix)
      ? key.slice(this.#s.globalKeyprefix.length)
      : key;
    const at = bare.lastIndexOf(this.#s.sep);
    if (at < 0) return bare;
    const step = bare.slice(at + this.#s.sep.length);
    return /^\d+$/.test(step) ? bare.slice(0, at) : bare;
  }
}
