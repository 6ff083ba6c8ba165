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
import {
  type GetManyOptions,
  POSSIBLE_DUPLICATE_HEADER,
  type QueueBackend,
  type QueueBatch,
  type StoredMessage,
} from "../../src/virtual/backend.ts";
import type { BackendContext } from "../../src/virtual/transport.ts";
import { sleep } from "../_http/backoff.ts";
import { decodeOrWrap } from "../_http/foreign.ts";
import { QueueCache, type Receipt, ReceiptLease } from "../_http/receipts.ts";
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

/** Azure's receipt of a received message: the queue name, message id and pop receipt. */
export type AzureReceipt = Receipt;

function isStale(error: unknown): boolean {
  return error instanceof HttpError &&
    (error.code === "MessageNotFound" || error.code === "PopReceiptMismatch" ||
      error.status === 404);
}

/** Kombu's Azure Storage Queues transport as a {@link QueueBackend}. */
export class AzureBackend implements QueueBackend {
  /**
   * Pop receipts: deleted on ack, visible again on release, renewed by the base while held
   * (absent in `deleteOnReceive` mode: the base restores).
   */
  readonly lease?: ReceiptLease;

  readonly #settings: AzureSettings;
  readonly #context: Pick<BackendContext, "warn"> | undefined;
  readonly #client: AzureQueueClient;
  readonly #created = new QueueCache<true>();
  /** Receipts held by this connection, for {@link AzureBackend.size}. */
  readonly #held = new Set<Receipt>();
  readonly #closing = new AbortController();

  /**
   * Opens the store (no request is made until it is used).
   *
   * @param settings the connection's settings
   * @param context where survived failures are reported
   */
  constructor(settings: AzureSettings, context?: Pick<BackendContext, "warn">) {
    this.#settings = settings;
    this.#context = context;
    this.#client = new AzureQueueClient(settings);
    if (settings.ackMode === "visibility") {
      this.lease = new ReceiptLease({
        delete: (receipt, what) => this.#deleteMessage(receipt, what),
        setVisibility: (receipt, seconds) => this.#updateVisibility(receipt, seconds),
        isStale,
      }, {
        deleteOnReject: true,
        duration: settings.visibilityTimeoutSeconds * 1000,
        onStale: (receipt, what, error) =>
          this.#context?.warn(
            `Cannot ${what} a message of Azure queue "${receipt.queue}": its pop receipt is ` +
              "stale; the service delivers it again",
            error,
          ),
        onDone: (receipt) => this.#held.delete(receipt),
      });
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
    await this.#created.resolve(name, async () => {
      await this.#client.call(`create queue "${queue}"`, "PUT", this.#path(name), {
        // 201 created, 204 exists alike, 409 exists with other metadata: all fine for us.
        ok: (status) => status === 201 || status === 204 || status === 409,
      });
      return true;
    });
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
    message.deliveryCount = raw.dequeueCount;
    message.leasedAt = Date.now(); // hidden from now: renewal counts from here, not the delivery
    if (this.#settings.ackMode === "deleteOnReceive") {
      try {
        await this.#client.call(
          `delete a received message of queue "${queue}"`,
          "DELETE",
          this.#messagePath(name, raw.messageId),
          { query: { popreceipt: raw.popReceipt } },
        );
      } catch (error) {
        this.#context?.warn(`Cannot delete a received message of queue "${queue}"`, error);
      }
      return message;
    }
    const receipt: Receipt = { queue: name, messageId: raw.messageId, handle: raw.popReceipt };
    this.#held.add(receipt);
    message.backendData = receipt;
    return message;
  }

  #messagePath(name: string, messageId = ""): string {
    return this.#path(name, `/messages/${encodeURIComponent(messageId)}`);
  }

  async #updateVisibility(receipt: Receipt, seconds: number): Promise<void> {
    const answer = await this.#client.call(
      `update a message of queue "${receipt.queue}"`,
      "PUT",
      this.#messagePath(receipt.queue, receipt.messageId),
      { query: { popreceipt: receipt.handle, visibilitytimeout: String(seconds) } },
    );
    const next = answer.headers.get("x-ms-popreceipt");
    if (next) receipt.handle = next;
  }

  async #deleteMessage(receipt: Receipt, what: string): Promise<void> {
    await this.#client.call(
      `${what} a message of queue "${receipt.queue}"`,
      "DELETE",
      this.#messagePath(receipt.queue, receipt.messageId),
      { query: { popreceipt: receipt.handle } },
    );
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
  async getMany(queues: readonly string[], options: GetManyOptions): Promise<QueueBatch[]> {
    const got: QueueBatch[] = [];
    let left = options.max;
    for (const queue of queues) {
      if (left <= 0 || options.signal.aborted) break;
      const messages = await this.#receive(queue, Math.min(left, options.perQueue ?? left));
      if (messages.length > 0) got.push({ queue, messages });
      left -= messages.length;
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
    for (const receipt of this.#held) if (receipt.queue === name) held++;
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

  /** Stops receiving (messages still hidden show again when their time is up). */
  close(): Promise<void> {
    this.#closing.abort();
    this.#held.clear();
    return Promise.resolve();
  }
}
