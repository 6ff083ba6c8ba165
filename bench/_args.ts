/**
 * The benchmarks' command line: the arguments on every runtime, and the message count.
 */

/** The command-line arguments (Deno, Bun and Node alike). */
export const args: string[] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];

/**
 * The message count from the first argument; exits with a usage line when it is not a positive
 * integer.
 *
 * @param fallback the count without an argument
 * @param script the benchmark's file name, for the usage line
 * @returns the count
 */
export function messageCount(fallback: number, script: string): number {
  const n = Number(args[0] ?? fallback);
  if (Number.isInteger(n) && n >= 1) return n;
  console.error(`usage: ${script} [N]: N messages, a positive integer (got "${args[0]}")`);
  (globalThis as { process?: { exit(code: number): never } }).process?.exit(2);
  throw new Error("bad arguments");
}
