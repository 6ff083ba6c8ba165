/**
 * Celery's `redis://` result backend (`celery.backends.redis`): each state is the JSON meta at
 * `celery-task-meta-<id>`, written with `SETEX` (the result expiry, one day by default) and
 * `PUBLISH`ed on a channel of the same name; a client waits by `SUBSCRIBE` to that channel
 * (then reads the key, so a state stored before the subscription is not missed). As Celery, a
 * stored `SUCCESS` is never overwritten.
 *
 * It talks to Redis with wakame's own RESP client, through the Redis transport's connector
 * (`@wakame/wakame/redis`): the same URLs (`redis://`, `rediss://`, `redis+socket://`,
 * `sentinel://`), options and drivers.
 *
 * @module
 */

import { type ConnectionParams, OperationalError, parseUrl } from "../../mod.ts";
import {
  readSettings,
  RedisConnector,
  type RedisLink,
  type RedisMode,
  RespErrorReply,
  type RespValue,
} from "../../transports/redis/mod.ts";
import { READY_STATES } from "../states.ts";
import { readMeta, type ResultBackend, type ResultMeta, type StoreTarget } from "./base.ts";
import { waitFor } from "./_wait.ts";

/** Options of the redis:// backend. */
export interface RedisBackendOptions {
  /** Ms a stored state lives (Celery's `result_expires`, 1 day); null: forever. */
  expires?: number | null;
  /** Key prefix (Celery's `celery-task-meta-`). */
  keyPrefix?: string;
  /** Options of the Redis connector (as the Redis transport's `transportOptions`). */
  transportOptions?: Record<string, unknown>;
}

const MODES: Record<string, RedisMode> = {
  redis: "tcp",
  rediss: "tls",
  "redis+socket": "socket",
  sentinel: "sentinel",
};

const decoder = new TextDecoder();

function text(value: RespValue): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return decoder.decode(value);
  return undefined;
}

function check(value: RespValue, what: string): RespValue {
  if (value instanceof RespErrorReply) {
    throw new OperationalError(`Cannot ${what}: Redis answered "${value.message}"`);
  }
  return value;
}

/** The redis:// backend. */
export class RedisBackend implements ResultBackend {
  /** The URL, as configured. */
  readonly url: string;
  readonly #connector: RedisConnector;
  readonly #options: RedisBackendOptions;
  readonly #waiters = new Map<string, Set<(meta: ResultMeta) => void>>();
  #commands: Promise<RedisLink> | undefined;
  #subscriber: Promise<RedisLink> | undefined;
  #closed = false;

  /**
   * Makes the backend (it connects on first use).
   *
   * @param url `redis://[:password@]host[:port][/db]` (also `rediss://`, `redis+socket://`,
   *   `sentinel://`)
   * @param options expiry, key prefix and connector options
   */
  constructor(url: string, options: RedisBackendOptions = {}) {
    this.url = url;
    this.#options = options;
    const parts = parseUrl(url);
    const transportOptions = { ...parts.query, ...options.transportOptions };
    const params: ConnectionParams = {
      transport: parts.scheme,
      hostname: parts.hostname,
      port: parts.port,
      userid: parts.userid,
      password: parts.password,
      virtualHost: parts.virtualHost ?? "0",
      url,
      ssl: false,
      heartbeat: 0,
      connectTimeout: 10_000,
      transportOptions,
    };
    this.#connector = new RedisConnector(
      params,
      readSettings(transportOptions),
      MODES[parts.scheme] ?? "tcp",
    );
  }

  /** The key of a task's state (Celery's `get_key_for_task`). */
  key(taskId: string): string {
    return `${this.#options.keyPrefix ?? "celery-task-meta-"}${taskId}`;
  }

  #link(): Promise<RedisLink> {
    if (this.#closed) return Promise.reject(new OperationalError("The result backend is closed"));
    const current = this.#commands;
    if (current) {
      return current.then((
        link,
      ) => (link.isOpen ? link : (this.#commands = undefined, this.#link())));
    }
    const opening = this.#connector.open(false);
    this.#commands = opening;
    opening.catch(() => (this.#commands = undefined));
    return opening;
  }

  #subscribed(): Promise<RedisLink> {
    const current = this.#subscriber;
    if (current) {
      return current.then((link) => {
        if (link.isOpen) return link;
        this.#subscriber = undefined;
        return this.#subscribed();
      });
    }
    const opening = this.#connector.open(true).then(async (link) => {
      link.onMessage = (channel, data) => this.#onMessage(channel, data);
      const channels = [...this.#waiters.keys()].map((id) => this.key(id));
      if (channels.length > 0) check(await link.send(["SUBSCRIBE", ...channels]), "subscribe");
      return link;
    });
    this.#subscriber = opening;
    opening.catch(() => (this.#subscriber = undefined));
    return opening;
  }

  #onMessage(channel: string, data: RespValue): void {
    const prefix = this.#options.keyPrefix ?? "celery-task-meta-";
    if (!channel.startsWith(prefix)) return;
    this.#deliver(channel.slice(prefix.length), data);
  }

  #deliver(taskId: string, data: RespValue): ResultMeta | undefined {
    const raw = text(data);
    if (raw === undefined) return undefined;
    let meta: ResultMeta | undefined;
    try {
      meta = readMeta(JSON.parse(raw), taskId);
    } catch {
      return undefined;
    }
    if (meta === undefined || !READY_STATES.has(meta.status)) return meta;
    const waiters = this.#waiters.get(taskId);
    this.#waiters.delete(taskId);
    for (const resolve of waiters ?? []) resolve(meta);
    if (waiters) this.#unsubscribe(taskId);
    return meta;
  }

  #unsubscribe(taskId: string): void {
    this.#subscriber?.then((link) => link.send(["UNSUBSCRIBE", this.key(taskId)]))
      .catch(() => undefined);
  }

  /** Nothing to prepare: the worker writes the key. */
  prepare(_taskId: string): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  /** Subscribes to the task's channel, reads the key, and waits for a ready state. */
  async wait(
    taskId: string,
    options: { timeout?: number; signal?: AbortSignal } = {},
  ): Promise<ResultMeta> {
    let resolver!: (meta: ResultMeta) => void;
    const arrived = new Promise<ResultMeta>((resolve) => (resolver = resolve));
    const first = !this.#waiters.has(taskId);
    const set = this.#waiters.get(taskId) ?? new Set();
    set.add(resolver);
    this.#waiters.set(taskId, set);
    const giveUp = () => {
      set.delete(resolver);
      if (set.size === 0 && this.#waiters.get(taskId) === set) {
        this.#waiters.delete(taskId);
        this.#unsubscribe(taskId);
      }
    };
    try {
      const sub = await this.#subscribed();
      if (first) check(await sub.send(["SUBSCRIBE", this.key(taskId)]), "subscribe");
      const link = await this.#link();
      const stored = check(await link.send(["GET", this.key(taskId)]), "read a result");
      if (stored !== null) this.#deliver(taskId, stored);
    } catch (error) {
      giveUp();
      throw error;
    }
    return await waitFor(arrived, taskId, options, giveUp);
  }

  /** Reads the stored state. */
  async meta(taskId: string): Promise<ResultMeta | undefined> {
    const link = await this.#link();
    const stored = check(await link.send(["GET", this.key(taskId)]), "read a result");
    const raw = text(stored);
    if (raw === undefined) return undefined;
    try {
      return readMeta(JSON.parse(raw), taskId);
    } catch {
      return undefined;
    }
  }

  /** Deletes the stored state. */
  async forget(taskId: string): Promise<void> {
    const link = await this.#link();
    check(await link.send(["DEL", this.key(taskId)]), "forget a result");
  }

  /** Stores a state unless the task already succeeded; publishes it on the key's channel. */
  async store(meta: ResultMeta, _target: StoreTarget): Promise<void> {
    const current = await this.meta(meta.task_id);
    if (current?.status === "SUCCESS") return;
    const link = await this.#link();
    const key = this.key(meta.task_id);
    const value = JSON.stringify(meta);
    const expires = this.#options.expires === undefined ? 86_400_000 : this.#options.expires;
    const write = expires === null
      ? link.send(["SET", key, value])
      : link.send(["SETEX", key, Math.max(1, Math.round(expires / 1000)), value]);
    const publish = link.send(["PUBLISH", key, value]);
    check(await write, "store a result");
    check(await publish, "publish a result");
  }

  #expirySeconds(): number | undefined {
    const expires = this.#options.expires === undefined ? 86_400_000 : this.#options.expires;
    return expires === null ? undefined : Math.max(1, Math.round(expires / 1000));
  }

  /**
   * Sets a chord's size (Celery's `set_chord_size`: `celery-taskset-meta-<group>.s`).
   *
   * @param groupId the chord header's group id
   * @param size the number of header tasks
   */
  async setChordSize(groupId: string, size: number): Promise<void> {
    const link = await this.#link();
    const key = `celery-taskset-meta-${groupId}.s`;
    const ttl = this.#expirySeconds();
    check(
      await (ttl === undefined
        ? link.send(["SET", key, String(size)])
        : link.send(["SETEX", key, ttl, String(size)])),
      "set a chord size",
    );
  }

  /**
   * Counts a finished chord header task (Celery's redis `on_chord_part_return`, ordered): adds
   * `[1, id, state, result]` to the sorted set `<group>.j` at the task's group index; when the
   * set holds as many as `<group>.s` (plus `<group>.t`), returns the results in order and
   * deletes the keys.
   *
   * @param part the task's id, group and index, its state and stored result
   * @returns undefined while the chord waits; else the results, or the failed dependency
   */
  async chordPartReturn(part: {
    id: string;
    group: string;
    groupIndex: number | undefined;
    state: string;
    result: unknown;
  }): Promise<{ results: unknown[] } | { failed: string } | undefined> {
    const link = await this.#link();
    const base = `celery-taskset-meta-${part.group}`;
    const [jkey, tkey, skey] = [`${base}.j`, `${base}.t`, `${base}.s`];
    const encoded = JSON.stringify([1, part.id, part.state, part.result]);
    const score = part.groupIndex === undefined ? "+inf" : String(part.groupIndex);
    const sends = [
      link.send(["ZADD", jkey, score, encoded]),
      link.send(["ZCOUNT", jkey, "-inf", "+inf"]),
      link.send(["GET", tkey]),
      link.send(["GET", skey]),
    ];
    const ttl = this.#expirySeconds();
    if (ttl !== undefined) {
      for (const key of [jkey, tkey, skey]) sends.push(link.send(["EXPIRE", key, ttl]));
    }
    const replies = (await Promise.all(sends)).map((r, i) => check(r, `count chord part ${i}`));
    const size = Number(text(replies[3]) ?? 0);
    if (!size) return undefined;
    const total = size + Number(text(replies[2]) ?? 0);
    if (Number(replies[1]) !== total) return undefined;
    const stored = check(await link.send(["ZRANGE", jkey, 0, -1]), "read chord results");
    await Promise.all([jkey, tkey, skey].map((key) => link.send(["DEL", key])));
    const results: unknown[] = [];
    for (const item of Array.isArray(stored) ? stored : []) {
      const [, tid, state, value] = JSON.parse(text(item as RespValue) ?? "[]") as unknown[];
      if (state === "FAILURE" || state === "REVOKED") {
        const exc = value as { exc_type?: string; exc_message?: unknown };
        return {
          failed: `Dependency ${tid} raised ${exc?.exc_type}(${JSON.stringify(exc?.exc_message)})`,
        };
      }
      results.push(value);
    }
    return { results };
  }

  /** Closes both links. */
  async close(): Promise<void> {
    this.#closed = true;
    const links = [this.#commands, this.#subscriber];
    this.#commands = this.#subscriber = undefined;
    for (const link of links) await (await link?.catch(() => undefined))?.close();
  }
}
