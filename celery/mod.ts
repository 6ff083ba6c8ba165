/**
 * Celery in TypeScript (`@wakame/wakame/celery`): a client that sends tasks in Celery's message
 * protocol 2 and reads their results, and a worker that runs TypeScript handlers for tasks sent
 * by Python Celery 5, on any wakame broker (`amqp://`, `redis://`, `sqs://`...), with the
 * `rpc://` and `redis://` result backends; canvas (chain, group, chord, link, link_error)
 * encoded as Celery does; remote control and events. The core (`@wakame/wakame`) does not
 * import it.
 *
 * Durations are in milliseconds (Celery's `countdown=10` is `countdown: 10_000`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Celery } from "@wakame/wakame/celery";
 * import "@wakame/wakame/memory";
 *
 * await using app = new Celery({ broker: "memory://", backend: "rpc://" });
 * app.task("tasks.add", ([a, b]) => a + b);
 * const stop = new AbortController();
 * const worker = app.worker();
 * const running = worker.run({ signal: stop.signal });
 * await worker.ready;
 * const result = await app.sendTask("tasks.add", { args: [2, 3] });
 * assert.equal(await result.get({ timeout: 5000 }), 5);
 * stop.abort();
 * await running;
 * ```
 *
 * @module
 */

export { Celery, type CeleryOptions, type GroupResult, type RegisteredTask } from "./app.ts";
export {
  Control,
  controlHandlers,
  type ControlOptions,
  Inspect,
  type Replies,
  type WorkerState,
} from "./control.ts";
export { AsyncResult, valueOf } from "./result.ts";
export {
  Chain,
  chain,
  Chord,
  chord,
  Group,
  group,
  Signature,
  signature,
  type SignatureOptions,
} from "./canvas.ts";
export {
  buildTaskMessage,
  type Embed,
  isoformat,
  parseTaskMessage,
  parseTime,
  type SignatureDict,
  type TaskMessage,
  type TaskMessageSpec,
  type TaskRequest,
} from "./protocol.ts";
export {
  celeryQueue,
  type Destination,
  destination,
  findRoute,
  type Route,
  type SendTaskOptions,
  signatureCall,
  type TaskRoutes,
} from "./send.ts";
export type { Json, RetryOptions, TaskContext, TaskHandler, TaskOptions } from "./task.ts";
export { CeleryWorker, type CeleryWorkerOptions, type HeldRequest } from "./worker.ts";
export { EventDispatcher } from "./events.ts";
export {
  bindForDelayedDelivery,
  declareLevels,
  DELAY_BITS,
  DELAYED_DELIVERY_EXCHANGE,
  delayedDestination,
  delayedRoutingKey,
  DelayedTopology,
  levelName,
} from "./delayed.ts";
export {
  CeleryError,
  type ExceptionMeta,
  MaxRetriesExceededError,
  NotRegistered,
  Retry,
  SoftTimeLimitExceeded,
  TaskError,
  TaskRevokedError,
  TimeLimitExceeded,
} from "./errors.ts";
export {
  EXCEPTION_STATES,
  PROPAGATE_STATES,
  READY_STATES,
  States,
  type TaskState,
} from "./states.ts";
export {
  exceptionMeta,
  readMeta,
  type ResultBackend,
  type ResultMeta,
  resultMeta,
  type StoreTarget,
  tracebackText,
  type WaitOptions,
} from "./backends/base.ts";
export { RpcBackend, type RpcBackendOptions } from "./backends/rpc.ts";
export { LazyRedisBackend } from "./backends/lazy.ts";
export type { RedisBackend, RedisBackendOptions } from "./backends/redis.ts";
export { pyRepr, saferepr } from "./repr.ts";
