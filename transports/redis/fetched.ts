/**
 * Turning what the fetch script returns into messages: envelopes decoded per queue, and poison
 * messages (an envelope that cannot be decoded: not JSON, a bad body, not an envelope at all)
 * logged once with the head of their text and set apart, so the caller can drop their `unacked`
 * records (Kombu's Redis `reject(requeue=False)` is an ack: there is no dead-letter list).
 *
 * @module
 */

import { decodeEnvelope } from "../../src/envelope.ts";
import type { QueueBatch, StoredMessage } from "../../src/virtual/backend.ts";
import { replyText } from "./driver.ts";
import type { Held } from "./lease.ts";
import type { RespValue } from "./resp/types.ts";

/** Reports a message that could not be read. */
export type Warn = (message: string, error?: unknown) => void;

/**
 * Decodes one envelope of a queue; a poison message is logged and `undefined` comes back.
 *
 * @param text the envelope's text
 * @param queue where it came from
 * @param recorded whether it was recorded in `unacked` (the lease settles it then)
 * @param warn where a poison message is reported
 * @param recordedTag the tag it was recorded under, for the log line
 * @returns the message, or `undefined`
 */
export function decodeFetched(
  text: string,
  queue: string,
  recorded: boolean,
  warn: Warn,
  recordedTag?: string,
): StoredMessage | undefined {
  try {
    const message = decodeEnvelope(text);
    message.backendData = { recorded } satisfies Held;
    return message;
  } catch (error) {
    const tag = recordedTag === undefined ? "" : ` (delivery tag "${recordedTag}")`;
    const preview = text.length > 200 ? `${text.slice(0, 200)}... (${text.length} chars)` : text;
    warn(
      `Cannot decode a message of queue "${queue}"${tag}; rejected without requeue and ` +
        `dropped: ${JSON.stringify(preview)}`,
      error,
    );
    return undefined;
  }
}

/**
 * Reads the fetch script's reply: `[queue index, envelope, recorded tag]` triples.
 *
 * @param reply the script's reply
 * @param queues the queues asked, in the script's order
 * @param recorded whether the script recorded what it took in `unacked`
 * @param fetchedAt when (ms): the `unacked_index` score, from which lease renewal counts
 * @param warn where poison messages are reported
 * @returns per-queue batches, and the tags of poison messages whose records must go
 */
export function readFetchReply(
  reply: RespValue,
  queues: readonly string[],
  recorded: boolean,
  fetchedAt: number,
  warn: Warn,
): { batches: QueueBatch[]; poisoned: string[] } {
  const byQueue = new Map<string, StoredMessage[]>();
  const poisoned: string[] = [];
  if (!Array.isArray(reply)) return { batches: [], poisoned };
  for (let i = 0; i + 2 < reply.length; i += 3) {
    const queue = queues[Number(reply[i]) % queues.length]!;
    const text = replyText(reply[i + 1]);
    const tag = replyText(reply[i + 2]) || undefined;
    const message = text === undefined
      ? undefined
      : decodeFetched(text, queue, recorded, warn, tag);
    if (!message) {
      if (tag !== undefined) poisoned.push(tag);
      continue;
    }
    message.leasedAt = fetchedAt;
    const list = byQueue.get(queue) ?? byQueue.set(queue, []).get(queue)!;
    list.push(message);
  }
  return { batches: [...byQueue].map(([queue, messages]) => ({ queue, messages })), poisoned };
}
