/**
 * The store of `pyro://`: Kombu's broker daemon (`KombuBroker` of `kombu/transport/pyro.py`),
 * a dict of Python `Queue`s in one process, reached through its Pyro proxy. A message is Kombu's
 * envelope as a Python dict (serpent on the wire), exactly what Kombu's channel puts.
 *
 * Recovery: the broker is looked up through the name server when the store opens and again
 * whenever the link failed, so a restarted daemon (new port, registered again) is found without
 * help; a call made while it is away fails with {@link PyroCommunicationError}, which the virtual
 * base survives (a consumer polls on).
 *
 * @module
 */

import { envelopeFromObject, envelopeToObject } from "../../src/envelope.ts";
import type { QueueBackend, StoredMessage } from "../../src/virtual/backend.ts";
import {
  lookupPyroName,
  PyroCommunicationError,
  PyroConnection,
  type PyroConnectOptions,
  PyroRemoteError,
} from "./client.ts";
import type { PyroSettings } from "./options.ts";
import type { SerpentValue } from "./serpent.ts";

function isRemote(error: unknown, name: string): boolean {
  return error instanceof PyroRemoteError && error.className.split(".").pop() === name;
}

/** Kombu's broker daemon as a {@link QueueBackend}. */
export class PyroBackend implements QueueBackend {
  readonly #settings: PyroSettings;
  readonly #connect: PyroConnectOptions;
  #link: Promise<PyroConnection> | undefined;
  #closed = false;
  /** Queues this store made sure of with `new_queue` (a put answered `KeyError` makes again). */
  readonly #created = new Set<string>();

  /**
   * Makes the store of one connection (it connects on first use).
   *
   * @param settings where the name server is and what to look up
   * @param connect socket factory and timeout
   */
  constructor(settings: PyroSettings, connect: PyroConnectOptions) {
    this.#settings = settings;
    this.#connect = connect;
  }

  /** Looks the broker up and connects (again, when the last link failed). */
  async connection(): Promise<PyroConnection> {
    const current = this.#link;
    if (current) {
      const link = await current.catch(() => undefined);
      if (link && !link.broken) return link;
      if (this.#link !== current) return this.connection();
    }
    const s = this.#settings;
    const next = lookupPyroName(
      { host: s.nameServerHost, port: s.nameServerPort },
      s.brokerName,
      this.#connect,
    ).then((location) => PyroConnection.open(location, this.#connect));
    this.#link = next;
    next.catch(() => {
      if (this.#link === next) this.#link = undefined;
    });
    return next;
  }

  async #call(method: string, ...args: SerpentValue[]): Promise<SerpentValue> {
    const link = await this.connection();
    const used = link.calls > 0;
    try {
      return await link.call(method, ...args);
    } catch (error) {
      // A link that served calls before and is found closed now is a daemon that went away
      // (restarted) while it idled: the call never reached a daemon that could answer it, so
      // it is made once more on a fresh lookup. A call that timed out is not repeated.
      if (!used || !(error instanceof PyroCommunicationError) || !error.closedByPeer) throw error;
      return (await this.connection()).call(method, ...args);
    }
  }

  /**
   * `put` of the envelope dict; `new_queue` first for a queue this store has not created (or
   * when the daemon answers `KeyError`: deleted by another client, or a restarted daemon).
   */
  async put(queue: string, message: StoredMessage): Promise<void> {
    const envelope = envelopeToObject(message) as SerpentValue;
    if (!this.#created.has(queue)) {
      await this.#call("new_queue", queue);
      this.#created.add(queue);
    }
    try {
      await this.#call("put", queue, envelope);
    } catch (error) {
      if (!isRemote(error, "KeyError")) throw error;
      await this.#call("new_queue", queue);
      await this.#call("put", queue, envelope);
    }
  }

  /** `get`; the daemon's `queue.Empty` (or `KeyError` for no queue) is nothing. */
  async get(queue: string): Promise<StoredMessage | undefined> {
    let value: SerpentValue;
    try {
      value = await this.#call("get", queue);
    } catch (error) {
      if (isRemote(error, "Empty") || isRemote(error, "KeyError")) return undefined;
      throw error;
    }
    return envelopeFromObject(value);
  }

  /**
   * Takes messages until the queue is empty (the daemon's own `purge` calls `Queue.get` with an
   * argument it does not have, so it always fails in Kombu 5.2).
   */
  async purge(queue: string): Promise<number> {
    let count = 0;
    for (;;) {
      try {
        await this.#call("get", queue);
        count++;
      } catch (error) {
        if (isRemote(error, "Empty") || isRemote(error, "KeyError")) return count;
        throw error;
      }
    }
  }

  /** `size`; 0 for a queue the daemon does not have. */
  async size(queue: string): Promise<number> {
    try {
      return Number(await this.#call("size", queue));
    } catch (error) {
      if (isRemote(error, "KeyError")) return 0;
      throw error;
    }
  }

  /** `delete`; a queue the daemon does not have is already gone. */
  async delete(queue: string): Promise<void> {
    this.#created.delete(queue);
    try {
      await this.#call("delete", queue);
    } catch (error) {
      if (!isRemote(error, "KeyError")) throw error;
    }
  }

  /** `new_queue` (Kombu's `_new_queue`). */
  async declare(queue: string): Promise<void> {
    await this.#call("new_queue", queue);
    this.#created.add(queue);
  }

  /** `has_queue` (Kombu's `_has_queue`). */
  async exists(queue: string): Promise<boolean> {
    return (await this.#call("has_queue", queue)) === true;
  }

  /** Closes the link. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const link = await this.#link?.catch(() => undefined);
    this.#link = undefined;
    await link?.close();
  }
}
