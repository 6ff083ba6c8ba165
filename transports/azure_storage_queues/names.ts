/**
 * Queue names on Azure Storage, as Kombu writes them (`kombu/transport/azurestoragequeues`'s
 * `entity_name`: every ASCII punctuation character becomes `-`), checked against Azure's rules.
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";

const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/**
 * Translates a name as Kombu's `entity_name` does.
 *
 * @param name an AMQP queue name
 * @returns the name with punctuation replaced by `-`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { azureEntityName } from "@wakame/wakame/azure-storage-queues";
 * assert.equal(azureEntityName("celery.pidbox"), "celery-pidbox");
 * ```
 */
export function azureEntityName(name: string): string {
  let out = "";
  for (const ch of name) out += PUNCTUATION.includes(ch) ? "-" : ch;
  return out;
}

/**
 * The Azure name of a queue: prefix plus name, translated, and checked against Azure's rules
 * (3 to 63 characters; lowercase letters, digits and single dashes; a letter or digit first and
 * last). Names are not lowercased behind your back: `Video` and `video` would be one queue.
 *
 * @param prefix `queueNamePrefix`
 * @param name the AMQP queue name
 * @returns the Azure queue name
 * @throws {ConfigurationError} when the translated name breaks Azure's rules
 */
export function azureQueueName(prefix: string, name: string): string {
  const translated = azureEntityName(prefix + name);
  let problem: string | undefined;
  if (translated.length < 3 || translated.length > 63) {
    problem = `it has ${translated.length} characters, not 3 to 63`;
  } else if (/[A-Z]/.test(translated)) {
    problem = "it has uppercase letters (Azure allows lowercase only)";
  } else if (!/^[a-z0-9-]+$/.test(translated)) {
    problem = "it has characters other than lowercase letters, digits and dashes";
  } else if (!/^[a-z0-9]/.test(translated) || !/[a-z0-9]$/.test(translated)) {
    problem = "it must start and end with a letter or digit";
  } else if (translated.includes("--")) {
    problem = "it has two dashes in a row";
  }
  if (problem) {
    throw new ConfigurationError(
      `Cannot use queue "${name}" on Azure Storage as "${translated}": ${problem}`,
    );
  }
  return translated;
}
