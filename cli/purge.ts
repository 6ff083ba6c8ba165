/**
 * `wakame purge URL QUEUE [--yes]`: removes every ready message of a queue.
 *
 * @module
 */

import process from "node:process";
import type { Command } from "commander";
import { maskUrl } from "../src/url.ts";
import { CliError, confirm, connect, ExitCode, note } from "./_common.ts";

async function run(url: string, queue: string, flags: { yes?: boolean }): Promise<void> {
  if (!flags.yes) {
    if (process.stdin.isTTY !== true) {
      throw new CliError(
        `not purging "${queue}": standard input is not a terminal to ask on; pass --yes`,
        ExitCode.usage,
      );
    }
    if (!await confirm(`Purge every ready message of "${queue}" on ${maskUrl(url)}?`)) {
      throw new CliError("purge declined", ExitCode.failure);
    }
  }
  const connection = await connect(url);
  try {
    const channel = await connection.channel();
    const removed = await channel.queuePurge(queue);
    note(`purged ${removed} message${removed === 1 ? "" : "s"} from "${queue}"`);
    await channel.close().catch(() => undefined);
  } finally {
    await connection.close();
  }
}

/**
 * Adds the `purge` command.
 *
 * @param program the root command
 */
export function addPurge(program: Command): void {
  program.command("purge")
    .description("remove every ready message of a queue (asks first unless --yes)")
    .argument("<url>", "broker URL")
    .argument("<queue>", "queue name")
    .option("-y, --yes", "do not ask")
    .action((url: string, queue: string, flags: { yes?: boolean }) => run(url, queue, flags));
}
