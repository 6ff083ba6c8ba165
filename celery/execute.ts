/**
 * Running one task request as Celery's `celery.app.trace` does: time limits through an
 * `AbortSignal`, the result stored in the backend, then the `embed` work (callbacks, the next
 * step of a chain, the chord), errbacks on failure, and `retry()`.
 *
 * @module
 */

import { getLogger } from "../mod.ts";
import type { Celery, RegisteredTask } from "./app.ts";
import { resultMeta, tracebackText } from "./backends/base.ts";
import {
  CeleryError,
  MaxRetriesExceededError,
  Retry,
  SoftTimeLimitExceeded,
  TaskRevokedError,
  TimeLimitExceeded,
} from "./errors.ts";
import type { EventDispatcher } from "./events.ts";
import type { TaskRequest } from "./protocol.ts";
import { pyRepr, saferepr } from "./repr.ts";
import type { RetryOptions, TaskContext } from "./task.ts";

const log = getLogger("celery.worker");

/** The outcome of a run. */
export type Outcome = "SUCCESS" | "FAILURE" | "RETRY" | "REVOKED";

/** What a run needs from the worker. */
export interface RunEnvironment {
  /** The app. */
  app: Celery;
  /** The worker's node name. */
  hostname: string;
  /** The event dispatcher, when events are on. */
  events: EventDispatcher | undefined;
  /** Exchange and routing key the message came through. */
  deliveryInfo: { exchange: string; routingKey: string };
  /** Aborted by a revoke with `terminate`. */
  terminate: AbortSignal;
}

const seconds = (ms: number) => Number((ms / 1000).toFixed(6));

/**
 * Stores a state unless the task ignores results.
 *
 * @param env the worker's environment
 * @param request the task
 * @param state the state
 * @param value the value or error
 * @param ignore do not store
 */
export async function storeState(
  env: Pick<RunEnvironment, "app">,
  request: TaskRequest,
  state: string,
  value: unknown,
  ignore = false,
): Promise<void> {
  const backend = env.app.backend;
  if (!backend || ignore) return;
  try {
    await backend.store(
      resultMeta(request.id, state, value, { group: request.group, parentId: request.parentId }),
      { replyTo: request.replyTo, correlationId: request.correlationId },
    );
  } catch (error) {
    log.error(`Cannot store the ${state} state of task ${request.name}[${request.id}]:`, error);
  }
}

function context(
  env: RunEnvironment,
  request: TaskRequest,
  task: RegisteredTask,
  signal: AbortSignal,
): TaskContext {
  return {
    id: request.id,
    name: request.name,
    retries: request.retries,
    rootId: request.rootId,
    parentId: request.parentId,
    group: request.group,
    groupIndex: request.groupIndex,
    hostname: env.hostname,
    replyTo: request.replyTo,
    deliveryInfo: env.deliveryInfo,
    signal,
    app: env.app,
    retry: (options) => retry(env, request, task, options),
  };
}

async function retry(
  env: RunEnvironment,
  request: TaskRequest,
  task: RegisteredTask,
  options: RetryOptions = {},
): Promise<never> {
  const max = options.maxRetries !== undefined ? options.maxRetries : task.options.maxRetries ?? 3;
  if (max !== null && request.retries >= max) {
    if (options.exc !== undefined) throw options.exc;
    throw new MaxRetriesExceededError(
      `Can't retry ${request.name}[${request.id}] args:${pyRepr(request.args)} kwargs:${
        pyRepr(request.kwargs)
      }`,
    );
  }
  const eta = options.eta instanceof Date
    ? options.eta.getTime()
    : options.eta ?? Date.now() + (options.countdown ?? task.options.defaultRetryDelay ?? 180_000);
  await env.app.sendTask(request.name, {
    taskId: request.id,
    args: options.args ?? request.args,
    kwargs: options.kwargs ?? request.kwargs,
    eta,
    expires: request.expires === undefined ? undefined : new Date(request.expires),
    retries: request.retries + 1,
    timeLimit: request.timeLimit,
    softTimeLimit: request.softTimeLimit,
    replyTo: request.replyTo,
    rootId: request.rootId,
    parentId: request.parentId,
    groupId: request.group,
    groupIndex: request.groupIndex,
    link: request.embed.callbacks ?? undefined,
    linkError: request.embed.errbacks ?? undefined,
    chain: request.embed.chain ?? undefined,
    chord: request.embed.chord ?? undefined,
    queue: env.deliveryInfo.routingKey || undefined,
    ignoreResult: request.ignoreResult || undefined,
  });
  const text = `Retry in ${Math.max(0, Math.round((eta - Date.now()) / 1000))}s`;
  throw new Retry(
    options.exc === undefined ? text : `${text}: ${reprError(options.exc)}`,
    options.exc,
    eta,
  );
}

/** Runs the handler with its time limits; resolves with its value or rejects with its error. */
function withLimits(
  env: RunEnvironment,
  request: TaskRequest,
  task: RegisteredTask,
): Promise<unknown> {
  const controller = new AbortController();
  const soft = request.softTimeLimit ?? task.options.softTimeLimit;
  const hard = request.timeLimit ?? task.options.timeLimit;
  const timers: ReturnType<typeof setTimeout>[] = [];
  let onTerminate = () => {};
  return new Promise<unknown>((resolve, reject) => {
    onTerminate = () => {
      controller.abort(new TaskRevokedError("terminated"));
      reject(controller.signal.reason);
    };
    if (env.terminate.aborted) return onTerminate();
    env.terminate.addEventListener("abort", onTerminate, { once: true });
    if (soft !== undefined) {
      timers.push(
        setTimeout(() => controller.abort(new SoftTimeLimitExceeded(seconds(soft))), soft),
      );
    }
    if (hard !== undefined) {
      timers.push(setTimeout(() => {
        const error = new TimeLimitExceeded(seconds(hard));
        if (!controller.signal.aborted) controller.abort(error);
        log.error(
          `Hard time limit (${seconds(hard)}s) exceeded for ${request.name}[${request.id}]`,
        );
        reject(error);
      }, hard));
    }
    Promise.resolve()
      .then(() =>
        task.handler(request.args, request.kwargs, context(env, request, task, controller.signal))
      )
      .then(resolve, reject);
  }).finally(() => {
    for (const timer of timers) clearTimeout(timer);
    env.terminate.removeEventListener("abort", onTerminate);
  });
}

/**
 * Runs a request to its end: stores the outcome, sends the follow-up work and the events.
 * Never rejects.
 *
 * @param env the worker's environment
 * @param request the task
 * @param task the registered handler
 * @returns the outcome
 */
export async function runTask(
  env: RunEnvironment,
  request: TaskRequest,
  task: RegisteredTask,
): Promise<Outcome> {
  const ignore = request.ignoreResult || task.options.ignoreResult === true;
  const started = performance.now();
  env.events?.send("task-started", { uuid: request.id });
  if (task.options.trackStarted) await storeState(env, request, "STARTED", null, ignore);
  let value: unknown;
  try {
    value = await withLimits(env, request, task);
  } catch (error) {
    return await onError(env, request, error, ignore);
  }
  const runtime = (performance.now() - started) / 1000;
  if (log.enabled("info")) {
    log.info(
      `Task ${request.name}[${request.id}] succeeded in ${runtime.toFixed(3)}s: ${
        saferepr(value, 256)
      }`,
    );
  }
  try {
    for (const callback of request.embed.callbacks ?? []) {
      await env.app.sendSignature(callback, {
        args: [value],
        parentId: request.id,
        rootId: request.rootId,
      });
    }
    const chain = request.embed.chain ? [...request.embed.chain] : [];
    const next = chain.pop();
    if (next) {
      await env.app.sendSignature(next, {
        args: [value],
        chain,
        parentId: request.id,
        rootId: request.rootId,
      });
    }
  } catch (error) {
    log.error(`Cannot send the work after ${request.name}[${request.id}]:`, error);
  }
  await storeState(env, request, "SUCCESS", value, ignore);
  await chordPart(env, request, "SUCCESS", value);
  env.events?.send("task-succeeded", { uuid: request.id, result: saferepr(value), runtime });
  return "SUCCESS";
}

async function onError(
  env: RunEnvironment,
  request: TaskRequest,
  error: unknown,
  ignore: boolean,
): Promise<Outcome> {
  if (error instanceof Retry) {
    log.info(`Task ${request.name}[${request.id}] retry: ${error.message}`);
    await storeState(env, request, "RETRY", error.exc ?? null, ignore);
    env.events?.send("task-retried", {
      uuid: request.id,
      exception: reprError(error),
      traceback: tracebackText(error),
    });
    return "RETRY";
  }
  if (error instanceof TaskRevokedError) {
    await storeState(env, request, "REVOKED", error, ignore);
    return "REVOKED";
  }
  log.error(`Task ${request.name}[${request.id}] raised unexpected:`, error);
  // As Celery's trace: a task that ignores its result does not store its failure either.
  await storeState(env, request, "FAILURE", error, ignore);
  await chordPart(env, request, "FAILURE", error);
  for (const errback of request.embed.errbacks ?? []) {
    try {
      await env.app.sendSignature(errback, {
        args: [request.id],
        parentId: request.id,
        rootId: request.rootId,
      });
    } catch (sendError) {
      log.error(`Cannot send an errback of ${request.name}[${request.id}]:`, sendError);
    }
  }
  env.events?.send("task-failed", {
    uuid: request.id,
    exception: reprError(error),
    traceback: tracebackText(error),
  });
  return "FAILURE";
}

/**
 * Python's `repr` of an error, as Celery's events carry it: `ValueError('bad')`.
 *
 * @param error the error
 * @returns the text
 */
export function reprError(error: unknown): string {
  if (error instanceof CeleryError) {
    return `${error.excType}(${error.args.map((a) => pyRepr(a)).join(", ")})`;
  }
  if (error instanceof Error) return `${error.name}(${pyRepr(error.message)})`;
  return `Exception(${pyRepr(String(error))})`;
}

async function chordPart(
  env: RunEnvironment,
  request: TaskRequest,
  state: string,
  value: unknown,
): Promise<void> {
  const body = request.embed.chord;
  if (!body || !request.group) return;
  const backend = env.app.backend as {
    chordPartReturn?: (part: {
      id: string;
      group: string;
      groupIndex: number | undefined;
      state: string;
      result: unknown;
    }) => Promise<{ results: unknown[] } | { failed: string } | undefined>;
  } | undefined;
  if (!backend?.chordPartReturn) {
    log.error(`Cannot complete chord ${request.group}: the result backend does not count chords`);
    return;
  }
  try {
    const stored = resultMeta(request.id, state, value).result;
    const done = await backend.chordPartReturn({
      id: request.id,
      group: request.group,
      groupIndex: request.groupIndex,
      state,
      result: stored,
    });
    if (done === undefined) return;
    if ("results" in done) {
      await env.app.sendSignature(body, { args: [done.results] });
      return;
    }
    const bodyId = body.options?.task_id;
    if (typeof bodyId === "string") {
      const failure = new CeleryError("ChordError", [done.failed], "celery.exceptions");
      await storeState(
        env,
        {
          ...request,
          id: bodyId,
          correlationId: bodyId,
          group: undefined,
          replyTo: body.options?.reply_to as string | undefined,
        },
        "FAILURE",
        failure,
      );
    }
  } catch (error) {
    log.error(`Cannot count chord ${request.group}:`, error);
  }
}
