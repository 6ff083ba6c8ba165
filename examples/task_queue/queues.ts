/**
 * Kombu's task-queue example, shared parts: the exchange and queues (Kombu's
 * `examples/simple_task_queue/queues.py`), the tasks, and how the example reads its URL.
 *
 * @module
 */
import { Exchange, Queue } from "../../mod.ts";

/** The direct exchange tasks are published to. */
export const taskExchange: Exchange = new Exchange("tasks", { type: "direct" });

/** One queue per priority, bound by routing key. */
export const taskQueues: Queue[] = [
  new Queue("hipri", { exchange: taskExchange, routingKey: "hipri" }),
  new Queue("midpri", { exchange: taskExchange, routingKey: "midpri" }),
  new Queue("lopri", { exchange: taskExchange, routingKey: "lopri" }),
];

/** Priority names to routing keys. */
export const priorityToRoutingKey: Record<"high" | "mid" | "low", string> = {
  high: "hipri",
  mid: "midpri",
  low: "lopri",
};

/** The tasks the worker can run, by name (Kombu's example pickles the function; we send its name). */
export const tasks: Record<string, (...args: unknown[]) => unknown> = {
  hello: (who = "world") => {
    const line = `Hello ${String(who)}`;
    console.log(line);
    return line;
  },
};

/** A task message as it travels (JSON). */
export interface TaskMessage {
  fun: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** The command-line arguments on Deno, Bun and Node. */
export function argv(): string[] {
  return (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
    (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
}

/** The broker URL: the first argument, `memory://` by default. */
export function brokerUrl(): string {
  return argv()[0] ?? "memory://";
}

/**
 * Tells whether a URL is in-process only (`memory://`): then the worker and the client must run
 * in one process to see each other's queues.
 */
export function isInProcess(url: string): boolean {
  return url.startsWith("memory:");
}

/** True when the module with this `import.meta` is the program's entry point. */
export function isMain(meta: ImportMeta): boolean {
  const flag = (meta as { main?: boolean }).main;
  if (typeof flag === "boolean") return flag;
  const entry = (globalThis as { process?: { argv: string[] } }).process?.argv[1];
  if (entry === undefined) return false;
  const here = decodeURIComponent(new URL(meta.url).pathname);
  return here === entry || here.replace(/\.ts$/, "") === entry.replace(/\.ts$/, "");
}
