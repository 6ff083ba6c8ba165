/**
 * The Azure Storage Queues store behind the virtual channel: Kombu's transport over the REST API
 * with `fetch`, at least once by default (a received message stays hidden while it is processed
 * and is deleted on ack), or at most once as Kombu (deleted when received).
 *
 * @module
 */

import { bodyBytes } from "../../src/body.ts";
import { encodeEnvelope } from "../../src/envelope.ts";
import { HttpError, LimitExceededError, NotFoundError } from "../../src/errors.ts";
import type {
  AckStore,
  GetManyOptions,
  QueueBackend,
  StoredMessage,
} from "../../src/virtual/backend.ts";
import type { BackendContext } from "../../src/virtual/transport.ts";
import { sleep } from "../_http/backoff.ts";
import { decodeOrWrap } from "../_http/foreign.ts";
import {
  AzureQueueClient,
  type AzureQueueMessage,
  parseMessagesList,
  putMessageBody,
} from "./client.ts";
import { azureQueueName } from "./names.ts";
import type { AzureSettings } from "./options.ts";

/** Azure returns at most 32 messages per Get Messages. */
const AZURE_MAX_MESSAGES = 32;

/** The header a message carries when it was sent again after an attempt whose answer was lost. */
export const POSSIBLE_DUPLICATE_HEADER = "x-wakame-possible-duplicate";

/** Where a received message lives (kept in {@link StoredMessage.backendData}). */
export interface AzureReceipt {
  /** The Azure queue name. */
  queue: string;
  /** The message id. */
  messageId: string;
  /** The pop receipt of the latest receive or visibility update. */
  popReceipt: string;
  /** Renews the visibility while the message is processed; cleared when it is settled. */
  timer?: ReturnType<typeof setInterval>;
  /** True once acked, requeued or dropped. */
  settled?: boolean;
  /** A renewal in flight: its answer carries the next pop receipt. */
  renewing?: Promise<void>;
}

function receiptOf(message: StoredMessage): AzureReceipt | undefined {
  const data = message.backendData as Partial<AzureReceipt> | undefined;
  return data && typeof data.messageId === "string" ? data as AzureReceipt : undefined;
}

function isStale(error: unknown): boolean {
  return error instanceof HttpError &&
    (error.code === "MessageNotFound" || error.code === "PopReceiptMismatch" ||
      error.status === 404);
}

/** Kombu's Azure Storage Queues transport as a {@link QueueBackend}. */
export class AzureBackend implements QueueBackend {
  /** Server-side acknowledgement (absent in `deleteOnReceive` mode: the base restores). */
  readonly acks?: AckStore;

  readonly #settings: AzureSettings;
  readonly #context: BackendContext | undefined;
  readonly #client: AzureQueueClient;
  readonly #created = new Set<string>();
  readonly #creating = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<AzureReceipt>();
  readonly #closing = new AbortController();
  #rotation = 0;

  /**
   * Opens the store (no request is made until it is used).
   *
   * @param settings the connection's settings
   * @param context where survived failures are reported
   */
  constructor(settings: AzureSettings, context?: BackendContext) {
    this.#settings = settings;
    this.#context = context;
    this.#client = new AzureQueueClient(settings);
    if (settings.ackMode === "visibility") {
      this.acks = {
        ack: (_queue, message) => this.#delete(message, "ack"),
        requeue: (_queue, message) => this.#release(message),
        drop: (_queue, message) => this.#delete(message, "drop"),
        restore: async (unacked) => {
          await Promise.all(unacked.map(([, message]) => this.#release(message)));
        },
      };
    }
  }

  /** The Azure name of an AMQP queue name (prefix, Kombu's translation, Azure's rules). */
  azureName(queue: string): string {
    return azureQueueName(this.#settings.queueNamePrefix, queue);
  }

  #path(name: string, suffix = ""): string {
    return `/${encodeURIComponent(name)}${suffix}`;
  }

  async #ensure(queue: string): Promise<string> {
    const name = this.azureName(queue);
    if (this.#created.has(name)) return name;
    let pending = this.#creating.get(name);
    if (!pending) {
      pending = this.#client.call(`create queue "${queue}"`, "PUT", this.#path(name), {
        // 201 created, 204 exists alike, 409 exists with other metadata: all fine for us.
        ok: (status) => status === 201 || status === 204 || status === 409,
      }).then(() => {
        this.#created.add(name);
      }).finally(() => this.#creating.delete(name));
      this.#creating.set(name, pending);
    }
    await pending;
    return name;
  }

  /** Creates the queue unless it exists. */
  async declare(queue: string): Promise<void> {
    await this.#ensure(queue);
  }

  /**
   * Sends a message: its text is Kombu's JSON envelope (no extra base64 layer).
   *
   * @throws {LimitExceededError} when the text is over `maxMessageSize` (64 KiB)
   */
  async put(queue: string, message: StoredMessage): Promise<void> {
    const text = encodeEnvelope(message);
    const { textBytes } = putMessageBody(text);
    if (textBytes > this.#settings.maxMessageSize) {
      throw new LimitExceededError(
        `Cannot publish to queue "${queue}": the encoded message is ${textBytes} bytes, over ` +
          `the Azure Storage limit of ${this.#settings.maxMessageSize} bytes ` +
          `(body ${bodyBytes(message.body).length} bytes before encoding)`,
      );
    }
    const name = await this.#ensure(queue);
    const query: Record<string, string> = {};
    if (this.#settings.messageTtlSeconds !== undefined) {
      query.messagettl = String(this.#settings.messageTtlSeconds);
    }
    await this.#client.call(`publish to queue "${queue}"`, "POST", this.#path(name, "/messages"), {
      query,
      body: (info) => {
        if (!info.afterAmbiguousFailure) return putMessageBody(text).xml;
        const flagged: StoredMessage = {
          ...message,
          properties: {
            ...message.properties,
            headers: { ...message.properties.headers, [POSSIBLE_DUPLICATE_HEADER]: true },
          },
        };
        return putMessageBody(encodeEnvelope(flagged)).xml;
      },
    });
  }

  async #receive(queue: string, max: number): Promise<StoredMessage[]> {
    const name = await this.#ensure(queue);
    const answer = await this.#client.call(
      `receive from queue "${queue}"`,
      "GET",
      this.#path(name, "/messages"),
      {
        query: {
          numofmessages: String(Math.min(AZURE_MAX_MESSAGES, Math.max(1, max))),
          visibilitytimeout: String(this.#settings.visibilityTimeoutSeconds),
        },
        signal: this.#closing.signal,
      },
    );
    const raw = parseMessagesList(answer.text);
    const out: StoredMessage[] = [];
    for (const entry of raw) out.push(await this.#toStored(queue, name, entry));
    return out;
  }

  async #toStored(queue: string, name: string, raw: AzureQueueMessage): Promise<StoredMessage> {
    const [message] = decodeOrWrap(raw.messageText);
    if (this.#settings.ackMode === "deleteOnReceive") {
      try {
        await this.#client.call(
          `delete a received message of queue "${queue}"`,
          "DELETE",
          this.#path(name, `/messages/${encodeURIComponent(raw.messageId)}`),
          { query: { popreceipt: raw.popReceipt } },
        );
      } catch (error) {
        this.#context?.warn(`Cannot delete a received message of queue "${queue}"`, error);
      }
      return message;
    }
    if (raw.dequeueCount > 1) message.redelivered = true;
    const receipt: AzureReceipt = {
      queue: name,
      messageId: raw.messageId,
      popReceipt: raw.popReceipt,
    };
    this.#extendWhileProcessed(receipt);
    message.backendData = receipt;
    return message;
  }

  #extendWhileProcessed(receipt: AzureReceipt): void {
    const seconds = this.#settings.visibilityTimeoutSeconds;
    // Renew at half the timeout, so that a slow answer still lands before the message shows.
    const every = Math.max(500, (seconds * 1000) / 2);
    this.#inFlight.add(receipt);
    receipt.timer = setInterval(() => {
      if (receipt.settled || receipt.renewing) return;
      receipt.renewing = this.#updateVisibility(receipt, seconds).catch((error) => {
        if (isStale(error)) this.#settle(receipt);
        this.#context?.warn(
          `Cannot extend the visibility of a message of Azure queue "${receipt.queue}"`,
          error,
        );
      }).finally(() => (receipt.renewing = undefined));
    }, every);
    (receipt.timer as { unref?: () => void }).unref?.();
  }

  #settle(receipt: AzureReceipt): void {
    receipt.settled = true;
    if (receipt.timer !== undefined) clearInterval(receipt.timer);
    receipt.timer = undefined;
    this.#inFlight.delete(receipt);
  }

  async #updateVisibility(receipt: AzureReceipt, seconds: number): Promise<void> {
    const answer = await this.#client.call(
      `update a message of queue "${receipt.queue}"`,
      "PUT",
      this.#path(receipt.queue, `/messages/${encodeURIComponent(receipt.messageId)}`),
      { query: { popreceipt: receipt.popReceipt, visibilitytimeout: String(seconds) } },
    );
    const next = answer.headers.get("x-ms-popreceipt");
    if (next) receipt.popReceipt = next;
  }

  async #delete(message: StoredMessage, what: string): Promise<void> {
    const receipt = receiptOf(message);
    if (!receipt) return;
    this.#settle(receipt);
    await receipt.renewing; // its answer holds the pop receipt to use
    try {
      await this.#client.call(
        `${what} a message of queue "${receipt.queue}"`,
        "DELETE",
        this.#path(receipt.queue, `/messages/${encodeURIComponent(receipt.messageId)}`),
        { query: { popreceipt: receipt.popReceipt } },
      );
    } catch (error) {
      if (!isStale(error)) throw error;
      this.#context?.warn(
        `Cannot ${what} a message of Azure queue "${receipt.queue}": its pop receipt is stale; ` +
          "the service delivers it again",
        error,
      );
    }
  }

  async #release(message: StoredMessage): Promise<void> {
    const receipt = receiptOf(message);
    if (!receipt) return;
    this.#settle(receipt);
    await receipt.renewing;
    try {
      await this.#updateVisibility(receipt, 0);
    } catch (error) {
      if (!isStale(error)) throw error;
    }
  }

  /** Takes one message, or `undefined` when the queue is empty. */
  async get(queue: string): Promise<StoredMessage | undefined> {
    const [message] = await this.#receive(queue, 1);
    return message;
  }

  /**
   * Takes up to `max` messages from the queues in turn; when all are empty, waits one polling
   * interval (Azure has no long poll) and answers with nothing.
   */
  async getMany(
    queues: readonly string[],
    options: GetManyOptions,
  ): Promise<[string, StoredMessage][]> {
    const got: [string, StoredMessage][] = [];
    const start = this.#rotation++;
    for (let i = 0; i < queues.length && got.length < options.max; i++) {
      if (options.signal.aborted) break;
      const queue = queues[(start + i) % queues.length];
      for (const message of await this.#receive(queue, options.max - got.length)) {
        got.push([queue, message]);
      }
    }
    if (got.length === 0) await sleep(this.#settings.pollingInterval, options.signal);
    return got;
  }

  /**
   * How many messages wait: the queue's approximate count, which on Azure includes hidden
   * messages, less those this connection holds unacknowledged (hidden messages of other
   * connections stay counted).
   */
  async size(queue: string): Promise<number> {
    const name = this.azureName(queue);
    const answer = await this.#client.call(
      `read the size of queue "${queue}"`,
      "GET",
      this.#path(name),
      { query: { comp: "metadata" } },
    );
    const total = Number(answer.headers.get("x-ms-approximate-messages-count") ?? 0);
    let held = 0;
    for (const receipt of this.#inFlight) if (receipt.queue === name) held++;
    return Math.max(0, total - held);
  }

  /** Removes every message (Clear Messages); resolves to how many were waiting. */
  async purge(queue: string): Promise<number> {
    let size: number;
    try {
      size = await this.size(queue);
    } catch (error) {
      if (error instanceof NotFoundError) return 0;
      throw error;
    }
    await this.#client.call(
      `purge queue "${queue}"`,
      "DELETE",
      this.#path(this.azureName(queue), "/messages"),
    );
    return size;
  }

  /** Deletes the queue. */
  async delete(queue: string): Promise<void> {
    const name = this.azureName(queue);
    this.#created.delete(name);
    await this.#client.call(`delete queue "${queue}"`, "DELETE", this.#path(name), {
      ok: (status) => status === 204 || status === 404,
    });
  }

  /** Stops the visibility renewals (messages still hidden show again when their time is up). */
  close(): Promise<void> {
    this.#closing.abort();
    for (const receipt of [...this.#inFlight]) this.#settle(receipt);
    return Promise.resolve();
  }
}
