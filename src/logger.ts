/**
 * wakame's logging hook (Kombu logs through `kombu.log`).
 *
 * Silent by default. Turn it on by injecting a logger with {@link setLogger}, or by setting the
 * environment variable `WAKAME_LOG` to `debug`, `info`, `warn` or `error` (lines then go to the
 * `console`). The variable is read once, on the first log call, on any runtime: where there is
 * no environment (browsers, Workers) or reading it is refused (Deno without `--allow-env`), the
 * hook stays silent.
 *
 * Every line passes through {@link redact} first: passwords in URLs (`amqp://user:****@host`)
 * and secret-looking query parameters are masked before any sink sees them.
 *
 * @module
 */

/** Severity of a log line, from the most verbose. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Where log lines go. `console` fits; each method receives one finished, redacted line. */
export interface LogSink {
  /** Receives a debug line. */
  debug(line: string): void;
  /** Receives an info line. */
  info(line: string): void;
  /** Receives a warning line. */
  warn(line: string): void;
  /** Receives an error line. */
  error(line: string): void;
}

/** A named logger, as the modules of wakame use it. */
export interface Logger {
  /** Logs at debug level. Arguments are formatted after the message, space-separated. */
  debug(message: string, ...args: unknown[]): void;
  /** Logs at info level. */
  info(message: string, ...args: unknown[]): void;
  /** Logs at warn level. */
  warn(message: string, ...args: unknown[]): void;
  /** Logs at error level. */
  error(message: string, ...args: unknown[]): void;
  /** Tells whether a line at this level would go anywhere (to skip costly formatting). */
  enabled(level: LogLevel): boolean;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function isLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && Object.hasOwn(LEVELS, value);
}

/**
 * Reads an environment variable on Deno, Node, Bun or nothing at all, never throwing.
 *
 * @param name the variable
 * @returns its value, or `undefined` when unset, unreadable or there is no environment
 */
export function readEnv(name: string): string | undefined {
  try {
    const deno = (globalThis as { Deno?: { env?: { get(name: string): string | undefined } } })
      .Deno;
    if (deno?.env !== undefined) return deno.env.get(name);
  } catch {
    return undefined; // Deno without --allow-env
  }
  try {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } })
      .process?.env;
    const value = env?.[name];
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

interface State {
  sink: LogSink | undefined;
  level: number;
  /** Share of messages whose per-message debug lines are written (0..1). */
  sample: number;
}

function sampleRate(value: unknown): number {
  const rate = typeof value === "string" ? Number(value) : typeof value === "number" ? value : 1;
  return Number.isFinite(rate) ? Math.min(1, Math.max(0, rate)) : 1;
}

let state: State | undefined;

function currentState(): State {
  if (state === undefined) {
    const wanted = readEnv("WAKAME_LOG")?.trim().toLowerCase();
    const sample = sampleRate(readEnv("WAKAME_LOG_SAMPLE") ?? 1);
    state = isLevel(wanted)
      ? { sink: globalThis.console, level: LEVELS[wanted], sample }
      : { sink: undefined, level: Infinity, sample };
  }
  return state;
}

/**
 * Sends wakame's log lines to a sink, or silences them.
 *
 * @param sink where lines go (`console` works); `undefined` silences wakame, and `null` goes
 *   back to what `WAKAME_LOG` says
 * @param options the least severe level passed on (default `info`); `sample`: the share of
 *   messages (0..1, default 1, or `WAKAME_LOG_SAMPLE`) whose per-message debug lines are written
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getLogger, setLogger } from "./logger.ts";
 * const lines: string[] = [];
 * const push = (line: string) => lines.push(line);
 * setLogger({ debug: push, info: push, warn: push, error: push }, { level: "debug" });
 * getLogger("demo").info("connected to", "amqp://guest:secret@localhost//");
 * assert.equal(lines[0], "[wakame.demo] connected to amqp://guest:****@localhost//");
 * setLogger(undefined);
 * ```
 */
export function setLogger(
  sink: LogSink | undefined | null,
  options: { level?: LogLevel; sample?: number } = {},
): void {
  if (sink === null) {
    state = undefined;
    return;
  }
  const sample = sampleRate(options.sample ?? 1);
  state = sink === undefined
    ? { sink: undefined, level: Infinity, sample }
    : { sink, level: LEVELS[options.level ?? "info"], sample };
}

/**
 * Whether this message's per-message debug lines are written: debug is on and the message falls
 * in the sample (`setLogger(sink, { level: "debug", sample: 0.01 })` or `WAKAME_LOG_SAMPLE`).
 *
 * @returns true to write them
 */
export function sampleMessage(): boolean {
  const current = currentState();
  if (current.sink === undefined || LEVELS.debug < current.level) return false;
  return current.sample >= 1 || Math.random() < current.sample;
}

/**
 * Whether per-message debug lines may be written at all (debug on, sample above 0).
 *
 * @returns true when {@link sampleMessage} can say yes
 */
export function messageLogOn(): boolean {
  const current = currentState();
  return current.sink !== undefined && LEVELS.debug >= current.level && current.sample > 0;
}

// The password runs to the LAST "@" of the URL (passwords with a raw "@" or "/" are common in
// AWS secrets), so a URL is over-masked rather than under-masked.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"'<>]*:)([^\s"'<>]+)@/gi;
const SECRET_PARAMS =
  /([?&;](?:password|passwd|pwd|secret|token|sas_token|sig|signature|account_key|access_key|secret_access_key|aws_secret_access_key|credential|credentials|accountkey|sharedaccesssignature)=)([^&;#\s]*)/gi;

/**
 * Masks secrets in a piece of text: the password of every URL with credentials and the value of
 * secret-looking query parameters (`password`, `secret`, `token`, `sig`, `account_key`, ...).
 *
 * @param text any text
 * @returns the text with secrets replaced by `****`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redact } from "./logger.ts";
 * assert.equal(redact("amqp://guest:guest@host:5672//"), "amqp://guest:****@host:5672//");
 * assert.equal(redact("redis://:pw@h/0?token=abc"), "redis://:****@h/0?token=****");
 * ```
 */
export function redact(text: string): string {
  return text.replace(URL_CREDENTIALS, "$1****@").replace(SECRET_PARAMS, "$1****");
}

function formatArg(arg: unknown): string {
  if (typeof arg === "string") return arg;
  if (arg instanceof Error) {
    const cause = arg.cause === undefined ? "" : ` (cause: ${formatArg(arg.cause)})`;
    return `${arg.name}: ${arg.message}${cause}`;
  }
  if (arg === null || typeof arg !== "object") return String(arg);
  try {
    return JSON.stringify(arg, (_key, value) => typeof value === "bigint" ? `${value}` : value);
  } catch {
    return Object.prototype.toString.call(arg);
  }
}

/**
 * Formats a log line the way {@link Logger} does, redacted.
 *
 * @param name the logger's name
 * @param message the message
 * @param args values appended, space-separated (errors as `Name: message`)
 * @returns the finished line
 */
export function formatLine(name: string, message: string, args: readonly unknown[]): string {
  const parts = [message, ...args.map(formatArg)];
  return redact(`[wakame.${name}] ${parts.join(" ")}`);
}

/**
 * Gets the logger of a module. Cheap: the level is looked up on every call, so
 * {@link setLogger} takes effect at once.
 *
 * @param name the module, such as `pidbox`
 * @returns the logger
 */
export function getLogger(name: string): Logger {
  const emit = (level: LogLevel, message: string, args: unknown[]): void => {
    const current = currentState();
    if (current.sink === undefined || LEVELS[level] < current.level) return;
    try {
      current.sink[level](formatLine(name, message, args));
    } catch {
      // a failing sink must not break messaging
    }
  };
  return {
    debug: (message, ...args) => emit("debug", message, args),
    info: (message, ...args) => emit("info", message, args),
    warn: (message, ...args) => emit("warn", message, args),
    error: (message, ...args) => emit("error", message, args),
    enabled: (level) => {
      const current = currentState();
      return current.sink !== undefined && LEVELS[level] >= current.level;
    },
  };
}
