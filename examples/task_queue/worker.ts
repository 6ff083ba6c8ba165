/**
 * Kombu's task-queue example, the worker (Kombu's `examples/simple_task_queue/worker.py`): a
 * {@link Worker} consuming the three priority queues and running the tasks named in messages.
 *
 * Run on a broker, until Ctrl-C (SIGINT) or SIGTERM:
 *   deno run -A examples/task_queue/worker.ts amqp://guest:guest@localhost//
 *   (then, elsewhere: deno run -A examples/task_queue/client.ts amqp://guest:guest@localhost//)
 *
 * On `memory://` (the default) queues live inside one process, so a worker alone would never
 * see a client: this file then also runs the client in the same process, and stops once its
 * tasks are done.
 *
 * @module
 */
import { Connection, type Message } from "../../mod.ts";
import { Worker } from "../../src/worker.ts";
import { brokerUrl, isInProcess, isMain, type TaskMessage, taskQueues, tasks } from "./queues.ts";

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** Stops the worker. */
  signal?: AbortSignal;
  /** Called after each task ran (the example's client uses it to know when to stop). */
  onTaskDone?: (name: string, result: unknown) => void;
  /** Called once the worker consumes. */
  onReady?: () => void;
  /** Stop on SIGINT / SIGTERM. */
  handleSignals?: boolean;
}

/**
 * Makes the example's worker.
 *
 * @param connection the broker connection (the worker clones it)
 * @param options stop signal and a per-task hook
 * @returns the worker; call `run()`
 */
export function startWorker(connection: Connection, options: StartWorkerOptions = {}): Worker {
  return new Worker({
    connection,
    signal: options.signal,
    handleSignals: options.handleSignals,
    getConsumers: (make) => [
      make(taskQueues, {
        accept: ["json"],
        prefetchCount: 10,
        callbacks: [(body, message) => processTask(body as TaskMessage, message, options)],
      }),
    ],
    onConsumeReady: ({ connection }) => {
      console.log(`Worker ready on ${connection.asUri()}: ${taskQueues.map((q) => q.name)}`);
      options.onReady?.();
    },
  });
}

async function processTask(
  body: TaskMessage,
  message: Message,
  options: StartWorkerOptions,
): Promise<void> {
  const task = tasks[body.fun];
  try {
    if (task === undefined) throw new Error(`unknown task "${body.fun}"`);
    console.log(`Got task: ${body.fun}(${JSON.stringify(body.args)})`);
    const result = await task(...(body.args ?? []), body.kwargs);
    options.onTaskDone?.(body.fun, result);
  } catch (error) {
    console.error("task raised exception:", error);
  }
  await message.ack();
}

if (isMain(import.meta)) {
  const url = brokerUrl();
  await using connection = new Connection(url);
  if (isInProcess(url)) {
    // memory://: the client must live in this process too.
    const { runClientAndWorker } = await import("./client.ts");
    await runClientAndWorker(connection, startWorker);
  } else {
    await startWorker(connection, { handleSignals: true }).run();
    console.log("Worker stopped");
  }
}
