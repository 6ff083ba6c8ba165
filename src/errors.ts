/**
 * The error hierarchy of wakame, mirroring Kombu's `kombu.exceptions` and the AMQP reply codes.
 *
 * Retry decisions go by class: {@link ConnectionError} and {@link OperationalError} are
 * recoverable by reconnecting; {@link ChannelError} closes one channel only.
 *
 * @module
 */

/** Options accepted by every wakame error. */
export interface KombuErrorOptions {
  /** The underlying failure (a runtime error, a socket error, a broker reply). */
  cause?: unknown;
}

/**
 * Base class of every error wakame throws (Kombu's `KombuError`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KombuError, NotFoundError } from "@wakame/wakame";
 * const err = new NotFoundError('Cannot declare queue "video": not found', { replyCode: 404 });
 * assert.ok(err instanceof KombuError);
 * ```
 */
export class KombuError extends Error {
  /**
   * Makes the error; its `name` is the class name.
   *
   * @param message what failed, the action first, values quoted
   * @param options the cause, if any
   */
  constructor(message: string, options?: KombuErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** A recoverable failure of an operation (Kombu's `OperationalError`); retried by `ensure`. */
export class OperationalError extends KombuError {}

/** The connection to the broker failed or was lost; recoverable by reconnecting. */
export class ConnectionError extends OperationalError {
  /** The AMQP reply code of a server-side close, when there was one. */
  readonly replyCode?: number;
  /**
   * Makes a connection error, with the server's reply code when it closed the connection.
   *
   * @param message what failed
   * @param options the cause and the reply code of a server close
   */
  constructor(message: string, options?: KombuErrorOptions & { replyCode?: number }) {
    super(message, options);
    if (options?.replyCode !== undefined) this.replyCode = options.replyCode;
  }
}

/** An operation did not finish in time (Kombu raises `socket.timeout`). */
export class TimeoutError extends OperationalError {}

/**
 * The broker cancelled a consumer (its queue was deleted, or the queue's node went away):
 * py-amqp's `ConsumerCancelled`. The consumer stops taking messages from that queue.
 */
export class ConsumerCancelledError extends OperationalError {
  /** The queue whose consumer was cancelled. */
  readonly queue: string;
  /** The cancelled consumer tag. */
  readonly consumerTag: string;
  /**
   * Makes the error for one cancelled consumer tag.
   *
   * @param message what happened
   * @param options the queue and the consumer tag
   */
  constructor(
    message: string,
    options: KombuErrorOptions & { queue: string; consumerTag: string },
  ) {
    super(message, options);
    this.queue = options.queue;
    this.consumerTag = options.consumerTag;
  }
}

/** Fields of a channel-level failure. */
export interface ChannelErrorOptions extends KombuErrorOptions {
  /** AMQP reply code (404, 406, 403, ...). */
  replyCode?: number;
  /** AMQP class id of the method that failed. */
  classId?: number;
  /** AMQP method id of the method that failed. */
  methodId?: number;
}

/** A channel was closed by the broker or a channel operation was refused. */
export class ChannelError extends KombuError {
  /** AMQP reply code (404, 406, 403, ...), or 0 when there was none. */
  readonly replyCode: number;
  /** AMQP class id of the failed method, or 0. */
  readonly classId: number;
  /** AMQP method id of the failed method, or 0. */
  readonly methodId: number;
  /**
   * Makes a channel error with the AMQP reply code, class id and method id of the failed method.
   *
   * @param message what failed
   * @param options reply code, class and method id, cause
   */
  constructor(message: string, options?: ChannelErrorOptions) {
    super(message, options);
    this.replyCode = options?.replyCode ?? 0;
    this.classId = options?.classId ?? 0;
    this.methodId = options?.methodId ?? 0;
  }
}

/** 404: the exchange or queue does not exist. */
export class NotFoundError extends ChannelError {}
/** 406: the entity exists with other arguments, or a precondition failed. */
export class PreconditionFailedError extends ChannelError {}
/** 403: access refused (exclusive queue of another connection, permissions). */
export class AccessRefusedError extends ChannelError {}

/** The peer sent bytes that break the protocol; the connection is closed. */
export class ProtocolError extends KombuError {}

/** A message was acknowledged, rejected or requeued twice (Kombu's `MessageStateError`). */
export class MessageStateError extends KombuError {}

/** An entity was used without a channel (Kombu's `NotBoundError`). */
export class NotBoundError extends KombuError {}

/** The content type of a message is not in the consumer's accept list. */
export class ContentDisallowedError extends KombuError {}

/** A body could not be serialized or compressed. */
export class EncodeError extends KombuError {}

/** A body could not be decompressed or deserialized. */
export class DecodeError extends KombuError {}

/**
 * A payload failed its queue's or producer's schema (a Standard Schema such as zod or valibot).
 * On publish it is thrown; on consume the message is rejected without requeue and this error
 * logged (or handed to `onDecodeError`).
 */
export class ValidationError extends KombuError {
  /** The validator's issues (`{ message, path? }` each). */
  readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: unknown }>;
  /**
   * Makes a ValidationError.
   *
   * @param message what failed, with the issues
   * @param issues the validator's issues
   */
  constructor(
    message: string,
    issues: ReadonlyArray<{ readonly message: string; readonly path?: unknown }>,
  ) {
    super(message);
    this.issues = issues;
  }
}

/** A pool or a size limit was exceeded (Kombu's `LimitExceeded`). */
export class LimitExceededError extends KombuError {}

/** A URL, an option or an argument is invalid. */
export class ConfigurationError extends KombuError {}

/** A transport name or URL scheme is unknown. */
export class UnknownTransportError extends ConfigurationError {}

/** Fields of an HTTP failure. */
export interface HttpErrorOptions extends KombuErrorOptions {
  /** HTTP status code. */
  status: number;
  /** The service's error code, such as `QueueDoesNotExist`. */
  code?: string;
  /** The service's request id, for support. */
  requestId?: string;
}

/** An HTTP service (SQS, Azure Storage) answered with an error. */
export class HttpError extends OperationalError {
  /** HTTP status code. */
  readonly status: number;
  /** The service's error code, when it sent one. */
  readonly code?: string;
  /** The service's request id, when it sent one. */
  readonly requestId?: string;
  /**
   * Makes an HTTP error with the response's status, the service's error code and request id.
   *
   * @param message what failed
   * @param options status, code, request id, cause
   */
  constructor(message: string, options: HttpErrorOptions) {
    super(message, options);
    this.status = options.status;
    if (options.code !== undefined) this.code = options.code;
    if (options.requestId !== undefined) this.requestId = options.requestId;
  }
}

/**
 * Makes the error class that matches an AMQP channel reply code.
 *
 * @param message the error message
 * @param options reply code and method ids
 * @returns a {@link NotFoundError}, {@link PreconditionFailedError}, {@link AccessRefusedError} or
 *   a plain {@link ChannelError}
 */
export function channelErrorFor(message: string, options: ChannelErrorOptions): ChannelError {
  switch (options.replyCode) {
    case 404:
      return new NotFoundError(message, options);
    case 406:
      return new PreconditionFailedError(message, options);
    case 403:
      return new AccessRefusedError(message, options);
    default:
      return new ChannelError(message, options);
  }
}

/**
 * Tells whether reconnecting may cure an error (Kombu's `recoverable_connection_errors`).
 *
 * @param error any thrown value
 * @returns true for {@link OperationalError} (connection loss, timeouts, HTTP failures)
 */
export function isRecoverable(error: unknown): boolean {
  return error instanceof OperationalError;
}
