/**
 * Reading what a cloud queue holds: Kombu's JSON envelope, or anything else another producer put
 * there. Kombu wraps text that is not its envelope as a body with no content type
 * (`kombu/transport/SQS`'s `_envelope_payload`); so does wakame, so that a foreign message never
 * stops a consumer. Shared by the SQS and Azure Storage Queues transports.
 *
 * @module
 */

import { decodeEnvelope } from "../../src/envelope.ts";
import type { StoredMessage } from "../../src/virtual/backend.ts";

const utf8 = new TextEncoder();

/**
 * Decodes an envelope, or wraps text that is not one.
 *
 * A JSON object with a `properties` object is read as Kombu's envelope; when that fails (a
 * broken field) or the text is something else (plain text, other JSON), the whole text becomes
 * the body of a message without content type, exchange or routing key, as Kombu does.
 *
 * @param text the message text as the service returned it
 * @returns the message, with `foreign: true` in the second slot when it was wrapped
 */
export function decodeOrWrap(text: string): [message: StoredMessage, foreign: boolean] {
  if (/^\s*\{/.test(text)) {
    try {
      return [decodeEnvelope(text), false];
    } catch {
      // Not Kombu's envelope: wrapped below.
    }
  }
  return [wrapForeign(text), true];
}

/**
 * Wraps foreign text as a message body (no content type: the consumer gets the raw bytes).
 *
 * @param text the text
 * @returns a message whose body is the UTF-8 of `text`
 */
export function wrapForeign(text: string): StoredMessage {
  return {
    body: utf8.encode(text),
    properties: {},
    exchange: "",
    routingKey: "",
    tag: crypto.randomUUID(),
    redelivered: false,
  };
}

/**
 * Byte length of a string in UTF-8, without allocating.
 *
 * @param text the text
 * @returns its UTF-8 length in bytes
 */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
