/**
 * SQS message bodies as Kombu writes and reads them: `MessageBody` is the JSON envelope, base64
 * encoded once more unless `sqsBase64Encoding` is off; on receive the outer base64 is removed
 * only when the text is canonical base64 of UTF-8 (Kombu's `_optional_b64_decode`), and text that
 * is not Kombu's envelope is wrapped as a body without content type.
 *
 * @module
 */

import { decodeBase64, encodeBase64, isBase64 } from "../../src/_base64.ts";
import { bodyBytes } from "../../src/body.ts";
import { encodeEnvelope } from "../../src/envelope.ts";
import { LimitExceededError } from "../../src/errors.ts";
import type { StoredMessage } from "../../src/virtual/backend.ts";
import { decodeOrWrap, utf8Length } from "../_http/foreign.ts";

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes a message as an SQS `MessageBody`.
 *
 * @param message the message
 * @param base64 add Kombu's outer base64 layer
 * @param queue the queue, for the error message
 * @param maxBytes the size limit of a message body
 * @returns the body text
 * @throws {LimitExceededError} when the encoded body is over `maxBytes`
 * @throws {EncodeError} when a header cannot be written as JSON
 */
export function encodeSqsBody(
  message: StoredMessage,
  base64: boolean,
  queue: string,
  maxBytes: number,
): string {
  const envelope = encodeEnvelope(message);
  const body = base64 ? encodeBase64(utf8.encode(envelope)) : envelope;
  // Base64 is ASCII; the envelope is ASCII as well (json.dumps escapes the rest), but measure.
  const size = base64 ? body.length : utf8Length(body);
  if (size > maxBytes) {
    throw new LimitExceededError(
      `Cannot publish to queue "${queue}": the encoded message is ${size} bytes, over the SQS ` +
        `limit of ${maxBytes} bytes (body ${bodyBytes(message.body).length} bytes before encoding)`,
    );
  }
  return body;
}

/**
 * Removes the outer base64 layer when `text` is canonical base64 of UTF-8 text.
 *
 * @param text a `MessageBody`
 * @returns the decoded text, or `text` itself
 */
export function optionalBase64Decode(text: string): string {
  const candidate = text.trim();
  if (candidate.length === 0 || !isBase64(candidate)) return text;
  try {
    return strictUtf8.decode(decodeBase64(candidate));
  } catch {
    return text;
  }
}

/**
 * Decodes an SQS `MessageBody` into a message, wrapping foreign text.
 *
 * @param text the `MessageBody`
 * @returns the message and whether it was wrapped
 */
export function decodeSqsBody(text: string): [StoredMessage, boolean] {
  return decodeOrWrap(optionalBase64Decode(text));
}
