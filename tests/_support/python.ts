/**
 * Runs Debian's Python Kombu (`/usr/bin/python3` with python3-kombu) as an interop peer.
 * On a developer's machine without it the interop tests skip with the reason; in CI it fails.
 */
import { spawn, spawnSync } from "node:child_process";
import { inCi } from "./brokers.ts";

/** The interpreter that has Debian's python3-kombu. */
export const PYTHON = "/usr/bin/python3";

/** Resolves to false when Python Kombu is importable, else to a skip reason (throws in CI). */
export function kombuSkipReason(modules: string[] = ["kombu"]): string | false {
  const probe = spawnSync(PYTHON, ["-c", `import ${modules.join(", ")}`], { encoding: "utf8" });
  if (probe.status === 0) return false;
  const reason =
    `Python Kombu is not available (${PYTHON} -c "import ${modules.join(", ")}" failed): ` +
    "apt-get install python3-kombu";
  if (inCi) throw new Error(`${reason}; CI needs it`);
  return reason;
}

/**
 * Runs a Python script and resolves to its stdout; rejects with stderr when it fails.
 *
 * @param env variables added to this process's environment for the script
 */
export function runPython(
  script: string,
  args: string[],
  timeoutMs = 30000,
  env: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${script} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}
