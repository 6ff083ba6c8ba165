/**
 * What `wakame inspect` found, and how it is printed (text or `--json`).
 *
 * @module
 */

import { columns, out } from "./_common.ts";

/** One queue as inspected. */
export interface QueueRow {
  /** Queue name. */
  name: string;
  /** Ready messages (all priority sub-queues on Redis). */
  depth: number;
  /** Consumers, where the broker tells. */
  consumers: number | undefined;
  /** Redis priority sub-queues with messages (priority step, depth). */
  subQueues?: { priority: number; depth: number }[];
  /** Unacknowledged messages, where the broker tells. */
  unacked?: number;
  /** SQS: every queue attribute. */
  attributes?: Record<string, string>;
}

/** Everything found. */
export interface InspectReport {
  /** Queues. */
  queues: QueueRow[];
  /** Exchanges, where the transport keeps them. */
  exchanges: { name: string; type: string }[];
  /** Bindings, where the transport keeps them. */
  bindings: { exchange: string; routingKey: string; queue: string }[];
  /** Redis `unacked` entries: delivery tag, queue (or exchange/routing key), age. */
  unacked?: { tag: string; queue: string; ageSeconds: number }[];
  /** Warnings and hints. */
  notes: string[];
}

function age(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${Math.floor(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
}

/**
 * Prints a report.
 *
 * @param report what was found
 * @param json one JSON object instead of text
 */
export function printReport(report: InspectReport, json: boolean): void {
  if (json) {
    out(JSON.stringify(report));
    return;
  }
  out("Queues");
  if (report.queues.length === 0) out("  (none found: name queues on the command line)");
  else {
    const rows = report.queues.map((q) => [
      q.name,
      String(q.depth),
      q.unacked === undefined ? "-" : String(q.unacked),
      q.consumers === undefined ? "-" : String(q.consumers),
      (q.subQueues ?? []).map((s) => `${s.priority}:${s.depth}`).join(" "),
    ]);
    for (const line of columns(["name", "ready", "unacked", "consumers", "priorities"], rows)) {
      out(`  ${line}`);
    }
  }
  if (report.exchanges.length > 0) {
    out("Exchanges");
    for (const line of columns(["name", "type"], report.exchanges.map((e) => [e.name, e.type]))) {
      out(`  ${line}`);
    }
  }
  if (report.bindings.length > 0) {
    out("Bindings");
    const rows = report.bindings.map((b) => [b.exchange, b.routingKey, b.queue]);
    for (const line of columns(["exchange", "routing key", "queue"], rows)) out(`  ${line}`);
  }
  if (report.unacked !== undefined) {
    const oldest = Math.max(...report.unacked.map((u) => u.ageSeconds));
    out(`Unacked (${report.unacked.length}, oldest ${age(oldest)})`);
    const shown = [...report.unacked].sort((a, b) => b.ageSeconds - a.ageSeconds).slice(0, 20);
    const rows = shown.map((u) => [u.tag, u.queue, age(u.ageSeconds)]);
    for (const line of columns(["delivery tag", "queue", "age"], rows)) out(`  ${line}`);
    if (report.unacked.length > shown.length) {
      out(`  ... and ${report.unacked.length - shown.length} more`);
    }
  }
  for (const queue of report.queues) {
    if (queue.attributes === undefined) continue;
    out(`Attributes of "${queue.name}"`);
    const rows = Object.entries(queue.attributes).sort(([a], [b]) => a.localeCompare(b));
    for (const line of columns(["attribute", "value"], rows)) out(`  ${line}`);
  }
  for (const note of report.notes) out(note);
}
