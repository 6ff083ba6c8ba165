/**
 * A Celery app and a running worker on memory://, for the broker-free Celery tests: each call
 * gets queues of its own.
 */
import {
  Celery,
  type CeleryOptions,
  type CeleryWorker,
  type CeleryWorkerOptions,
} from "../../../celery/mod.ts";
import { uuid } from "../../../mod.ts";
import "../../../transports/memory/mod.ts";

/** An app with a worker running on a queue of its own. */
export interface Running {
  app: Celery;
  worker: CeleryWorker;
  queue: string;
  /** Stops the worker and closes the app. */
  stop(): Promise<void>;
}

/**
 * Makes an app on memory:// with the rpc:// backend, lets `setup` register tasks, and starts a
 * worker on a fresh queue.
 */
export async function startApp(
  setup: (app: Celery) => void,
  options: { app?: CeleryOptions; worker?: CeleryWorkerOptions } = {},
): Promise<Running> {
  const queue = `celery-test.${uuid()}`;
  const app = new Celery({
    broker: "memory://",
    backend: "rpc://",
    defaultQueue: queue,
    ...options.app,
  });
  setup(app);
  const controller = new AbortController();
  const worker = app.worker({ hostname: `w-${queue}@test`, ...options.worker });
  const running = worker.run({ signal: controller.signal });
  await worker.ready;
  return {
    app,
    worker,
    queue,
    async stop() {
      controller.abort();
      await running;
      await app.close();
    },
  };
}
