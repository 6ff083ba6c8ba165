/**
 * The SQS queue store behind the virtual channel: Kombu's SQS transport over
 * `@aws-sdk/client-sqs`, with long polling across queues, batched sends, deletes and visibility
 * changes, and server-side acknowledgement by receipt handle.
 *
 * @module
 */

import {
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  type Message as SqsMessage,
  PurgeQueueCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import { NotFoundError } from "../../src/errors.ts";
import type {
  GetManyOptions,
  QueueBackend,
  QueueBatch,
  StoredMessage,
} from "../../src/virtual/backend.ts";
import type { BackendContext } from "../../src/virtual/transport.ts";
import { sleep } from "../_http/backoff.ts";
import { type Receipt, type ReceiptLease, receiptOf } from "../_http/receipts.ts";
import { serviceFailure } from "./client.ts";
import { decodeSqsBody, encodeSqsBody } from "./codec.ts";
import type { SqsSettings } from "./options.ts";
import { type OutgoingEntry, POSSIBLE_DUPLICATE_ATTRIBUTE, SqsRequests } from "./requests.ts";

export { POSSIBLE_DUPLICATE_ATTRIBUTE };

/** SQS returns at most 10 messages per receive and takes at most 10 entries per batch. */
const SQS_MAX_MESSAGES = 10;

/** How long messages received for a consumer that went away wait to be claimed, ms. */
const UNCLAIMED_RELEASE_MS = 2000;

/** SQS's receipt of a received message: the queue URL and the receipt handle. */
export type SqsReceipt = Receipt;

function headerString(message: StoredMessage, name: string): string | undefined {
  const value = message.properties.headers?.[name];
  if (typeof value === "string" && value !== "") return value;
  const extra = (message.envelopeExtras?.properties as Record<string, unknown> | undefined)?.[name];
  return typeof extra === "string" && extra !== "" ? extra : undefined;
}

/** Kombu's SQS transport as a {@link QueueBackend}, with its lease on receipt handles. */
export class SqsBackend implements QueueBackend {
  /** Receipt handles: deleted on ack, visible again (visibility 0) on release. */
  readonly lease: ReceiptLease;

  readonly #settings: SqsSettings;
  readonly #context: Pick<BackendContext, "warn"> | undefined;
  readonly #requests: SqsRequests;
  readonly #buffers = new Map<string, StoredMessage[]>();
  readonly #polls = new Map<string, Promise<void>>();
  readonly #pollErrors = new Map<string, unknown>();
  readonly #wakers = new Set<() => void>();
  readonly #closing = new AbortController();
  readonly #pollingInterval: number;

  /**
   * Opens the store (no request is made until it is used).
   *
   * @param settings the connection's settings
   * @param context where survived failures are reported
   * @param pollingInterval ms between short polls when `waitTimeSeconds` is 0
   */
  constructor(
    settings: SqsSettings,
    context?: Pick<BackendContext, "warn">,
    pollingInterval = 1000,
  ) {
    this.#settings = settings;
    this.#context = context;
    this.#pollingInterval = pollingInterval;
    this.#requests = new SqsRequests(settings, context);
    this.lease = this.#requests.lease;
  }

  /** The SQS name of an AMQP queue name (prefix and Kombu's translation). */
  sqsName(queue: string): string {
    return this.#requests.sqsName(queue);
  }

  /** Creates the queue on SQS unless it exists. */
  async declare(queue: string): Promise<void> {
    await this.#requests.url(queue, true);
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
    const url = await this.#requests.url(queue, true);
    const entry: OutgoingEntry = { body };
    const groupId = headerString(message, "MessageGroupId");
    if (this.sqsName(queue).endsWith(".fifo")) {
      entry.groupId = groupId ?? "default";
      entry.dedupId = headerString(message, "MessageDeduplicationId") ?? message.tag;
    } else if (groupId) {
      entry.groupId = groupId; // SQS fair queues
    }
    await this.#requests.send(url, entry);
  }

  #toStored(url: string, raw: SqsMessage): StoredMessage {
    const [message] = decodeSqsBody(raw.Body ?? "");
    message.deliveryCount = Number(raw.Attributes?.ApproximateReceiveCount ?? "1");
    if (raw.MessageAttributes?.[POSSIBLE_DUPLICATE_ATTRIBUTE]?.StringValue === "true") {
      message.possibleDuplicate = true;
    }
    message.backendData = { queue: url, handle: raw.ReceiptHandle ?? "" } satisfies Receipt;
    message.leasedAt = Date.now(); // hidden from now: renewal counts from here, not the delivery
    return message;
  }

  async #receive(
    queue: string,
    max: number,
    waitSeconds: number,
    signal: AbortSignal | undefined,
  ): Promise<StoredMessage[]> {
    const url = await this.#requests.url(queue, true);
    const out = await this.#requests.clientFor(this.sqsName(queue)).send<
      { Messages?: SqsMessage[] }
    >(
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

  /** Takes what earlier receives buffered, in the order given, within the shares. */
  #takeBuffered(queues: readonly string[], max: number, perQueue: number): QueueBatch[] {
    const got: QueueBatch[] = [];
    for (const queue of queues) {
      const buffer = this.#buffers.get(queue);
      if (max <= 0 || !buffer || buffer.length === 0) continue;
      const messages = buffer.splice(0, Math.min(max, perQueue));
      got.push({ queue, messages });
      max -= messages.length;
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
        this.#release(message).catch((error) =>
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
  async getMany(queues: readonly string[], options: GetManyOptions): Promise<QueueBatch[]> {
    const { max, signal } = options;
    for (let round = 0; round < 10_000; round++) {
      const got = this.#takeBuffered(queues, max, options.perQueue ?? max);
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
    const url = await this.#requests.url(queue, false);
    const out = await this.#requests.clientFor(this.sqsName(queue)).send<
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

  /**
   * Every attribute of a queue (GetQueueAttributes `All`): depths, timeouts, redrive policy ...
   *
   * @param queue the queue (Kombu's name; the SQS name adds the prefix and `.fifo` rules)
   * @returns the attributes as SQS returns them
   * @throws {NotFoundError} when the queue does not exist
   */
  async attributes(queue: string): Promise<Record<string, string>> {
    const url = await this.#requests.url(queue, false);
    const out = await this.#requests.clientFor(this.sqsName(queue)).send<
      { Attributes?: Record<string, string> }
    >(
      `read the attributes of queue "${queue}"`,
      () => new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }),
    );
    return out.Attributes ?? {};
  }

  /** Removes every message (PurgeQueue); resolves to how many were waiting. */
  async purge(queue: string): Promise<number> {
    let url: string;
    try {
      url = await this.#requests.url(queue, false);
    } catch (error) {
      if (error instanceof NotFoundError) return 0;
      throw error;
    }
    const buffered = this.#buffers.get(queue)?.length ?? 0;
    this.#buffers.delete(queue);
    const size = await this.size(queue);
    try {
      await this.#requests.clientFor(this.sqsName(queue)).send(
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
        await Promise.all(messages.map((m) => this.lease.settle(queue, m, "ack")));
      }
    }
    return size + buffered;
  }

  /** Deletes the queue (not a predefined one, as in Kombu). */
  async delete(queue: string): Promise<void> {
    if (this.#settings.predefinedQueues) return;
    let url: string;
    try {
      url = await this.#requests.url(queue, false);
    } catch (error) {
      if (error instanceof NotFoundError) return;
      throw error;
    }
    this.#buffers.delete(queue);
    this.#requests.forget(queue);
    try {
      await this.#requests.clientFor(this.sqsName(queue)).send(
        `delete queue "${queue}"`,
        () => new DeleteQueueCommand({ QueueUrl: url }),
      );
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  /** Visible again at once: a received message nobody took. */
  async #release(message: StoredMessage): Promise<void> {
    const receipt = receiptOf(message);
    if (!receipt) return;
    await this.#requests.setVisibility(receipt, 0);
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
    await Promise.allSettled(left.map((message) => this.#release(message)));
    this.#requests.destroy();
  }
}
