/**
 * `wakame publish URL --exchange E --routing-key K [--count N] [--rate R] [BODY | -]`.
 *
 * @module
 */

import type { Command } from "commander";
import { sleep } from "../src/utils/sleep.ts";
import type { FieldTable } from "../src/transport.ts";
import { maskUrl } from "../src/url.ts";
import { CliError, connect, ExitCode, integer, note, positive, stdinLines } from "./_common.ts";
import { progress } from "./_progress.ts";

interface PublishFlags {
  exchange: string;
  routingKey: string;
  count: number;
  rate?: number;
  header: string[];
  serializer?: string;
  text?: boolean;
  priority?: number;
}

/** A body from the command line: JSON when it parses as JSON (unless `--text`), else text. */
function parseBody(text: string, asText: boolean | undefined): unknown {
  if (asText) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function parseHeaders(pairs: readonly string[]): FieldTable {
  const headers: FieldTable = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) {
      throw new CliError(`--header must be key=value, got "${pair}"`, ExitCode.usage);
    }
    headers[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return headers;
}

async function run(url: string, body: string | undefined, flags: PublishFlags): Promise<void> {
  const headers = parseHeaders(flags.header);
  const fromStdin = body === undefined || body === "-";
  const connection = await connect(url);
  try {
    const producer = connection.producer();
    const options = {
      exchange: flags.exchange,
      routingKey: flags.routingKey,
      headers,
      serializer: flags.serializer,
      priority: flags.priority,
    };
    const interval = flags.rate === undefined ? 0 : 1000 / flags.rate;
    const started = performance.now();
    let sent = 0;
    const pace = async () => {
      if (interval > 0) {
        const due = started + sent * interval - performance.now();
        if (due > 0) await sleep(due);
      }
    };
    if (fromStdin) {
      for await (const line of stdinLines()) {
        await pace();
        await producer.publish(parseBody(line, flags.text), options);
        sent++;
      }
    } else {
      const payload = parseBody(body, flags.text);
      const bar = progress("publish", flags.count, { quiet: flags.count < 2 });
      for (let i = 0; i < flags.count; i++) {
        await pace();
        await producer.publish(payload, options);
        sent++;
        bar.increment();
      }
      bar.stop();
    }
    const target = flags.exchange === "" ? "the default exchange" : `exchange "${flags.exchange}"`;
    note(
      `published ${sent} message${sent === 1 ? "" : "s"} to ${target} with routing key ` +
        `"${flags.routingKey}" on ${maskUrl(url)}`,
    );
  } finally {
    await connection.close();
  }
}

/**
 * Adds the `publish` command.
 *
 * @param program the root command
 */
export function addPublish(program: Command): void {
  program.command("publish")
    .description(
      "publish a message (BODY: JSON when it parses, else text); with - or no BODY, every line " +
        "of standard input is one message",
    )
    .argument("<url>", "broker URL")
    .argument("[body]", "message body, or - for standard input")
    .option("-e, --exchange <name>", 'exchange ("" is the default exchange)', "")
    .requiredOption("-k, --routing-key <key>", "routing key (with the default exchange: a queue)")
    .option("-n, --count <n>", "publish BODY this many times", integer("--count", 1), 1)
    .option("-r, --rate <r>", "at most this many messages per second", positive("--rate"))
    .option("-H, --header <key=value>", "a message header (repeatable)", collect, [])
    .option("-s, --serializer <name>", "json (default), yaml, msgpack, ...")
    .option("--priority <n>", "message priority", integer("--priority"))
    .option("--text", "send BODY as text even when it is JSON")
    .action((url: string, body: string | undefined, flags: PublishFlags) => run(url, body, flags));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
