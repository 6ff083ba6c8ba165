/**
 * Celery's task message (`celery.app.amqp.as_task_v2`, protocol 2), written exactly as Celery 5
 * writes it, and read back in both protocols a Celery 5 worker accepts (2, and 1 whose fields
 * are all in the body).
 *
 * Protocol 2: headers `lang`, `task`, `id`, `shadow`, `eta`, `expires`, `group`, `group_index`,
 * `retries`, `timelimit`, `root_id`, `parent_id`, `argsrepr`, `kwargsrepr`, `origin`,
 * `ignore_result`; properties `correlation_id` (the task id) and `reply_to`; body
 * `[args, kwargs, {"callbacks", "errbacks", "chain", "chord"}]`. Times are Python ISO 8601
 * (`2026-01-02T03:04:05.678000+00:00`); `timelimit` is `[hard, soft]` in seconds.
 *
 * @module
 */

import { DecodeError, type FieldTable } from "../mod.ts";
import { saferepr } from "./repr.ts";

/** A signature as Celery serializes it (`Signature` is a dict on the wire). */
export interface SignatureDict {
  /** The task name. */
  task: string;
  /** Positional arguments (partial: the parent's result is put in front). */
  args: unknown[];
  /** Keyword arguments. */
  kwargs: Record<string, unknown>;
  /** Options: `task_id`, `reply_to`, `queue`, `link`, `link_error`, `chord`... */
  options: Record<string, unknown>;
  /** `null` for a task, `group` / `chain` / `chord` for those. */
  subtask_type: string | null;
  /** Do not put the parent's result in front of `args`. */
  immutable: boolean;
  /** Celery 5.2's chord size hint (null for plain tasks). */
  chord_size?: number | null;
}

/** The third part of the body: what runs after the task. */
export interface Embed {
  /** Signatures to run with the result (`link`). */
  callbacks: SignatureDict[] | null;
  /** Signatures to run with the task id on failure (`link_error`). */
  errbacks: SignatureDict[] | null;
  /** The rest of a chain, last step first: the worker pops the next one from the end. */
  chain: SignatureDict[] | null;
  /** The chord body this task is a header task of. */
  chord: SignatureDict | null;
}

/** What {@link buildTaskMessage} writes; durations in ms, times in ms since the epoch. */
export interface TaskMessageSpec {
  /** The task id. */
  id: string;
  /** The task name. */
  name: string;
  /** Positional arguments. */
  args?: unknown[];
  /** Keyword arguments. */
  kwargs?: Record<string, unknown>;
  /** Run no earlier than this (ms since the epoch). */
  eta?: number;
  /** Discard after this (ms since the epoch). */
  expires?: number;
  /** The group id. */
  groupId?: string | null;
  /** The position in the group. */
  groupIndex?: number | null;
  /** How often the task was retried. */
  retries?: number;
  /** Hard time limit in ms. */
  timeLimit?: number | null;
  /** Soft time limit in ms. */
  softTimeLimit?: number | null;
  /** The root task id (default: this id). */
  rootId?: string | null;
  /** The parent task id. */
  parentId?: string | null;
  /** The name to show in logs instead of `name`. */
  shadow?: string | null;
  /** The sending node (Celery: `gen<pid>@<host>`). */
  origin?: string;
  /** The worker does not store the result. */
  ignoreResult?: boolean;
  /** Where an rpc:// result goes. */
  replyTo?: string;
  /** Embedded work: callbacks, errbacks, chain, chord. */
  embed?: Partial<Embed>;
  /** argsrepr (default: Python's repr of the args). */
  argsrepr?: string;
  /** kwargsrepr (default: Python's repr of the kwargs). */
  kwargsrepr?: string;
}

/** A task message ready to publish. */
export interface TaskMessage {
  /** The application headers. */
  headers: FieldTable;
  /** The `correlation_id` property (the task id). */
  correlationId: string;
  /** The `reply_to` property (`""` when none, as Celery). */
  replyTo: string;
  /** The body `[args, kwargs, embed]`. */
  body: [unknown[], Record<string, unknown>, Embed];
}

/**
 * Python's `datetime.isoformat()` of an aware UTC time: microseconds when not zero, `+00:00`.
 *
 * @param ms milliseconds since the epoch
 * @returns the text, such as `2026-01-02T03:04:05.678000+00:00`
 */
export function isoformat(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-01-02T03:04:05.678Z
  const base = iso.slice(0, 19);
  const millis = iso.slice(20, 23);
  return `${base}${millis === "000" ? "" : `.${millis}000`}+00:00`;
}

/**
 * Reads a Celery time: an ISO 8601 text (naive times are UTC, as Celery's `enable_utc`), or a
 * number of seconds since the epoch.
 *
 * @param value the header value
 * @returns ms since the epoch, or undefined when absent
 * @throws {DecodeError} when it is not a time
 */
export function parseTime(value: unknown): number | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  if (typeof value === "number") return value * 1000;
  if (value instanceof Date) return value.getTime();
  if (typeof value !== "string") throw new DecodeError(`Cannot read the time ${String(value)}`);
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$/.exec(
    value.trim(),
  );
  if (!m) throw new DecodeError(`Cannot read the time "${value}"`);
  const fraction = (m[3] ?? "").padEnd(3, "0").slice(0, 3);
  const zone = m[4] === undefined ? "Z" : m[4];
  const ms = Date.parse(`${m[1]}T${m[2]}.${fraction}${zone}`);
  if (Number.isNaN(ms)) throw new DecodeError(`Cannot read the time "${value}"`);
  return ms;
}

const seconds = (ms: number | null | undefined): number | null =>
  ms === null || ms === undefined ? null : ms / 1000;

/**
 * Writes a task message as Celery 5's `as_task_v2` does.
 *
 * @param spec the task and its options
 * @returns headers, properties and body
 */
export function buildTaskMessage(spec: TaskMessageSpec): TaskMessage {
  const args = spec.args ?? [];
  const kwargs = spec.kwargs ?? {};
  const embed: Embed = {
    callbacks: spec.embed?.callbacks ?? null,
    errbacks: spec.embed?.errbacks ?? null,
    chain: spec.embed?.chain ?? null,
    chord: spec.embed?.chord ?? null,
  };
  return {
    headers: {
      lang: "py",
      task: spec.name,
      id: spec.id,
      shadow: spec.shadow ?? null,
      eta: spec.eta === undefined ? null : isoformat(spec.eta),
      expires: spec.expires === undefined ? null : isoformat(spec.expires),
      group: spec.groupId ?? null,
      group_index: spec.groupIndex ?? null,
      retries: spec.retries ?? 0,
      timelimit: [seconds(spec.timeLimit), seconds(spec.softTimeLimit)],
      root_id: spec.rootId || spec.id,
      parent_id: spec.parentId ?? null,
      argsrepr: spec.argsrepr ?? saferepr(args),
      kwargsrepr: spec.kwargsrepr ?? saferepr(kwargs),
      origin: spec.origin ?? "gen0@wakame",
      ignore_result: spec.ignoreResult ?? false,
    },
    correlationId: spec.id,
    replyTo: spec.replyTo ?? "",
    body: [args, kwargs, embed],
  };
}

/** A received task, from either protocol; times in ms since the epoch, limits in ms. */
export interface TaskRequest {
  /** The protocol it came in. */
  protocol: 1 | 2;
  /** The task id. */
  id: string;
  /** The task name. */
  name: string;
  /** Positional arguments. */
  args: unknown[];
  /** Keyword arguments. */
  kwargs: Record<string, unknown>;
  /** Embedded callbacks, errbacks, chain and chord. */
  embed: Embed;
  /** Run no earlier than this. */
  eta: number | undefined;
  /** Discard after this. */
  expires: number | undefined;
  /** How often it was retried. */
  retries: number;
  /** Hard time limit in ms, if any. */
  timeLimit: number | undefined;
  /** Soft time limit in ms, if any. */
  softTimeLimit: number | undefined;
  /** The root task id. */
  rootId: string;
  /** The parent task id. */
  parentId: string | undefined;
  /** The group id. */
  group: string | undefined;
  /** The position in the group. */
  groupIndex: number | undefined;
  /** Where an rpc:// result goes (`reply_to`). */
  replyTo: string | undefined;
  /** The `correlation_id` (the task id unless set otherwise). */
  correlationId: string;
  /** Do not store the result. */
  ignoreResult: boolean;
  /** The sending node. */
  origin: string | undefined;
  /** The name shown in logs. */
  shadow: string | undefined;
  /** argsrepr as sent (or made). */
  argsrepr: string;
  /** kwargsrepr as sent (or made). */
  kwargsrepr: string;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const list = (
  v: unknown,
): SignatureDict[] | null => (Array.isArray(v) ? v as SignatureDict[] : null);

function limits(value: unknown): [number | undefined, number | undefined] {
  if (!Array.isArray(value)) return [undefined, undefined];
  const ms = (v: unknown) => (typeof v === "number" && v > 0 ? v * 1000 : undefined);
  return [ms(value[0]), ms(value[1])];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Reads a task message of protocol 2 (headers name the task) or 1 (the body does).
 *
 * @param body the decoded body
 * @param headers the message's headers
 * @param properties `correlation_id` and `reply_to`
 * @returns the request
 * @throws {DecodeError} when it is not a Celery task message
 */
export function parseTaskMessage(
  body: unknown,
  headers: FieldTable,
  properties: { correlationId?: string; replyTo?: string } = {},
): TaskRequest {
  if (typeof headers.task === "string") {
    if (!Array.isArray(body) || body.length < 2 || !Array.isArray(body[0]) || !isObject(body[1])) {
      throw new DecodeError(
        `Cannot read task "${headers.task}": the body is not [args, kwargs, embed]`,
      );
    }
    const id = str(headers.id);
    if (id === undefined) throw new DecodeError(`Cannot read task "${headers.task}": no id`);
    const embed = isObject(body[2]) ? body[2] : {};
    const [timeLimit, softTimeLimit] = limits(headers.timelimit);
    return {
      protocol: 2,
      id,
      name: headers.task,
      args: body[0],
      kwargs: body[1],
      embed: {
        callbacks: list(embed.callbacks),
        errbacks: list(embed.errbacks),
        chain: list(embed.chain),
        chord: isObject(embed.chord) ? embed.chord as unknown as SignatureDict : null,
      },
      eta: parseTime(headers.eta),
      expires: parseTime(headers.expires),
      retries: num(headers.retries) ?? 0,
      timeLimit,
      softTimeLimit,
      rootId: str(headers.root_id) ?? id,
      parentId: str(headers.parent_id),
      group: str(headers.group),
      groupIndex: num(headers.group_index),
      replyTo: str(properties.replyTo),
      correlationId: str(properties.correlationId) ?? id,
      ignoreResult: headers.ignore_result === true,
      origin: str(headers.origin),
      shadow: str(headers.shadow),
      argsrepr: str(headers.argsrepr) ?? saferepr(body[0]),
      kwargsrepr: str(headers.kwargsrepr) ?? saferepr(body[1]),
    };
  }
  return parseProtocol1(body, properties);
}

function parseProtocol1(
  body: unknown,
  properties: { correlationId?: string; replyTo?: string },
): TaskRequest {
  if (!isObject(body) || typeof body.task !== "string" || typeof body.id !== "string") {
    throw new DecodeError("Cannot read a task: neither protocol 2 headers nor a protocol 1 body");
  }
  const args = Array.isArray(body.args) ? body.args : [];
  const kwargs = isObject(body.kwargs) ? body.kwargs : {};
  const [timeLimit, softTimeLimit] = limits(body.timelimit);
  return {
    protocol: 1,
    id: body.id,
    name: body.task,
    args,
    kwargs,
    embed: {
      callbacks: list(body.callbacks),
      errbacks: list(body.errbacks),
      chain: null,
      chord: isObject(body.chord) ? body.chord as unknown as SignatureDict : null,
    },
    eta: parseTime(body.eta),
    expires: parseTime(body.expires),
    retries: num(body.retries) ?? 0,
    timeLimit,
    softTimeLimit,
    rootId: body.id,
    parentId: undefined,
    group: str(body.taskset) ?? str(body.group),
    groupIndex: num(body.group_index),
    replyTo: str(properties.replyTo),
    correlationId: str(properties.correlationId) ?? body.id,
    ignoreResult: false,
    origin: undefined,
    shadow: undefined,
    argsrepr: saferepr(args),
    kwargsrepr: saferepr(kwargs),
  };
}
