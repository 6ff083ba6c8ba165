/**
 * Queue names on SQS, as Kombu writes them (`kombu/transport/SQS`'s `entity_name` and
 * `canonical_queue_name`): `.` becomes `-`, other ASCII punctuation except `-` and `_` becomes
 * `_`, and a `.fifo` suffix is kept.
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";

const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/**
 * Translates a name as Kombu's `entity_name` does.
 *
 * @param name an AMQP queue name
 * @returns the name with Kombu's character replacements
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sqsEntityName } from "@wakame/wakame/sqs";
 * assert.equal(sqsEntityName("celery.pidbox"), "celery-pidbox");
 * assert.equal(sqsEntityName("a:b.fifo"), "a_b.fifo");
 * ```
 */
export function sqsEntityName(name: string): string {
  const fifo = name.endsWith(".fifo");
  const stem = fifo ? name.slice(0, -5) : name;
  let out = "";
  for (const ch of stem) {
    if (ch === ".") out += "-";
    else if (ch !== "-" && ch !== "_" && PUNCTUATION.includes(ch)) out += "_";
    else out += ch;
  }
  return fifo ? `${out}.fifo` : out;
}

/**
 * The SQS name of a queue: prefix plus name, translated, and checked against SQS's rules
 * (1 to 80 characters: letters, digits, `-`, `_`, and the `.fifo` suffix of FIFO queues).
 *
 * @param prefix `queueNamePrefix`
 * @param name the AMQP queue name
 * @returns the SQS queue name
 * @throws {ConfigurationError} when the translated name breaks SQS's rules
 */
export function sqsQueueName(prefix: string, name: string): string {
  const translated = sqsEntityName(prefix + name);
  const stem = translated.endsWith(".fifo") ? translated.slice(0, -5) : translated;
  if (translated.length > 80 || !/^[A-Za-z0-9_-]+$/.test(stem)) {
    throw new ConfigurationError(
      `Cannot use queue "${name}" on SQS: its name "${translated}" must be 1 to 80 ASCII ` +
        `letters, digits, "-" or "_" (plus ".fifo" for FIFO queues)`,
    );
  }
  return translated;
}
