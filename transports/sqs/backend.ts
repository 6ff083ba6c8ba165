/**
 * The SQS queue store behind the virtual channel: Kombu's SQS transport over
 * `@aws-sdk/client-sqs`, with long polling across queues, batched sends, deletes and visibility
 * changes, and server-side acknowledgement by receipt handle.
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
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message as SqsMessage,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SendMessageRequest,
} from "@aws-sdk/client-sqs";
import { ConfigurationError, HttpError, NotFoundError } from "../../src/errors.ts";
import type {
  AckStore,
  GetManyOptions,
  QueueBackend,
  StoredMessage,
} from "../../src/virtual/backend.ts";
import type { BackendContext } from "../../src/virtual/transport.ts";
import { sleep } from "../_http/backoff.ts";
import { Coalescer } from "./_batch.ts";
import { isStaleReceiptHandle, serviceFailure, SqsClient } from "./client.ts";
import { decodeSqsBody, encodeSqsBody } from "./codec.ts";
import { sqsQueueName } from "./names.ts";
import type { SqsSettings } from "./options.ts";

/** SQS returns at most 10 messages per receive and takes at most 10 entries per batch. */
const SQS_MAX_MESSAGES = 10;

/** How long messages received for a consumer that went away wait to be claimed, ms. */
const UNCLAIMED_RELEASE_MS = 2000;

/**
 * The message attribute a `SendMessage` carries when it was sent again after an attempt whose
 * answer was lost: the message may be in the queue twice.
 */
export const POSSIBLE_DUPLICATE_ATTRIBUTE = "wakame.possible-duplicate";

/** The header a consumer sees on such a message (`true`). */
export const POSSIBLE_DUPLICATE_HEADER = "x-wakame-possible-duplicate";

/** Where a received message lives on SQS (kept in {@link StoredMessage.backendData}). */
export interface SqsReceipt {
  /** The queue URL. */
  url: string;
  /** The receipt handle of this receive (Kombu's delivery tag). */
  receiptHandle: string;
}

interface OutgoingEntry {
  body: string;
  groupId?: string;
  dedupId?: string;
}

interface VisibilityEntry {
  receiptHandle: string;
  seconds: number;
}

function receiptOf(message: StoredMessage): SqsReceipt | undefined {
  const data = message.backendData as Partial<SqsReceipt> | undefined;
  return data && typeof data.url === "string" && typeof data.receiptHandle === "string"
    ? data as SqsReceipt
    : undefined;
}

function headerString(message: StoredMessage, name: string): string | undefined {
  const value = message.properties.headers?.[name];
  if (typeof value === "string" && value !== "") return value;
  const extra = (message.envelopeExtras?.properties as Record<string, unknown> | undefined)?.[name];
  return typeof extra === "string" && extra !== "" ? extra : undefined;
}

/** Kombu's SQS transport as a {@link QueueBackend} (and its {@link AckStore}). */
export class SqsBackend implements QueueBackend {
  /** Server-side acknowledgement by receipt handle. */
  readonly acks: AckStore;

  readonly #settings: SqsSettings;
  readonly #context: BackendContext | undefined;
  readonly #client: SqsClient;
  readonly #queueClients = new Map<string, SqsClient>();
  readonly #urls = new Map<string, string>();
  readonly #resolving = new Map<string, Promise<string>>();
  readonly #buffers = new Map<string, StoredMessage[]>();
  readonly #polls = new Map<string, Promise<void>>();
  readonly #pollErrors = new Map<string, unknown>();
  readonly #wakers = new Set<() => void>();
  readonly #closing = new AbortController();
  readonly #sender: Coalescer<OutgoingEntry, void>;
  readonly #deleter: Coalescer<string, void>;
  readonly #visibility: Coalescer<VisibilityEntry, void>;
  readonly #pollingInterval: number;
  #rotation = 0;

  /**
   * Opens the store (no request is made until it is used).
   *
   * @param settings the connection's settings
   * @param context where survived failures are reported
   * @param pollingInterval ms between short polls when `waitTimeSeconds` is 0
   */
  constructor(settings: SqsSettings, context?: BackendContext, pollingInterval = 1000) {
    this.#settings = settings;
    this.#context = context;
    this.#pollingInterval = pollingInterval;
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
    this.acks = {
      ack: (_queue, message) => this.#ack(message),
      requeue: (_queue, message) => this.#requeue(message),
      drop: (_queue, message) =>
        this.#settings.rejectMode === "delete" ? this.#ack(message) : Promise.resolve(),
      restore: async (unacked) => {
        await Promise.all(
          unacked.map(([queue, message]) =>
            this.#requeue(message).catch((error) =>
              this.#context?.warn(`Cannot give a message back to queue "${queue}"`, error)
            )
          ),
        );
      },
    };
  }

  /** The SQS name of an AMQP queue name (prefix and Kombu's translation). */
  sqsName(queue: string): string {
    return sqsQueueName(this.#settings.queueNamePrefix, queue);
  }

  #clientFor(sqsName: string): SqsClient {
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
  async #url(queue: string, create: boolean): Promise<string> {
    const name = this.sqsName(queue);
    const known = this.#urls.get(name);
    if (known) return known;
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
    const key = `${create}|${name}`;
    let pending = this.#resolving.get(key);
    if (!pending) {
      pending = this.#lookup(queue, name, create).finally(() => this.#resolving.delete(key));
      this.#resolving.set(key, pending);
    }
    return await pending;
  }

  async #lookup(queue: string, name: string, create: boolean): Promise<string> {
    const client = this.#clientFor(name);
    try {
      const out = await client.send<{ QueueUrl?: string }>(
        `find queue "${queue}" (SQS "${name}")`,
        () => new GetQueueUrlCommand({ QueueName: name }),
      );
      if (out.QueueUrl) {
        this.#urls.set(name, out.QueueUrl);
        return out.QueueUrl;
      }
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
    this.#urls.set(name, out.QueueUrl);
    return out.QueueUrl;
  }

  /** Creates the queue on SQS unless it exists. */
  async declare(queue: string): Promise<void> {
    await this.#url(queue, true);
  }

  /**
   * Sends a message (Kombu's `_put`): FIFO queues get a group id (header `MessageGroupId`,
   * default `default`) and a deduplication id (header `MessageDeduplicationId`, default the
   * message's delivery tag, so that a retried send is deduplicated by SQS).
   *
   * @throws {LimitExceededError} when the encoded message is over `maxMessageSize`
   */
  async put(queue: string, message: StoredMessage): Promise<void> {
    const body = encodeSqsBody(
      message,
      this.#settings.base64,
      queue,
      this.#settings.maxMessageSize,
    );
    const url = await this.#url(queue, true);
    const entry: OutgoingEntry = { body };
    const groupId = headerString(message, "MessageGroupId");
    if (this.sqsName(queue).endsWith(".fifo")) {
      entry.groupId = groupId ?? "default";
      entry.dedupId = headerString(message, "MessageDeduplicationId") ?? message.tag;
    } else if (groupId) {
      entry.groupId = groupId; // SQS fair queues
    }
    await this.#sender.add(url, entry);
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
    await this.#clientFor(this.#nameOfUrl(url)).send(
      `send to SQS queue ${url}`,
      (info) => new SendMessageCommand(this.#sendInput(url, entry, info.afterAmbiguousFailure)),
    );
  }

  async #sendBatch(url: string, entries: OutgoingEntry[]): Promise<Array<void | Error>> {
    if (entries.length === 1) {
      await this.#sendOne(url, entries[0]);
      return [undefined];
    }
    const out = await this.#clientFor(this.#nameOfUrl(url)).send<{
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

  #toStored(url: string, raw: SqsMessage): StoredMessage {
    const [message] = decodeSqsBody(raw.Body ?? "");
    const count = Number(raw.Attributes?.ApproximateReceiveCount ?? "1");
    if (count > 1) message.redelivered = true;
    if (raw.MessageAttributes?.[POSSIBLE_DUPLICATE_ATTRIBUTE]?.StringValue === "true") {
      message.properties = {
        ...message.properties,
        headers: { ...message.properties.headers, [POSSIBLE_DUPLICATE_HEADER]: true },
      };
    }
    message.backendData = { url, receiptHandle: raw.ReceiptHandle ?? "" } satisfies SqsReceipt;
    return message;
  }

  async #receive(
    queue: string,
    max: number,
    waitSeconds: number,
    signal: AbortSignal | undefined,
  ): Promise<StoredMessage[]> {
    const url = await this.#url(queue, true);
    const out = await this.#clientFor(this.sqsName(queue)).send<{ Messages?: SqsMessage[] }>(
      `receive from queue "${queue}"`,
      () =>
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: Math.min(SQS_MAX_MESSAGES, Math.max(1, max)),
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ["ApproximateReceiveCount"],
          MessageAttributeNames: [POSSIBLE_DUPLICATE_ATTRIBUTE],
        }),
      signal,
    );
    return (out.Messages ?? []).map((raw) => this.#toStored(url, raw));
  }

  /** Takes one message without waiting (a short poll; SQS may miss a message on a short poll). */
  async get(queue: string): Promise<StoredMessage | undefined> {
    const buffered = this.#buffers.get(queue)?.shift();
    if (buffered) return buffered;
    const [message] = await this.#receive(queue, 1, 0, this.#closing.signal);
    return message;
  }

  #takeBuffered(queues: readonly string[], max: number): [string, StoredMessage][] {
    const got: [string, StoredMessage][] = [];
    const order = queues.length > 1
      ? queues.map((_, i) => queues[(i + this.#rotation) % queues.length])
      : queues;
    this.#rotation++;
    let progress = true;
    while (progress && got.length < max) {
      progress = false;
      for (const queue of order) {
        if (got.length >= max) break;
        const message = this.#buffers.get(queue)?.shift();
        if (message) {
          got.push([queue, message]);
          progress = true;
        }
      }
    }
    return got;
  }

  #startPoll(queue: string, max: number): void {
    if (this.#polls.has(queue) || this.#closing.signal.aborted) return;
    // No abort signal: a long poll cut short may have taken messages that then stay hidden.
    const poll = this.#receive(queue, max, this.#settings.waitTimeSeconds, undefined)
      .then((messages) => {
        if (messages.length === 0) return;
        let buffer = this.#buffers.get(queue);
        if (!buffer) this.#buffers.set(queue, buffer = []);
        buffer.push(...messages);
        // Nobody waits (the consumer went away during the poll): give them back unless a
        // caller takes them soon.
        if (this.#wakers.size === 0) this.#releaseLater(queue, messages);
      }, (error) => {
        this.#pollErrors.set(queue, error);
      })
      .finally(() => {
        this.#polls.delete(queue);
        for (const wake of [...this.#wakers]) wake();
      });
    this.#polls.set(queue, poll);
  }

  #releaseLater(queue: string, messages: StoredMessage[]): void {
    const timer = setTimeout(() => {
      const buffer = this.#buffers.get(queue);
      if (!buffer) return;
      const stale = messages.filter((m) => buffer.includes(m));
      if (stale.length === 0) return;
      this.#buffers.set(queue, buffer.filter((m) => !stale.includes(m)));
      for (const message of stale) {
        this.#requeue(message).catch((error) =>
          this.#context?.warn(`Cannot give a message back to queue "${queue}"`, error)
        );
      }
    }, UNCLAIMED_RELEASE_MS);
    (timer as { unref?: () => void }).unref?.();
  }

  /**
   * Long-polls every queue at once (one `ReceiveMessage` per queue, `waitTimeSeconds` each) and
   * answers as soon as any has messages. Receives that are still running when the caller stops
   * waiting keep what they get for the next call; messages never handed out go back to their
   * queues when the store closes.
   */
  async getMany(
    queues: readonly string[],
    options: GetManyOptions,
  ): Promise<[string, StoredMessage][]> {
    const { max, signal } = options;
    for (let round = 0; round < 10_000; round++) {
      const got = this.#takeBuffered(queues, max);
      if (got.length > 0) return got;
      for (const queue of queues) {
        const error = this.#pollErrors.get(queue);
        if (error !== undefined) {
          this.#pollErrors.delete(queue);
          throw error;
        }
      }
      if (signal.aborted || this.#closing.signal.aborted) return [];
      if (round > 0 && this.#settings.waitTimeSeconds === 0) {
        await sleep(this.#pollingInterval, signal);
        if (signal.aborted) return [];
      }
      for (const queue of queues) this.#startPoll(queue, max);
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#wakers.delete(done);
          signal.removeEventListener("abort", done);
          resolve();
        };
        this.#wakers.add(done);
        signal.addEventListener("abort", done, { once: true });
      });
    }
    return [];
  }

  /** How many messages wait (SQS's `ApproximateNumberOfMessages`). */
  async size(queue: string): Promise<number> {
    const url = await this.#url(queue, false);
    const out = await this.#clientFor(this.sqsName(queue)).send<
      { Attributes?: Record<string, string> }
    >(
      `read the size of queue "${queue}"`,
      () =>
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ["ApproximateNumberOfMessages"],
        }),
    );
    return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
  }

  /** Removes every message (PurgeQueue); resolves to how many were waiting. */
  async purge(queue: string): Promise<number> {
    let url: string;
    try {
      url = await this.#url(queue, false);
    } catch (error) {
      if (error instanceof NotFoundError) return 0;
      throw error;
    }
    const buffered = this.#buffers.get(queue)?.length ?? 0;
    this.#buffers.delete(queue);
    const size = await this.size(queue);
    try {
      await this.#clientFor(this.sqsName(queue)).send(
        `purge queue "${queue}"`,
        () => new PurgeQueueCommand({ QueueUrl: url }),
      );
    } catch (error) {
      // SQS allows one purge per queue per 60 s: delete what a few receives return instead.
      if (serviceFailure((error as Error).cause ?? error)?.code !== "PurgeQueueInProgress") {
        throw error;
      }
      for (let i = 0; i < 100; i++) {
        const messages = await this.#receive(queue, SQS_MAX_MESSAGES, 0, this.#closing.signal);
        if (messages.length === 0) break;
        await Promise.all(messages.map((m) => this.#ack(m)));
      }
    }
    return size + buffered;
  }

  /** Deletes the queue (not a predefined one, as in Kombu). */
  async delete(queue: string): Promise<void> {
    if (this.#settings.predefinedQueues) return;
    let url: string;
    try {
      url = await this.#url(queue, false);
    } catch (error) {
      if (error instanceof NotFoundError) return;
      throw error;
    }
    this.#buffers.delete(queue);
    this.#urls.delete(this.sqsName(queue));
    try {
      await this.#clientFor(this.sqsName(queue)).send(
        `delete queue "${queue}"`,
        () => new DeleteQueueCommand({ QueueUrl: url }),
      );
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  async #ack(message: StoredMessage): Promise<void> {
    const receipt = receiptOf(message);
    if (!receipt) return;
    await this.#deleter.add(receipt.url, receipt.receiptHandle);
  }

  async #requeue(message: StoredMessage): Promise<void> {
    const receipt = receiptOf(message);
    if (!receipt) return;
    await this.#visibility.add(receipt.url, { receiptHandle: receipt.receiptHandle, seconds: 0 });
  }

  #staleWarning(url: string, what: string): void {
    this.#context?.warn(
      `Cannot ${what} a message of SQS queue ${url}: its receipt handle expired; ` +
        "SQS delivers it again",
    );
  }

  async #deleteBatch(url: string, handles: string[]): Promise<Array<void | Error>> {
    const client = this.#clientFor(this.#nameOfUrl(url));
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
    const client = this.#clientFor(this.#nameOfUrl(url));
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

  /**
   * Waits for running long polls (at most `waitTimeSeconds`: cutting one short could leave what
   * it received hidden until the visibility timeout ends), gives messages received but never
   * handed out back to their queues (visibility 0) and releases the SDK clients.
   */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled([...this.#polls.values()]);
    const left = [...this.#buffers.values()].flat();
    this.#buffers.clear();
    await Promise.allSettled(left.map((message) => this.#requeue(message)));
    this.#client.destroy();
    for (const client of this.#queueClients.values()) client.destroy();
  }
}
