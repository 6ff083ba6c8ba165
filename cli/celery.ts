/**
 * `wakame celery inspect ping|active|registered|stats URL`: Celery's remote control
 * (`celery inspect`) over wakame's pidbox, against Python workers.
 *
 * Celery broadcasts on the fanout exchange `celery.pidbox` a body `{method, arguments,
 * destination, pattern, matcher, ticket, reply_to}`; each worker replies `{hostname: result}` on
 * the direct exchange `reply.celery.pidbox` (see `src/pidbox.ts`). The arguments sent are
 * those of Celery's `Inspect` methods (`active(safe=None)`, `registered(*taskinfoitems)`).
 *
 * @module
 */

import type { Command } from "commander";
import { Mailbox } from "../src/pidbox/mailbox.ts";
import { CliError, connect, ExitCode, integer, note, out, positive } from "./_common.ts";

const METHODS: Record<string, Record<string, unknown>> = {
  ping: {},
  active: { safe: null },
  registered: { taskinfoitems: [] },
  stats: {},
};

interface InspectFlags {
  timeout: number;
  destination?: string[];
  namespace: string;
  json?: boolean;
  limit?: number;
}

function printReply(method: string, node: string, result: unknown): void {
  if (result !== null && typeof result === "object" && "error" in result) {
    out(`-> ${node}: ERROR`);
    out(`    ${String((result as { error: unknown }).error)}`);
    return;
  }
  out(`-> ${node}: OK`);
  if (method === "ping") {
    const ok = (result as { ok?: unknown } | null)?.ok;
    out(`    ${typeof ok === "string" ? ok : JSON.stringify(result)}`);
  } else if (Array.isArray(result)) {
    if (result.length === 0) out("    - empty -");
    for (const item of result) {
      out(`    * ${typeof item === "string" ? item : JSON.stringify(item)}`);
    }
  } else {
    for (const line of JSON.stringify(result, null, 4).split("\n")) out(`    ${line}`);
  }
}

async function run(method: string, url: string, flags: InspectFlags): Promise<void> {
  const args = METHODS[method];
  if (args === undefined) {
    throw new CliError(
      `unknown inspect command "${method}": use ${Object.keys(METHODS).join(", ")}`,
      ExitCode.usage,
    );
  }
  const connection = await connect(url);
  try {
    await using mailbox = new Mailbox(flags.namespace, { type: "fanout", connection });
    const replies = await mailbox.broadcast(method, {
      arguments: args,
      destination: flags.destination,
      reply: true,
      timeout: flags.timeout * 1000,
      limit: flags.limit,
    });
    const byNode: Record<string, unknown> = {};
    for (const reply of replies) Object.assign(byNode, reply);
    const nodes = Object.keys(byNode);
    if (nodes.length === 0) {
      throw new CliError(`no nodes replied within ${flags.timeout} s`, ExitCode.failure);
    }
    if (flags.json) out(JSON.stringify(byNode));
    else for (const node of nodes) printReply(method, node, byNode[node]);
    note(`${nodes.length} node${nodes.length === 1 ? "" : "s"} online.`);
  } finally {
    await connection.close();
  }
}

/**
 * Adds the `celery` command group (`celery inspect ...`).
 *
 * @param program the root command
 */
export function addCelery(program: Command): void {
  const celery = program.command("celery").description("Celery remote control over pidbox");
  celery.command("inspect")
    .description("ask Celery workers: ping, active, registered or stats")
    .argument("<method>", Object.keys(METHODS).join(" | "))
    .argument("<url>", "broker URL of the Celery app")
    .option("-t, --timeout <seconds>", "wait this long for replies", positive("--timeout"), 1)
    .option("-d, --destination <node...>", "only these workers (celery@host)")
    .option("-l, --limit <n>", "stop after N replies", integer("--limit", 1))
    .option("--namespace <name>", "the pidbox namespace", "celery")
    .option("--json", "print the replies as one JSON object")
    .action((method: string, url: string, flags: InspectFlags) => run(method, url, flags));
}
