/**
 * The host name and process id a Celery node reports (`celery@<host>`, `gen<pid>@<host>`), read
 * without tying the module to one runtime.
 *
 * @module
 */

import { importHidden } from "../src/_import.ts";

let cached: Promise<string> | undefined;

/**
 * The machine's host name (Deno, Bun and Node; `localhost` where none can be read).
 *
 * @returns the host name
 */
export function hostName(): Promise<string> {
  return cached ??= (async () => {
    try {
      const deno = (globalThis as { Deno?: { hostname?: () => string } }).Deno;
      if (deno?.hostname) return deno.hostname();
    } catch {
      // no permission: fall through
    }
    try {
      // Hidden from bundlers, as wakame's socket adapters load node:net (src/_import.ts).
      const os = await importHidden<{ hostname(): string }>("node:os");
      return os.hostname();
    } catch {
      return "localhost";
    }
  })();
}

/**
 * This process's id, or 0 where there is none.
 *
 * @returns the pid
 */
export function processId(): number {
  try {
    const pid = (globalThis as { process?: { pid?: unknown } }).process?.pid ??
      (globalThis as { Deno?: { pid?: unknown } }).Deno?.pid;
    return typeof pid === "number" ? pid : 0;
  } catch {
    return 0;
  }
}
