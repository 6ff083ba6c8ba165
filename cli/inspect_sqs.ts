/**
 * What `wakame inspect` reads from SQS: every attribute of each named queue (depths, in-flight
 * count, visibility timeout, retention, redrive policy ...). SQS has no exchanges or bindings.
 *
 * @module
 */

import { resolveParams } from "../src/connection/params.ts";
import type { SqsBackend } from "../transports/sqs/backend.ts";
import { openSqsBackend } from "../transports/sqs/mod.ts";
import type { InspectReport } from "./inspect_report.ts";

/**
 * Reads the attributes of the named queues.
 *
 * @param url the SQS URL
 * @param named the queues (Kombu's names; the URL's prefix applies)
 * @returns the report and the queues that do not exist
 */
export async function inspectSqs(
  url: string,
  named: readonly string[],
): Promise<{ report: InspectReport; missing: string[] }> {
  const { params } = await resolveParams(url, {}, new AbortController().signal);
  const store = await openSqsBackend(params) as SqsBackend;
  const report: InspectReport = { queues: [], exchanges: [], bindings: [], notes: [] };
  const missing: string[] = [];
  try {
    if (named.length === 0) {
      report.notes.push("note: SQS cannot list Kombu's queues: name the queues to inspect");
    }
    for (const name of named) {
      let attributes: Record<string, string>;
      try {
        attributes = await store.attributes(name);
      } catch (error) {
        if ((error as Error).name === "NotFoundError") {
          missing.push(name);
          continue;
        }
        throw error;
      }
      report.queues.push({
        name,
        depth: Number(attributes.ApproximateNumberOfMessages ?? 0),
        unacked: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
        consumers: undefined,
        attributes,
      });
    }
  } finally {
    await store.close();
  }
  return { report, missing };
}
