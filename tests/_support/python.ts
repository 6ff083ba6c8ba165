/**
 * Runs Debian's Python Kombu (`/usr/bin/python3` with python3-kombu) as an interop peer.
 * On a developer's machine without it the interop tests skip with the reason; in CI it fails.
 */
import { spawn, spawnSync } from "node:child_process";
import { inCi } from "./brokers.ts";

/** The interpreter that has Debian's python3-kombu. */
export const PYTHON = "/usr/bin/python3";

/** Debian's package for each Python module the tests import. */
const DEBIAN: Record<string, string> = {
  kombu: "python3-kombu",
  amqp: "python3-amqp",
  redis: "python3-redis",
  msgpack: "python3-msgpack",
  yaml: "python3-yaml",
  boto3: "python3-boto3",
  "azure.storage.queue": "python3-azure-storage",
  etcd: "python3-etcd",
  kazoo: "python3-kazoo",
  Pyro4: "python3-pyro4",
};

/**
 * Decides whether the live Python Kombu tests run: `false` when {@link PYTHON} imports kombu
 * and `modules`, else the reason (what failed and what to install). The one copy of this gate:
 * wrap its reason in `envSkip`.
 *
 * @param modules Python modules the tests need besides kombu
 * @returns `false`, or the reason to skip
 * @throws {Error} under CI=true when any is missing
 */
export function kombuSkipReason(modules: readonly string[] = []): string | false {
  const wanted = [...new Set(["kombu", ...modules])];
  const imports = wanted.join(", ");
  const probe = spawnSync(PYTHON, ["-c", `import ${imports}`], { encoding: "utf8" });
  if (probe.status === 0) return false;
  const why = (probe.error?.message ?? probe.stderr ?? "").trim().split("\n").pop();
  const packages = wanted.map((m) => DEBIAN[m] ?? `the Python module ${m}`).join(" ");
  const reason = `${PYTHON} cannot import ${imports} (${why}): apt-get install ${packages}`;
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
