/**
 * The two connections of a Redis store and how consumers wait on them.
 *
 * The command link sends everything; the subscriber link receives fanout messages (PSUBSCRIBE)
 * and, under Redis client-side caching (`CLIENT TRACKING ... REDIRECT <subscriber id> ...
 * OPTIN`), the server's invalidation message when a watched list key changes: that wakes the
 * consumers, so nobody waits in a blocking pop. When the server refuses tracking (Redis < 6,
 * proxies) the store polls every `pollInterval` ms instead. Either link is reopened on its next
 * use after a loss. A PING every `healthCheckInterval` ms on the subscriber link finds a
 * connection that died without a word.
 *
 * @module
 */

import { ConnectionError } from "../../src/errors.ts";
import { ClusterLink } from "./cluster_link.ts";
import type { RedisConnector } from "./connector.ts";
import type { RedisLink } from "./driver.ts";
import type { KeyLayout } from "./keys.ts";
import type { RedisSettings } from "./options.ts";
import { type RespArg, RespErrorReply, type RespValue } from "./resp/types.ts";

/** The channel on which the server reports changed keys. */
export const INVALIDATE_CHANNEL = "__redis__:invalidate";

/** What the links tell the store. */
export interface LinkEvents {
  /** A message on the subscriber link (fanout or invalidation). */
  onMessage(channel: string, data: RespValue, pattern: string | undefined): void;
  /** A link was lost (cached binding reads are stale). */
  onLost(): void;
  /** The PSUBSCRIBE patterns a new subscriber link must listen to (fanout). */
  patterns(): string[];
  /** A failure the store survived. */
  warn(message: string, error?: unknown): void;
}

/** The subscriber link and its client id (the target of the tracking redirect). */
interface Subscriber {
  readonly link: RedisLink;
  readonly clientId: number;
}

/** Command and subscriber links, client tracking, wake-ups and health pings. */
export class RedisLinks {
  readonly #connector: RedisConnector;
  readonly #settings: RedisSettings;
  readonly #layout: KeyLayout;
  readonly #events: LinkEvents;
  #cmd: RedisLink | undefined;
  /** Cluster mode: the command link handed out, which follows the slot owner. */
  readonly #cluster: ClusterLink | undefined;
  /** Links closed because the cluster moved the slot (no warning when they go). */
  readonly #relocated = new WeakSet<RedisLink>();
  #sub: Subscriber | undefined;
  #connecting: Promise<void> | undefined;
  #wakeup: "tracking" | "poll";
  #tracking = false;
  #generation = 0;
  readonly #waiters = new Set<() => void>();
  #lastHealthCheck = Date.now();
  #closed = false;

  /**
   * Makes the links (none is opened yet).
   *
   * @param connector opens connections
   * @param settings transport settings
   * @param layout key names (the cluster slot check reads them)
   * @param events what to tell the store
   */
  constructor(
    connector: RedisConnector,
    settings: RedisSettings,
    layout: KeyLayout,
    events: LinkEvents,
  ) {
    this.#connector = connector;
    this.#settings = settings;
    this.#layout = layout;
    this.#events = events;
    this.#wakeup = settings.wakeup;
    const closed = () => this.#closed;
    if (settings.cluster) {
      this.#cluster = new ClusterLink({
        current: () => this.#rawCommand(),
        openNow: () => this.#cmd?.isOpen ? this.#cmd : undefined,
        relocate: (from, hostname, port) => this.#relocate(from, hostname, port),
        openAt: (hostname, port) => this.#connector.openAt(hostname, port),
        get isClosed() {
          return closed();
        },
      });
    }
  }

  /** True once closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** True while changes of watched keys wake the consumers (else they poll). */
  get tracking(): boolean {
    return this.#wakeup === "tracking" && this.#tracking;
  }

  /** True when binding reads may be cached; starts tracking in the background otherwise. */
  bindingsTracked(): boolean {
    if (this.#tracking && this.#cmd?.isOpen === true && this.#sub?.link.isOpen === true) {
      return true;
    }
    if (this.#wakeup === "tracking" && !this.#connecting && !this.#closed) {
      this.ensure(true).catch(() => undefined);
    }
    return false;
  }

  /** The open subscriber link, if any. */
  get subscriber(): RedisLink | undefined {
    return this.#sub?.link.isOpen ? this.#sub.link : undefined;
  }

  /**
   * The command link, opened when needed.
   *
   * @throws {ConnectionError} when the server cannot be reached or the store is closed
   */
  async command(): Promise<RedisLink> {
    if (this.#cluster) {
      await this.#rawCommand();
      return this.#cluster;
    }
    return await this.#rawCommand();
  }

  async #rawCommand(): Promise<RedisLink> {
    if (this.#cmd?.isOpen) return this.#cmd;
    await this.ensure(false);
    return this.#cmd!;
  }

  /** Cluster mode: the slot moved; both links reopen at the new owner when next needed. */
  #relocate(from: RedisLink, hostname: string, port: number): boolean {
    if (from !== this.#cmd || this.#closed) return false;
    this.#events.warn(`The Redis cluster moved the transport's slot to ${hostname}:${port}`);
    this.#connector.moveTo(hostname, port);
    this.#cmd = undefined;
    this.#tracking = false;
    const sub = this.#sub?.link;
    this.#sub = undefined;
    for (const link of [from, sub]) {
      if (!link) continue;
      this.#relocated.add(link);
      link.close().catch(() => undefined);
    }
    return true;
  }

  /**
   * Opens what is missing: the command link, and with `withSubscriber` the subscriber link
   * (when tracking or fanout needs it) with tracking turned on.
   *
   * @throws {ConnectionError} when the server cannot be reached or the store is closed
   */
  async ensure(withSubscriber: boolean): Promise<void> {
    for (;;) {
      if (this.#closed) throw new ConnectionError("Cannot use the Redis store: it is closed");
      const cmdReady = this.#cmd?.isOpen === true;
      const subReady = !withSubscriber || !this.#needsSubscriber() ||
        (this.#sub?.link.isOpen === true && (this.#wakeup !== "tracking" || this.#tracking));
      if (cmdReady && subReady) return;
      if (this.#connecting) {
        await this.#connecting;
        continue;
      }
      this.#connecting = this.#connect(withSubscriber).finally(
        () => (this.#connecting = undefined),
      );
      await this.#connecting;
    }
  }

  #needsSubscriber(): boolean {
    return this.#wakeup === "tracking" || this.#events.patterns().length > 0;
  }

  async #connect(withSubscriber: boolean): Promise<void> {
    if (!this.#cmd?.isOpen) {
      this.#tracking = false;
      let link = await this.#connector.open(false);
      link = await this.#connector.checkCluster(link, [
        this.#layout.unacked,
        this.#layout.queueKey("celery", 0),
        this.#layout.bindingKey("celery"),
      ]);
      if (this.#closed) {
        await link.close();
        throw new ConnectionError("Cannot use the Redis store: it is closed");
      }
      this.#cmd = link;
      void link.closed.then((error) => this.#lost("command", link, error));
    }
    if (!withSubscriber || !this.#needsSubscriber()) return;
    if (!this.#sub?.link.isOpen) {
      this.#tracking = false;
      const opened = await this.#openSubscriber();
      if (!this.#cmd?.isOpen) {
        // The command link went (lost, or the cluster moved the slot) while this one opened:
        // the pair must be on one node; ensure() opens both again.
        await opened.link.close().catch(() => undefined);
        return;
      }
      this.#sub = opened;
      const sub = opened.link;
      void sub.closed.then((error) => this.#lost("subscriber", sub, error));
    }
    if (this.#wakeup === "tracking" && !this.#tracking) await this.#track(this.#cmd, this.#sub);
  }

  async #openSubscriber(): Promise<Subscriber> {
    const link = await this.#connector.open(true);
    try {
      const clientId = Number(await link.send(["CLIENT", "ID"]));
      link.onMessage = (channel, data, pattern) => this.#events.onMessage(channel, data, pattern);
      if (this.#wakeup === "tracking") await link.send(["SUBSCRIBE", INVALIDATE_CHANNEL]);
      const patterns = this.#events.patterns();
      if (patterns.length > 0) await link.send(["PSUBSCRIBE", ...patterns]);
      // The store may have closed while this link was opening: it must not outlive it.
      if (this.#closed) throw new ConnectionError("Cannot use the Redis store: it is closed");
      return { link, clientId };
    } catch (error) {
      await link.close().catch(() => undefined);
      throw error;
    }
  }

  async #track(cmd: RedisLink, sub: Subscriber): Promise<void> {
    await cmd.send(["CLIENT", "TRACKING", "OFF"]);
    const reply = await cmd.send(["CLIENT", "TRACKING", "ON", "REDIRECT", sub.clientId, "OPTIN"]);
    if (reply instanceof RespErrorReply) {
      this.#events.warn(
        `Cannot turn on Redis client tracking (${reply.message}); polling every ${this.#settings.pollInterval} ms`,
      );
      this.#wakeup = "poll";
    } else {
      this.#tracking = true;
    }
  }

  #lost(which: "command" | "subscriber", link: RedisLink, error: Error | undefined): void {
    if (!this.#closed && !this.#relocated.has(link)) {
      this.#events.warn(`Lost the Redis ${which} connection; reopening it when next needed`, error);
    }
    this.#events.onLost();
    this.wake();
  }

  /** The count of wake-ups so far (compare before a fetch, wait after it). */
  get generation(): number {
    return this.#generation;
  }

  /** Wakes every consumer waiting for a change. */
  wake(): void {
    this.#generation++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Waits until a wake-up after `generation`, the signal, or `ms`. */
  waitForChange(generation: number, signal: AbortSignal, ms: number): Promise<void> {
    if (this.#generation !== generation || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.#waiters.add(done);
    });
  }

  /**
   * Asks the server to report the next change of these keys (client tracking, OPTIN).
   *
   * @returns true when a key already holds something (fetch again instead of waiting)
   */
  async arm(keys: RespArg[]): Promise<boolean> {
    const link = await this.command();
    // Two sends in one tick: CACHING YES applies to the EXISTS right behind it.
    const [cachingReply, count] = await Promise.all([
      link.send(["CLIENT", "CACHING", "YES"]),
      link.send(["EXISTS", ...keys]),
    ]);
    if (cachingReply instanceof RespErrorReply) {
      this.#events.warn(`Cannot use Redis client tracking (${cachingReply.message}); polling`);
      this.#wakeup = "poll";
      return true;
    }
    return typeof count === "number" && count > 0;
  }

  /**
   * PINGs the subscriber link every `healthCheckInterval` ms: a connection that died without a
   * word (no RST) would otherwise never deliver another wake-up or fanout message. A PING
   * without a reply within the interval closes the link; the next round reopens it.
   */
  checkHealth(): void {
    const every = this.#settings.healthCheckInterval;
    const sub = this.#sub?.link;
    if (!every || !sub?.isOpen || Date.now() - this.#lastHealthCheck < every) return;
    this.#lastHealthCheck = Date.now();
    let answered = false;
    const timer = setTimeout(() => {
      if (answered) return;
      this.#events.warn("The Redis pub/sub connection did not answer PING; reopening it");
      sub.close().catch(() => undefined);
    }, every);
    sub.send(["PING"], { timeout: false }).then(
      () => {
        answered = true;
        clearTimeout(timer);
      },
      () => clearTimeout(timer),
    );
  }

  /** Closes both links; a connect under way sees the flag and closes what it opened. */
  async close(): Promise<void> {
    this.#closed = true;
    this.wake();
    await this.#connecting?.catch(() => undefined);
    await Promise.all([
      this.#cluster?.close(),
      this.#cmd?.close().catch(() => undefined),
      this.#sub?.link.close().catch(() => undefined),
    ]);
  }
}
