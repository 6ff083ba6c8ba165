/**
 * `wakame inspect URL [QUEUE...]`: queue depths and consumers (passive declares, on any
 * transport), plus what the transport keeps: Redis bindings, priority sub-queues and `unacked`
 * entries (`inspect_redis.ts`), RabbitMQ's management API (`inspect_amqp.ts`).
 *
 * @module
 */

import type { Command } from "commander";
import type { Connection } from "../src/connection.ts";
import { NotFoundError } from "../src/errors.ts";
import { CliError, connect, ExitCode } from "./_common.ts";
import { inspectManagement } from "./inspect_amqp.ts";
import { inspectRedis, isRedis } from "./inspect_redis.ts";
import { type InspectReport, printReport, type QueueRow } from "./inspect_report.ts";

const AMQP = new Set(["amqp", "amqps", "pyamqp", "librabbitmq", "amqplib", "amqp+amqplib"]);

interface InspectFlags {
  json?: boolean;
  management?: string | boolean;
}

async function passive(connection: Connection, name: string): Promise<QueueRow | undefined> {
  const channel = await connection.channel();
  try {
    const ok = await channel.queueDeclare({ name, passive: true });
    return { name, depth: ok.messageCount, consumers: ok.consumerCount };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  } finally {
    await channel.close().catch(() => undefined);
  }
}

async function run(url: string, named: string[], flags: InspectFlags): Promise<void> {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1].toLowerCase() ?? "";
  const connection = await connect(url);
  let report: InspectReport = { queues: [], exchanges: [], bindings: [], notes: [] };
  const missing: string[] = [];
  try {
    if (isRedis(scheme)) report = await inspectRedis(url, scheme, named);
    else if (scheme === "sqs") {
      // Loaded only for SQS: it needs the optional @aws-sdk/client-sqs package.
      const { inspectSqs } = await import("./inspect_sqs.ts");
      const found = await inspectSqs(url, named);
      printReport(found.report, flags.json === true);
      if (found.missing.length > 0) missing.push(...found.missing);
      return finish(missing);
    } else if (AMQP.has(scheme) && flags.management !== false) {
      const found = await inspectManagement(
        url,
        typeof flags.management === "string" ? flags.management : undefined,
      );
      if (typeof found === "string") {
        report.notes.push(`note: ${found}; queues named on the command line are shown`);
      } else report = found;
    }
    for (const name of named) {
      const row = await passive(connection, name);
      const known = report.queues.find((q) => q.name === name);
      if (row === undefined) {
        if (known === undefined) missing.push(name);
        continue;
      }
      if (known === undefined) report.queues.push(row);
      else {
        known.consumers ??= row.consumers;
        if (known.subQueues === undefined) known.depth = row.depth;
      }
    }
    if (named.length > 0) {
      report.queues = report.queues.filter((q) => named.includes(q.name));
      report.bindings = report.bindings.filter((b) => named.includes(b.queue));
      const used = new Set(report.bindings.map((b) => b.exchange));
      report.exchanges = report.exchanges.filter((e) => used.has(e.name));
    }
  } finally {
    await connection.close();
  }
  printReport(report, flags.json === true);
  finish(missing);
}

function finish(missing: readonly string[]): void {
  if (missing.length > 0) {
    throw new CliError(
      `queue${missing.length === 1 ? "" : "s"} not found: ${missing.join(", ")}`,
      ExitCode.notFound,
    );
  }
}

/**
 * Adds the `inspect` command.
 *
 * @param program the root command
 */
export function addInspect(program: Command): void {
  program.command("inspect")
    .description(
      "queue depths and consumers; exchanges, bindings and unacked messages where the " +
        "transport keeps them",
    )
    .argument("<url>", "broker URL")
    .argument("[queues...]", "queues to show (default: all the transport can list)")
    .option("--json", "print one JSON object")
    .option("--management <url>", "RabbitMQ management API (default http://<host>:15672)")
    .option("--no-management", "do not ask RabbitMQ's management API")
    .action((url: string, queues: string[], flags: InspectFlags) => run(url, queues, flags));
}
