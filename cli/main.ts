/**
 * The `wakame` command line: builds the commands and runs one, turning every failure into one
 * redacted line on standard error and an exit code.
 *
 * @module
 */

import process from "node:process";
import { Command, CommanderError } from "commander";
import { type LogLevel, readEnv, redact, setLogger } from "../src/logger.ts";
import { describeError, ExitCode } from "./_common.ts";
import { addBench } from "./bench.ts";
import { addCelery } from "./celery.ts";
import { addConsume } from "./consume.ts";
import { addInspect } from "./inspect.ts";
import { addPublish } from "./publish.ts";
import { addPurge } from "./purge.ts";

const VERSION = "0.1.0";

const EXIT_CODES = `
Exit codes:
  0    done
  1    the command failed (broker error, no Celery node replied, purge declined)
  2    bad input (unknown option, transport or command; malformed URL or number)
  3    the broker could not be reached or refused the credentials
  4    a queue or exchange named on the command line does not exist
  130  interrupted

WAKAME_LOG=info (or debug) writes the library's log lines to standard error.
URLs are any the library accepts (amqp://, redis://, sqs://, memory://, filesystem://, ...);
passwords and secret parameters are masked in every line printed.`;

/**
 * Builds the program (exported for tests and embedding).
 *
 * @returns the root command
 */
export function program(): Command {
  const root = new Command("wakame")
    .description("publish, consume, inspect and benchmark Kombu/Celery queues")
    .version(VERSION, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXIT_CODES)
    .configureOutput({
      writeErr: (text) => process.stderr.write(redact(text)),
      writeOut: (text) => process.stdout.write(text),
    });
  addPublish(root);
  addConsume(root);
  addInspect(root);
  addPurge(root);
  addCelery(root);
  addBench(root);
  const exitOverride = (command: Command) => {
    command.exitOverride();
    for (const sub of command.commands) exitOverride(sub);
  };
  exitOverride(root);
  return root;
}

/** `WAKAME_LOG` lines go to standard error, so they never mix with what a command prints. */
function logToStderr(): void {
  const level = readEnv("WAKAME_LOG")?.trim().toLowerCase();
  if (level !== "debug" && level !== "info" && level !== "warn" && level !== "error") return;
  const write = (line: string) => void process.stderr.write(line + "\n");
  const sample = Number(readEnv("WAKAME_LOG_SAMPLE") ?? 1);
  setLogger({ debug: write, info: write, warn: write, error: write }, {
    level: level as LogLevel,
    sample,
  });
}

/**
 * Runs the command line.
 *
 * @param argv the arguments after the program name
 * @returns the exit code
 */
export async function main(argv: readonly string[]): Promise<number> {
  logToStderr();
  try {
    await program().parseAsync([...argv], { from: "user" });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were already printed.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const { line, code } = describeError(error);
    process.stderr.write(`wakame: ${line}\n`);
    return code;
  }
}
