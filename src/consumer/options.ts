/**
 * The options of a `Consumer` (Kombu's keyword arguments in camelCase) and its callback type.
 *
 * @module
 */

import type { Message } from "../message.ts";
import type { StandardSchemaV1 } from "../schema/standard_schema.ts";

/** A message callback: the decoded body and the message (Kombu's `callbacks`). */
export type MessageCallback<T = unknown> = (body: T, message: Message<T>) => unknown;

/** Options of a {@link Consumer} (Kombu's keyword arguments in camelCase). */
export interface ConsumerOptions<T = unknown> {
  /**
   * Validates every decoded payload (any Standard Schema); default: the schema of the queues
   * when they have one. A message that fails is handled as an undecodable one: `onDecodeError`,
   * else logged with the validator's issues and rejected without requeue.
   */
  schema?: StandardSchemaV1<unknown, T>;
  /** Called with `(body, message)` for each message, in order. */
  callbacks?: MessageCallback<T>[];
  /** Called with the undecoded message instead of decoding and calling `callbacks`. */
  onMessage?: (message: Message<T>) => unknown;
  /**
   * Called when a body cannot be decoded (or its type is not accepted). Without it the message
   * is logged and rejected without requeue, so a dead-letter policy can keep it.
   */
  onDecodeError?: (message: Message<T>, error: unknown) => unknown;
  /**
   * Called when a callback throws (with its message), and when the broker cancels the consumer
   * of a queue (a `ConsumerCancelledError`, without a message); without it the error is logged.
   * The loop goes on after a failed callback either way.
   */
  onError?: (error: unknown, message: Message<T> | undefined) => void;
  /**
   * What to do when the broker cancels the consumer of a queue (the queue was deleted, or its
   * node went away). `"error"` (the default, as py-amqp): stop consuming that queue and report a
   * `ConsumerCancelledError` to `onError`, and out of a `for await`. `"resume"` (as a Celery
   * worker): declare the queue again and consume from it again.
   */
  onCancel?: "error" | "resume";
  /** Content types or serializer names to accept (default: json plus Kombu's trusted raw types). */
  accept?: readonly string[];
  /** Most unacknowledged messages at once (basic.qos); 0 or absent = no limit. */
  prefetchCount?: number;
  /** Consume without acknowledgements. */
  noAck?: boolean;
  /** Prefix of the consumer tags (default: a random one). */
  tagPrefix?: string;
  /** Declare the queues before consuming (default true). */
  autoDeclare?: boolean;
}
