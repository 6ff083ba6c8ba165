/**
 * The test runner (tests/run.ts) on its own fixtures, under the runtime running this file: a
 * hung file is stopped within the cap and counted as a failure that names it; skips are counted
 * and named; a group is counted by its steps; a runtime that ran no test fails.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const deno = join(root, "node_modules/.bin/deno");

/** The runner's name for the runtime running this file. */
function thisRuntime(): string {
  if ("Deno" in globalThis) return "deno";
  if ("Bun" in globalThis) return "bun";
  return Number(process.versions.node.split(".")[0]) >= 22 ? "node24" : "node";
}

interface RunnerResult {
  code: number | null;
  output: string;
  ms: number;
}

/**
 * Runs tests/run.ts on fixture files for this runtime; resolves when it exits, or after 45 s
 * (then killed, with code null), so a runner whose caps are broken fails here instead of hanging.
 */
function runRunner(files: string[], env: Record<string, string>): Promise<RunnerResult> {
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(deno, ["run", "-A", "tests/run.ts", "--only", thisRuntime(), ...files], {
      cwd: root,
      // Without Node's marker for a test's child, or the inner Node would refuse to run files.
      env: { ...withoutTestContext(process.env), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (b: Uint8Array) => output += String(b));
    child.stderr.on("data", (b: Uint8Array) => output += String(b));
    const guard = setTimeout(() => child.kill("SIGKILL"), 45_000);
    child.once("error", fail);
    child.once("close", (code) => {
      clearTimeout(guard);
      done({ code, output, ms: Date.now() - started });
    });
  });
}

function withoutTestContext(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...rest } = env;
  return rest;
}

/** True while the process runs (a zombie, killed but not yet reaped, counts as gone). */
function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (existsSync("/proc/self/stat")) {
    try {
      return !/\) Z /.test(readFileSync(stat, "utf8"));
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("tests/run.ts", () => {
  it("stops a hung file within the cap, with what it started, and fails naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wakame-runner-"));
    const pidFile = join(dir, "pid");
    try {
      const { code, output, ms } = await runRunner([
        "tests/fixtures/runner/ok_test.ts",
        "tests/fixtures/runner/hang_test.ts",
      ], {
        WAKAME_TEST_IDLE_LIMIT_MS: "4000",
        WAKAME_TEST_RUN_LIMIT_MS: "60000",
        WAKAME_FIXTURE_PIDFILE: pidFile,
      });
      assert.notEqual(code, 0, output);
      assert.ok(ms < 30_000, `stopped after ${ms} ms:\n${output}`);
      assert.match(
        output,
        /^FAIL .*; stopped: no output for 4 s while running tests\/fixtures\/runner\/hang_test\.ts$/m,
      );
      const last = output.trim().split("\n").at(-1)!;
      assert.match(last, /^\d+ passed, [1-9]\d* failed, \d+ skipped$/, output);
      const pid = Number(readFileSync(pidFile, "utf8"));
      assert.ok(pid > 0 && !alive(pid), `the fixture's sleep (${pid}) was stopped too`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stops a run at the overall cap, whatever the silence limit", async () => {
    const { code, output, ms } = await runRunner(["tests/fixtures/runner/hang_test.ts"], {
      WAKAME_TEST_IDLE_LIMIT_MS: "60000",
      WAKAME_TEST_RUN_LIMIT_MS: "5000",
    });
    assert.notEqual(code, 0, output);
    assert.ok(ms < 30_000, `stopped after ${ms} ms:\n${output}`);
    assert.match(output, /; stopped: still running after 5 s/);
  });

  it("counts every skip and names it, environment apart from capability", async () => {
    const { code, output } = await runRunner(["tests/fixtures/runner/skip_test.ts"], { CI: "" });
    assert.equal(code, 0, output);
    const lines = output.trim().split("\n");
    assert.equal(lines.at(-1), "1 passed, 0 failed, 3 skipped", output);
    assert.equal(lines.at(-2), "skips: 2 environment, 1 capability, 0 other", output);
    assert.match(
      output,
      /^ {2}skipped env tests\/fixtures\/runner\/skip_test\.ts: wakame-no-such-tool is not installed \(\S+ ×2\)$/m,
    );
  });

  it("fails an environment skip under CI=true", async () => {
    const { code, output } = await runRunner(["tests/fixtures/runner/skip_test.ts"], {
      CI: "true",
    });
    assert.notEqual(code, 0, output);
    assert.match(output, /wakame-no-such-tool is not installed; CI needs it/);
  });

  it("counts a group's steps, not its verdict line, whatever output stands between", async () => {
    const { code, output } = await runRunner(["tests/fixtures/runner/groups_test.ts"], {});
    assert.notEqual(code, 0, output);
    assert.equal(output.trim().split("\n").at(-1), "2 passed, 2 failed, 0 skipped", output);
  });

  it("fails a runtime that ran no test, naming why", async () => {
    const { code, output } = await runRunner(["tests/fixtures/runner/nothing_runs_test.ts"], {});
    assert.notEqual(code, 0, output);
    assert.match(output, /^FAIL .*; ran no test \(1 skipped\)$/m);
    assert.equal(output.trim().split("\n").at(-1), "0 passed, 1 failed, 1 skipped", output);
  });
});
