/**
 * The requests of the SQS store: one SDK client per credentials, queue URLs resolved (and queues
 * created) once per name, and sends, deletes and visibility changes coalesced into SQS's batch
 * calls.
 *
 * @module
 */

import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  type CreateQueueRequest,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueUrlCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SendMessageRequest,
} from "@aws-sdk/client-sqs";
import { ConfigurationError, HttpError, NotFoundError } from "../../src/errors.ts";
import type { BackendContext } from "../../src/virtual/transport.ts";
import { QueueCache, type Receipt, ReceiptLease } from "../_http/receipts.ts";
import { Coalescer } from "./_batch.ts";
import { isStaleReceiptHandle, SqsClient } from "./client.ts";
import { sqsQueueName } from "./names.ts";
import type { SqsSettings } from "./options.ts";

/**
 * The message attribute a `SendMessage` carries when it was sent again after an attempt whose
 * answer was lost: the message may be in the queue twice.
 */
export const POSSIBLE_DUPLICATE_ATTRIBUTE = "wakame.possible-duplicate";

/** One message to send. */
export interface OutgoingEntry {
  /** The SQS message body. */
  body: string;
  /** FIFO (or fair queue) group id. */
  groupId?: string;
  /** FIFO deduplication id. */
  dedupId?: string;
}

interface VisibilityEntry {
  receiptHandle: string;
  seconds: number;
}

/** SQS's requests for one connection. */
export class SqsRequests {
  /** Receipt handles: deleted on ack, visible again (visibility 0) on release. */
  readonly lease: ReceiptLease;
  readonly #settings: SqsSettings;
  readonly #context: Pick<BackendContext, "warn"> | undefined;
  readonly #client: SqsClient;
  readonly #queueClients = new Map<string, SqsClient>();
  readonly #urls = new QueueCache<string>();
  readonly #sender: Coalescer<OutgoingEntry, void>;
  readonly #deleter: Coalescer<string, void>;
  readonly #visibility: Coalescer<VisibilityEntry, void>;

  /**
   * Makes the clients (no request is made until one is needed).
   *
   * @param settings the connection's settings
   * @param context where survived failures are reported
   */
  constructor(settings: SqsSettings, context: Pick<BackendContext, "warn"> | undefined) {
    this.#settings = settings;
    this.#context = context;
    this.#client = new SqsClient({
      region: settings.region,
      endpoint: settings.endpoint,
      credentials: settings.credentials,
      fetch: settings.fetch,
      backoff: settings.backoff,
    });
    this.#sender = new Coalescer((url, entries) => this.#sendBatch(url, entries));
    this.#deleter = new Coalescer((url, handles) => this.#deleteBatch(url, handles));
    this.#visibility = new Coalescer((url, entries) => this.#visibilityBatch(url, entries));
    this.lease = new ReceiptLease({
      delete: (receipt) => this.#deleter.add(receipt.queue, receipt.handle),
      setVisibility: (receipt, seconds) => this.setVisibility(receipt, seconds),
      isStale: (error) => isStaleReceiptHandle((error as Error | undefined)?.cause),
    }, {
      deleteOnReject: settings.rejectMode === "delete",
      // The base renews a held message's visibility at half of it (kombu#337: Kombu lets a
      // handler that runs past the timeout be redelivered). It is the queue's VisibilityTimeout
      // when wakame or Kombu created the queue; set `visibilityTimeout` to the queue's own for
      // a queue made otherwise.
      duration: settings.visibilityTimeoutSeconds * 1000,
      onStale: (receipt, what) => this.#staleWarning(receipt.queue, what),
    });
  }

  /** The SQS name of an AMQP queue name (prefix and Kombu's translation). */
  sqsName(queue: string): string {
    return sqsQueueName(this.#settings.queueNamePrefix, queue);
  }

  /** Sends a message (sends of one tick to one queue share a batch). */
  send(url: string, entry: OutgoingEntry): Promise<void> {
    return this.#sender.add(url, entry);
  }

  /** Hides a received message for `seconds` (0: visible at once). */
  setVisibility(receipt: Receipt, seconds: number): Promise<void> {
    return this.#visibility.add(receipt.queue, { receiptHandle: receipt.handle, seconds });
  }

  /** Forgets the URL of a deleted queue. */
  forget(queue: string): void {
    this.#urls.delete(this.sqsName(queue));
  }

  /** Releases the SDK clients. */
  destroy(): void {
    this.#client.destroy();
    for (const client of this.#queueClients.values()) client.destroy();
  }

  /** The client of a queue (predefined queues may have their own credentials or region). */
  clientFor(sqsName: string): SqsClient {
    const predefined = this.#settings.predefinedQueues?.[sqsName];
    if (!predefined || (!predefined.accessKeyId && !predefined.region)) return this.#client;
    let client = this.#queueClients.get(sqsName);
    if (!client) {
      const base = this.#settings;
      client = new SqsClient({
        region: predefined.region ?? base.region,
        endpoint: base.endpoint,
        credentials: predefined.accessKeyId && predefined.secretAccessKey
          ? {
            accessKeyId: predefined.accessKeyId,
            secretAccessKey: predefined.secretAccessKey,
            ...(predefined.sessionToken ? { sessionToken: predefined.sessionToken } : {}),
          }
          : base.credentials,
        fetch: base.fetch,
        backoff: base.backoff,
      });
      this.#queueClients.set(sqsName, client);
    }
    return client;
  }

  /** Resolves a queue URL, creating the queue when `create` (Kombu's `_new_queue`). */
  async url(queue: string, create: boolean): Promise<string> {
    const name = this.sqsName(queue);
    const known = this.#urls.get(name);
    if (known !== undefined) return known;
    const predefined = this.#settings.predefinedQueues;
    if (predefined) {
      const entry = predefined[name] ?? predefined[queue];
      if (!entry) {
        throw new ConfigurationError(
          `Cannot use queue "${queue}": it is not in "predefinedQueues" (as "${name}")`,
        );
      }
      if (entry.url.endsWith(".fifo") !== name.endsWith(".fifo")) {
        throw new ConfigurationError(
          `Cannot use queue "${queue}": a FIFO queue's name and URL must both end in ".fifo"`,
        );
      }
      this.#urls.set(name, entry.url);
      return entry.url;
    }
    return await this.#urls.resolve(
      name,
      () => this.#lookup(queue, name, create),
      `${create}|${name}`,
    );
  }

  async #lookup(queue: string, name: string, create: boolean): Promise<string> {
    const client = this.clientFor(name);
    try {
      const out = await client.send<{ QueueUrl?: string }>(
        `find queue "${queue}" (SQS "${name}")`,
        () => new GetQueueUrlCommand({ QueueName: name }),
      );
      if (out.QueueUrl) return out.QueueUrl;
    } catch (error) {
      if (!(error instanceof NotFoundError) || !create) throw error;
    }
    const attributes: Record<string, string> = {
      VisibilityTimeout: String(this.#settings.visibilityTimeoutSeconds),
    };
    if (name.endsWith(".fifo")) attributes.FifoQueue = "true";
    Object.assign(attributes, this.#settings.creationAttributes);
    const input: CreateQueueRequest = { QueueName: name, Attributes: attributes };
    if (this.#settings.queueTags) input.tags = this.#settings.queueTags;
    const out = await client.send<{ QueueUrl?: string }>(
      `create queue "${queue}" (SQS "${name}")`,
      () => new CreateQueueCommand(input),
    );
    if (!out.QueueUrl) {
      throw new HttpError(`Cannot create queue "${queue}": SQS answered without a URL`, {
        status: 200,
      });
    }
    return out.QueueUrl;
  }

  #sendInput(url: string, entry: OutgoingEntry, duplicate: boolean): SendMessageRequest {
    const input: SendMessageRequest = { QueueUrl: url, MessageBody: entry.body };
    if (entry.groupId) input.MessageGroupId = entry.groupId;
    if (entry.dedupId) input.MessageDeduplicationId = entry.dedupId;
    if (duplicate) {
      input.MessageAttributes = {
        [POSSIBLE_DUPLICATE_ATTRIBUTE]: { DataType: "String", StringValue: "true" },
      };
    }
    return input;
  }

  async #sendOne(url: string, entry: OutgoingEntry): Promise<void> {
    await this.clientFor(this.#nameOfUrl(url)).send(
      `send to SQS queue ${url}`,
      (info) => new SendMessageCommand(this.#sendInput(url, entry, info.afterAmbiguousFailure)),
    );
  }

  async #sendBatch(url: string, entries: OutgoingEntry[]): Promise<Array<void | Error>> {
    if (entries.length === 1) {
      await this.#sendOne(url, entries[0]);
      return [undefined];
    }
    const out = await this.clientFor(this.#nameOfUrl(url)).send<{
      Failed?: { Id?: string; SenderFault?: boolean; Code?: string; Message?: string }[];
    }>(`send a batch to SQS queue ${url}`, (info) =>
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: entries.map((entry, i) => {
          const { QueueUrl: _, ...rest } = this.#sendInput(url, entry, info.afterAmbiguousFailure);
          return { Id: String(i), ...rest };
        }),
      }));
    const results: Array<void | Error> = entries.map(() => undefined);
    for (const failed of out.Failed ?? []) {
      const i = Number(failed.Id);
      if (!(i >= 0 && i < entries.length)) continue;
      if (failed.SenderFault) {
        results[i] = new HttpError(
          `Cannot send to SQS queue ${url}: ${failed.Code}: ${failed.Message}`,
          { status: 400, code: failed.Code },
        );
      } else {
        // A server-side failure of one entry: send it alone, with the retry policy.
        try {
          await this.#sendOne(url, entries[i]);
        } catch (error) {
          results[i] = error as Error;
        }
      }
    }
    return results;
  }

  #nameOfUrl(url: string): string {
    return url.slice(url.lastIndexOf("/") + 1);
  }

  #staleWarning(url: string, what: string): void {
    this.#context?.warn(
      `Cannot ${what} a message of SQS queue ${url}: its receipt handle expired; ` +
        "SQS delivers it again",
    );
  }

  async #deleteBatch(url: string, handles: string[]): Promise<Array<void | Error>> {
    const client = this.clientFor(this.#nameOfUrl(url));
    if (handles.length === 1) {
      try {
        await client.send(
          `ack a message of SQS queue ${url}`,
          () => new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handles[0] }),
        );
      } catch (error) {
        if (!isStaleReceiptHandle((error as Error).cause)) throw error;
        this.#staleWarning(url, "ack");
      }
      return [undefined];
    }
    const out = await client.send<{ Failed?: { Id?: string; Code?: string; Message?: string }[] }>(
      `ack messages of SQS queue ${url}`,
      () =>
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: handles.map((h, i) => ({ Id: String(i), ReceiptHandle: h })),
        }),
    );
    return this.#batchResults(url, handles.length, out.Failed, "ack");
  }

  async #visibilityBatch(url: string, entries: VisibilityEntry[]): Promise<Array<void | Error>> {
    const client = this.clientFor(this.#nameOfUrl(url));
    if (entries.length === 1) {
      try {
        await client.send(
          `requeue a message of SQS queue ${url}`,
          () =>
            new ChangeMessageVisibilityCommand({
              QueueUrl: url,
              ReceiptHandle: entries[0].receiptHandle,
              VisibilityTimeout: entries[0].seconds,
            }),
        );
      } catch (error) {
        if (!isStaleReceiptHandle((error as Error).cause)) throw error;
        this.#staleWarning(url, "requeue");
      }
      return [undefined];
    }
    const out = await client.send<{ Failed?: { Id?: string; Code?: string; Message?: string }[] }>(
      `requeue messages of SQS queue ${url}`,
      () =>
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: entries.map((e, i) => ({
            Id: String(i),
            ReceiptHandle: e.receiptHandle,
            VisibilityTimeout: e.seconds,
          })),
        }),
    );
    return this.#batchResults(url, entries.length, out.Failed, "requeue");
  }

  #batchResults(
    url: string,
    count: number,
    failed: { Id?: string; Code?: string; Message?: string }[] | undefined,
    what: string,
  ): Array<void | Error> {
    const results: Array<void | Error> = Array.from({ length: count }, () => undefined);
    for (const f of failed ?? []) {
      const i = Number(f.Id);
      if (!(i >= 0 && i < count)) continue;
      const stale = f.Code === "ReceiptHandleIsInvalid" || f.Code === "MessageNotInflight" ||
        /receipt handle/i.test(f.Message ?? "");
      if (stale) this.#staleWarning(url, what);
      else {
        results[i] = new HttpError(
          `Cannot ${what} a message of SQS queue ${url}: ${f.Code}: ${f.Message}`,
          { status: 400, code: f.Code },
        );
      }
    }
    return results;
  }
}
