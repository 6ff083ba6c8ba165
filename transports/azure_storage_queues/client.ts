/**
 * The Azure Queue service REST calls the transport makes, over `fetch`, authorized by
 * `auth.ts`, with the shared retry policy and wakame's errors.
 *
 * @module
 */

import { ConnectionError, HttpError, NotFoundError } from "../../src/errors.ts";
import {
  type AttemptInfo,
  type FailureKind,
  isNetworkFailure,
  isRetryableStatus,
  withBackoff,
} from "../_http/backoff.ts";
import { utf8Length } from "../_http/foreign.ts";
import { authorize } from "./auth.ts";
import { bearerTokensOf } from "./credential.ts";
import type { AzureSettings } from "./options.ts";

/** The REST API version the client speaks. */
export const AZURE_API_VERSION = "2021-12-02";

/** One message as Get Messages returns it. */
export interface AzureQueueMessage {
  /** Message id. */
  messageId: string;
  /** Pop receipt of this receive. */
  popReceipt: string;
  /** Times the message was received. */
  dequeueCount: number;
  /** The message text, unescaped. */
  messageText: string;
}

/** A failed answer of the service, before mapping. */
export class AzureServiceFailure extends Error {
  /** HTTP status. */
  readonly status: number;
  /** `x-ms-error-code` or the XML error code. */
  readonly code: string;
  /** `x-ms-request-id`. */
  readonly requestId: string | undefined;
  /**
   * Records a failed answer.
   *
   * @param status HTTP status
   * @param code the service's error code
   * @param message the service's message
   * @param requestId the request id
   */
  constructor(status: number, code: string, message: string, requestId?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

/**
 * Escapes text for an XML element (`&`, `<`, `>`, and the quotes).
 *
 * @param text the text
 * @returns the escaped text
 */
export function xmlEscape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&apos;",
  );
}

/**
 * Undoes XML escaping (the five entities and numeric character references).
 *
 * @param text escaped text
 * @returns the text
 */
export function xmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    switch (entity) {
      case "amp":
        return "&";
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "quot":
        return '"';
      case "apos":
        return "'";
      default:
        return String.fromCodePoint(
          entity[1] === "x" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10),
        );
    }
  });
}

function element(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return match ? match[1] : undefined;
}

/**
 * Reads the messages of a Get Messages answer.
 *
 * @param xml the `QueueMessagesList` document
 * @returns the messages
 */
export function parseMessagesList(xml: string): AzureQueueMessage[] {
  const out: AzureQueueMessage[] = [];
  for (const match of xml.matchAll(/<QueueMessage>([\s\S]*?)<\/QueueMessage>/g)) {
    const body = match[1];
    out.push({
      messageId: xmlUnescape(element(body, "MessageId") ?? ""),
      popReceipt: xmlUnescape(element(body, "PopReceipt") ?? ""),
      dequeueCount: Number(element(body, "DequeueCount") ?? "1"),
      messageText: xmlUnescape(element(body, "MessageText") ?? ""),
    });
  }
  return out;
}

/**
 * The request body of Put Message for a text, and its size in bytes.
 *
 * @param text the message text
 * @returns the XML body and the byte length of the escaped text
 */
export function putMessageBody(text: string): { xml: string; textBytes: number } {
  const escaped = xmlEscape(text);
  return {
    xml: `<QueueMessage><MessageText>${escaped}</MessageText></QueueMessage>`,
    textBytes: utf8Length(escaped),
  };
}

/**
 * Judges a failed call for the retry loop.
 *
 * @param error what the call threw
 * @returns `refused` for throttling, `ambiguous` for 5xx and network failures, else `fatal`
 */
export function classifyAzureFailure(error: unknown): FailureKind {
  if (error instanceof AzureServiceFailure) {
    if (error.status === 429 || error.code === "ServerBusy") return "refused";
    return isRetryableStatus(error.status) ? "ambiguous" : "fatal";
  }
  return isNetworkFailure(error) ? "ambiguous" : "fatal";
}

/** Options of one call. */
export interface AzureCallOptions {
  /** Query parameters. */
  query?: Record<string, string>;
  /** Request body (text), built per attempt. */
  body?: (info: AttemptInfo) => string;
  /** Statuses that count as success (default 2xx). */
  ok?: (status: number) => boolean;
  /** Aborts the call. */
  signal?: AbortSignal;
}

/** The answer of a call. */
export interface AzureAnswer {
  /** HTTP status. */
  status: number;
  /** Response headers. */
  headers: Headers;
  /** Response body. */
  text: string;
}

/** One storage account's queue service. */
export class AzureQueueClient {
  readonly #settings: AzureSettings;

  /**
   * Makes a client of one account.
   *
   * @param settings account URL, credential, fetch and retry policy
   */
  constructor(settings: AzureSettings) {
    this.#settings = settings;
  }

  /**
   * Makes one REST call with retries.
   *
   * @param action what it does, for errors (`create queue "video"`)
   * @param method HTTP method
   * @param path path below the account URL (`/video/messages`)
   * @param options query, body, accepted statuses, signal
   * @returns the answer
   * @throws {NotFoundError} for a missing queue or message
   * @throws {HttpError} for other refusals
   * @throws {ConnectionError} when the service cannot be reached
   */
  async call(
    action: string,
    method: string,
    path: string,
    options: AzureCallOptions = {},
  ): Promise<AzureAnswer> {
    try {
      return await withBackoff(
        (info) => this.#once(method, path, options, info),
        (error) => this.#classify(error),
        { ...this.#settings.backoff, signal: options.signal },
      );
    } catch (error) {
      throw this.#mapError(action, error);
    }
  }

  /** A 401 to a bearer token: drop the kept token and try again (the request had no effect). */
  #classify(error: unknown): FailureKind {
    const auth = this.#settings.auth;
    if (auth.kind === "token" && error instanceof AzureServiceFailure && error.status === 401) {
      bearerTokensOf(auth.credential).expire();
      return "refused";
    }
    return classifyAzureFailure(error);
  }

  async #once(
    method: string,
    path: string,
    options: AzureCallOptions,
    info: AttemptInfo,
  ): Promise<AzureAnswer> {
    const url = new URL(this.#settings.accountUrl + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      url.searchParams.set(key, value);
    }
    const body = options.body?.(info);
    const headers: Record<string, string> = {
      "x-ms-date": new Date().toUTCString(),
      "x-ms-version": AZURE_API_VERSION,
    };
    if (body !== undefined) headers["content-type"] = "application/xml; charset=utf-8";
    const request = {
      method,
      url,
      headers,
      contentLength: body === undefined ? 0 : utf8Length(body),
    };
    await authorize(this.#settings.auth, request);
    const init: RequestInit = { method, headers, body };
    if (options.signal) init.signal = options.signal;
    const response = await this.#settings.fetch(new Request(request.url, init));
    const text = await response.text();
    const ok = options.ok ?? ((status: number) => status >= 200 && status < 300);
    if (!ok(response.status)) {
      const code = response.headers.get("x-ms-error-code") ?? element(text, "Code") ??
        String(response.status);
      const message = element(text, "Message")?.split("\n")[0] ?? response.statusText;
      throw new AzureServiceFailure(
        response.status,
        code,
        xmlUnescape(message),
        response.headers.get("x-ms-request-id") ?? undefined,
      );
    }
    return { status: response.status, headers: response.headers, text };
  }

  #mapError(action: string, error: unknown): Error {
    if (error instanceof AzureServiceFailure) {
      if (error.code === "QueueNotFound") {
        return new NotFoundError(`Cannot ${action}: the queue does not exist`, {
          replyCode: 404,
          cause: error,
        });
      }
      return new HttpError(`Cannot ${action}: ${error.code}: ${error.message}`, {
        status: error.status,
        code: error.code,
        requestId: error.requestId,
        cause: error,
      });
    }
    if (isNetworkFailure(error)) {
      return new ConnectionError(
        `Cannot ${action}: Azure Storage at ${
          new URL(this.#settings.accountUrl).origin
        } is unreachable`,
        { cause: error },
      );
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}
