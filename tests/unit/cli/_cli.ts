/**
 * Runs the `wakame` command line as a process, on the runtime running the tests.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";

const CLI = new URL("../../../cli/mod.ts", import.meta.url).pathname;

/** What a run of the command line left. */
export interface CliRun {
  /** Exit code. */
  code: number | null;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

function command(): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno) return [deno.execPath(), ["run", "-A", "--quiet", CLI]];
  if ((globalThis as { Bun?: unknown }).Bun) return [process.execPath, [CLI]];
  const major = Number(process.versions.node.split(".")[0]);
  return [process.execPath, major < 22 ? ["--import", "tsx", CLI] : [CLI]];
}

/**
 * Runs `wakame ARGS`, standard input piped from `stdin` (or closed).
 *
 * @param args the arguments
 * @param options text for standard input, a timeout (the process is killed after it)
 * @returns the exit code and output
 */
export function wakame(
  args: readonly string[],
  options: { stdin?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const [file, prefix] = command();
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...prefix, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...options.env },
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? "");
  });
}
