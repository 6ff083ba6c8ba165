/**
 * What every command of the `wakame` command line shares: redacted output, exit codes, turning
 * errors into one line, opening a connection that fails fast.
 *
 * @module
 */

import process from "node:process";
import { createInterface } from "node:readline";
import { Connection } from "../src/connection.ts";
import {
  AccessRefusedError,
  ConfigurationError,
  ConnectionError,
  KombuError,
  NotFoundError,
  TimeoutError,
} from "../src/errors.ts";
import { redact } from "../src/logger.ts";
import { maskUrl } from "../src/url.ts";

/** Exit codes of the `wakame` command (documented in the README and in `--help`). */
export const ExitCode = {
  /** Done. */
  ok: 0,
  /** The command ran and failed: a broker error, no node replied, a purge declined. */
  failure: 1,
  /** Bad input: unknown option or transport, malformed URL, a bad number. */
  usage: 2,
  /** The broker could not be reached or refused the credentials. */
  connection: 3,
  /** A queue or exchange named on the command line does not exist. */
  notFound: 4,
  /** Interrupted (Ctrl-C). */
  interrupted: 130,
} as const;

/** A failure the command wants reported as one line with a given exit code. */
export class CliError extends Error {
  /** The exit code. */
  readonly code: number;
  /**
   * Makes a CliError.
   *
   * @param message the line shown (redacted on output)
   * @param code the exit code
   */
  constructor(message: string, code: number = ExitCode.failure) {
    super(message);
    this.name = "CliError";
    this.code = code;
  }
}

/** Writes a line to standard output, passwords and secret parameters masked. */
export function out(line: string): void {
  process.stdout.write(redact(line) + "\n");
}

/** Writes a line to standard error, passwords and secret parameters masked. */
export function note(line: string): void {
  process.stderr.write(redact(line) + "\n");
}

/** Whether standard error is a terminal (progress bars go there; plain lines otherwise). */
export function isTerminal(): boolean {
  return process.stderr.isTTY === true;
}

/**
 * Turns any error into the one line shown and the exit code.
 *
 * @param error what was thrown
 * @returns the redacted line (without the `wakame:` prefix) and the exit code
 */
export function describeError(error: unknown): { line: string; code: number } {
  if (error instanceof CliError) return { line: redact(error.message), code: error.code };
  const message = error instanceof Error ? error.message : String(error);
  let code: number = ExitCode.failure;
  if (error instanceof ConfigurationError) code = ExitCode.usage;
  else if (error instanceof NotFoundError) code = ExitCode.notFound;
  else if (error instanceof AccessRefusedError || error instanceof ConnectionError) {
    code = ExitCode.connection;
  } else if (error instanceof TimeoutError) code = ExitCode.connection;
  let line = message;
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && !message.includes(cause.message)) {
    line += ` (${cause.message})`;
  }
  if (!(error instanceof KombuError) && !(error instanceof CliError)) {
    const name = error instanceof Error ? error.name : "Error";
    if (name !== "Error") line = `${name}: ${line}`;
  }
  return { line: redact(line.split("\n")[0]), code };
}

/**
 * Opens a connection, trying the URL (and its failover alternates) once: a broker that is down
 * or refuses the password fails now, with exit code 3.
 *
 * @param url any URL the library accepts
 * @param options connect timeout in ms
 * @returns the connected connection
 */
export async function connect(
  url: string,
  options: { connectTimeout?: number } = {},
): Promise<Connection> {
  const connection = new Connection(url, {
    connectTimeout: options.connectTimeout ?? 5000,
  });
  try {
    await connection.connect();
  } catch (error) {
    await connection.close().catch(() => undefined);
    if (error instanceof ConfigurationError) throw error;
    const { line } = describeError(error);
    throw new CliError(`cannot connect to ${maskUrl(url)}: ${line}`, ExitCode.connection);
  }
  return connection;
}

/**
 * Parses a whole number option.
 *
 * @param name the option, for the error
 * @param min the least value allowed
 * @returns a parser for commander
 */
export function integer(name: string, min = 0): (text: string) => number {
  return (text: string) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) {
      throw new CliError(`${name} must be a whole number >= ${min}, got "${text}"`, ExitCode.usage);
    }
    return value;
  };
}

/**
 * Parses a positive number option (rates, timeouts in seconds).
 *
 * @param name the option, for the error
 * @returns a parser for commander
 */
export function positive(name: string): (text: string) => number {
  return (text: string) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) {
      throw new CliError(`${name} must be a number > 0, got "${text}"`, ExitCode.usage);
    }
    return value;
  };
}

/**
 * Reads standard input line by line (empty lines skipped).
 *
 * @returns the lines, as they arrive
 */
export async function* stdinLines(): AsyncGenerator<string> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  try {
    for await (const line of lines) if (line !== "") yield line;
  } finally {
    lines.close();
  }
}

/**
 * Asks a yes/no question on the terminal.
 *
 * @param question the question (without the `[y/N]`)
 * @returns true for an answer starting with y
 */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) =>
      rl.question(`${redact(question)} [y/N] `, resolve)
    );
    return /^y/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/**
 * Formats rows as an aligned text table (used for the summary lines of `inspect`).
 *
 * @param header the column names
 * @param rows the rows
 * @returns the lines
 */
export function columns(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}
