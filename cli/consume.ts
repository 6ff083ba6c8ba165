/**
 * `wakame consume URL QUEUE [--count N] [--ack|--requeue] [--json]`: prints decoded messages
 * with their headers and delivery info.
 *
 * @module
 */

import process from "node:process";
import type { Command } from "commander";
import { bodyText } from "../src/body.ts";
import { Queue } from "../src/entity.ts";
import type { Message } from "../src/message.ts";
import { CliError, connect, ExitCode, integer, note, out, positive } from "./_common.ts";

interface ConsumeFlags {
  count?: number;
  ack?: boolean;
  requeue?: boolean;
  json?: boolean;
  timeout?: number;
}

async function decoded(message: Message): Promise<{ body: unknown; decodeError?: string }> {
  try {
    return { body: await message.decode() };
  } catch (error) {
    const text = bodyText(message.body);
    return { body: text, decodeError: error instanceof Error ? error.message : String(error) };
  }
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value, jsonSafe);
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return { bytes: value.length };
  return value;
}

async function print(message: Message, index: number, json: boolean): Promise<void> {
  const { body, decodeError } = await decoded(message);
  const info = message.deliveryInfo;
  if (json) {
    out(JSON.stringify(
      {
        body,
        ...(decodeError ? { decodeError } : {}),
        headers: message.headers,
        properties: message.properties,
        deliveryInfo: info,
      },
      jsonSafe,
    ));
    return;
  }
  out(
    `#${index} delivery tag ${String(info.deliveryTag)}, exchange "${info.exchange ?? ""}", ` +
      `routing key "${info.routingKey ?? ""}"${info.redelivered ? ", redelivered" : ""}`,
  );
  out(
    `  content-type: ${message.contentType ?? "-"}, encoding: ${message.contentEncoding ?? "-"}`,
  );
  const headers = Object.entries(message.headers ?? {});
  if (headers.length > 0) {
    out("  headers:");
    for (const [key, value] of headers) out(`    ${key}: ${show(value)}`);
  }
  if (decodeError) out(`  (not decoded: ${decodeError})`);
  out(`  body: ${show(body)}`);
}

async function run(url: string, queueName: string, flags: ConsumeFlags): Promise<void> {
  if (flags.ack && flags.requeue) {
    throw new CliError("use --ack or --requeue, not both", ExitCode.usage);
  }
  const connection = await connect(url);
  const held: Message[] = [];
  let printed = 0;
  let failure: unknown;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let idle: ReturnType<typeof setTimeout> | undefined;
  const armIdle = () => {
    if (flags.timeout === undefined) return;
    clearTimeout(idle);
    idle = setTimeout(finish, flags.timeout * 1000);
  };
  let chain = Promise.resolve();
  const consumer = connection.consumer(new Queue(queueName, { noDeclare: true }), {
    autoDeclare: false,
    accept: ["json", "yaml", "msgpack", "text/plain"],
    prefetchCount: flags.count ?? 100,
    onError: (error) => {
      failure ??= error;
      finish();
    },
    onMessage: (message: Message) => {
      chain = chain.then(async () => {
        if (flags.count !== undefined && printed >= flags.count) {
          held.push(message); // more than asked for: handed back below
          return;
        }
        printed++;
        await print(message, printed, flags.json === true);
        if (flags.ack) await message.ack();
        else held.push(message);
        if (flags.count !== undefined && printed >= flags.count) finish();
        else armIdle();
      }).catch((error) => {
        failure ??= error;
        finish();
      });
      return undefined;
    },
  });
  const interrupt = () => finish();
  process.once("SIGINT", interrupt);
  try {
    armIdle();
    await consumer.consume();
    await done;
    await chain;
    await consumer.cancel().catch(() => undefined);
    for (const message of held) {
      if (!message.acknowledged) await message.reject({ requeue: true }).catch(() => undefined);
    }
    if (failure !== undefined) throw failure;
    note(
      `${printed} message${printed === 1 ? "" : "s"} from "${queueName}"` +
        (flags.ack ? ", acknowledged" : ", requeued"),
    );
  } finally {
    clearTimeout(idle);
    process.off("SIGINT", interrupt);
    await connection.close();
  }
}

/**
 * Adds the `consume` command.
 *
 * @param program the root command
 */
export function addConsume(program: Command): void {
  program.command("consume")
    .description(
      "print messages of a queue with headers and delivery info; they are requeued unless --ack",
    )
    .argument("<url>", "broker URL")
    .argument("<queue>", "queue name")
    .option("-n, --count <n>", "stop after N messages", integer("--count", 1))
    .option("--ack", "acknowledge (remove) the messages printed")
    .option("--requeue", "hand the messages back when done (the default)")
    .option("--json", "one JSON object per message")
    .option(
      "-t, --timeout <seconds>",
      "stop after this long without a message",
      positive("--timeout"),
    )
    .action((url: string, queue: string, flags: ConsumeFlags) => run(url, queue, flags));
}
