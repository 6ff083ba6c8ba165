/**
 * The npm tarball as a user gets it: built once (or taken from `WAKAME_TARBALL`, which the
 * runner sets after building it), installed into fresh temporary projects outside the
 * repository, so nothing in the repository's `node_modules` can be seen.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root: string = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const bin = (name: string): string => join(root, "node_modules/.bin", name);
export const NODE24: string = join(root, "node_modules/node24/bin/node");

/** The versions the repository tests the optional peers with (its own package.json). */
export function peerSpec(name: string): string {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const version = manifest.dependencies[name] ?? manifest.devDependencies[name];
  if (version === undefined) throw new Error(`package.json does not pin "${name}"`);
  return `${name}@${version}`;
}

/** What a finished command printed and how it ended. */
export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end.
 *
 * @param cmd the program
 * @param args its arguments
 * @param cwd where
 * @param env extra environment
 */
export function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Ran {
  const result = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
    timeout: 5 * 60 * 1000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    status: result.status,
    stdout: result.stdout ?? "",
    stderr: `${result.stderr ?? ""}${result.error ? String(result.error) : ""}`,
  };
}

/** Runs a command and throws with its output unless it exits 0. */
export function ok(cmd: string, args: string[], cwd: string, env?: Record<string, string>): string {
  const result = run(cmd, args, cwd, env);
  if (result.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${result.status}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

let built: string | undefined;

/** The packed tarball's path (built on first use unless the runner built it). */
export function tarball(): string {
  if (built !== undefined) return built;
  built = process.env.WAKAME_TARBALL ||
    ok(bin("deno"), ["run", "-A", "tools/build_npm.ts"], root).trim().split("\n").at(-1)!;
  return built;
}

/**
 * Makes a project in the system's temporary folder and installs the tarball with `extra`
 * packages into it.
 *
 * @param name a label for the folder
 * @param extra more packages (`name@version`)
 * @returns the project's folder
 */
export function makeProject(name: string, extra: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), `wakame-${name}-`));
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: `wakame-${name}-check`, private: true, version: "0.0.0" }),
  );
  ok("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    "--loglevel=error",
    tarball(),
    ...extra,
  ], dir);
  return dir;
}
