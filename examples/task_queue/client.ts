/**
 * Kombu's task-queue example, the client (Kombu's `examples/simple_task_queue/client.py`):
 * publishes a task message through the global producer pool.
 *
 * Run on a broker (with `worker.ts` running elsewhere):
 *   deno run -A examples/task_queue/client.ts amqp://guest:guest@localhost//
 *   node --import tsx examples/task_queue/client.ts redis://127.0.0.1:6379/0
 *
 * On `memory://` (the default) the queues live inside one process: this file then starts the
 * worker in the same process, sends the tasks, waits until they ran, and stops the worker.
 *
 * @module
 */
import { Connection, maybeDeclare } from "../../mod.ts";
import { producers } from "../../src/pools.ts";
import {
  brokerUrl,
  isInProcess,
  isMain,
  priorityToRoutingKey,
  taskExchange,
  type TaskMessage,
} from "./queues.ts";

/**
 * Publishes a task (Kombu's `send_as_task`).
 *
 * @param connection the broker connection (its producer pool is used)
 * @param fun the task's name
 * @param args positional arguments
 * @param kwargs keyword arguments
 * @param priority `high`, `mid` or `low`
 */
export async function sendAsTask(
  connection: Connection,
  fun: string,
  args: unknown[] = [],
  kwargs: Record<string, unknown> = {},
  priority: "high" | "mid" | "low" = "mid",
): Promise<void> {
  const payload: TaskMessage = { fun, args, kwargs };
  const routingKey = priorityToRoutingKey[priority];
  await using lease = await producers.get(connection).acquire({ timeout: 10_000 });
  const producer = lease.resource;
  await maybeDeclare(taskExchange, await producer.channel(), producer.connection);
  await producer.publish(payload, {
    serializer: "json",
    compression: "zlib",
    exchange: taskExchange,
    declare: [taskExchange],
    routingKey,
    retry: true,
  });
}

/**
 * Runs the worker and the client in one process (what `memory://` needs): sends three tasks,
 * waits for the worker to run them, then stops it gracefully.
 *
 * @param connection the connection (memory:// or any broker)
 * @param startWorker `worker.ts`'s startWorker (passed in, so the two modules do not import
 *   each other while one of them is still running its top-level code)
 */
export async function runClientAndWorker(
  connection: Connection,
  startWorker: typeof import("./worker.ts").startWorker,
): Promise<void> {
  const stop = new AbortController();
  const names = ["Kombu", "wakame", "Celery"];
  let done = 0;
  let started!: () => void;
  const ready = new Promise<void>((resolve) => (started = resolve));
  const worker = startWorker(connection, {
    signal: stop.signal,
    onTaskDone: () => {
      if (++done === names.length) stop.abort();
    },
    onReady: () => started(),
  });
  const running = worker.run();
  await ready;
  for (const [i, who] of names.entries()) {
    await sendAsTask(connection, "hello", [who], {}, (["high", "mid", "low"] as const)[i]);
  }
  await running;
  await producers.clear();
  console.log(`Worker ran ${done} tasks and stopped`);
}

if (isMain(import.meta)) {
  const url = brokerUrl();
  await using connection = new Connection(url);
  if (isInProcess(url)) {
    const { startWorker } = await import("./worker.ts");
    await runClientAndWorker(connection, startWorker);
  } else {
    await sendAsTask(connection, "hello", ["Kombu"], {}, "high");
    await producers.clear();
    console.log("Sent hello('Kombu') with high priority");
  }
}
