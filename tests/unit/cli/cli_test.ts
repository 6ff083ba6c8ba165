import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { wakame } from "./_cli.ts";

/** One line on stderr, prefixed, no stack trace. */
function assertOneLine(stderr: string): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], /^wakame: /);
  assert.doesNotMatch(stderr, /^\s+at /m);
}

describe("wakame command line", () => {
  it("--help lists the commands and the exit codes", async () => {
    const run = await wakame(["--help"]);
    assert.equal(run.code, 0, run.stderr);
    for (const command of ["publish", "consume", "inspect", "purge", "celery", "bench"]) {
      assert.match(run.stdout, new RegExp(`^  ${command} `, "m"));
    }
    assert.match(run.stdout, /Exit codes:/);
    assert.match(run.stdout, /^ {2}3 +the broker could not be reached/m);
  });

  it("an unknown transport is one line and exit code 2", async () => {
    const run = await wakame(["inspect", "nosuch://u:secret@host/"]);
    assert.equal(run.code, 2);
    assertOneLine(run.stderr);
    assert.match(run.stderr, /Cannot find transport "nosuch"/);
    assert.doesNotMatch(run.stderr + run.stdout, /secret/);
  });

  it("a bad option or number is a usage error (exit code 2)", async () => {
    const unknown = await wakame(["bench", "memory://", "--bogus"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option '--bogus'/);
    const bad = await wakame(["bench", "memory://", "--count", "many"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--count must be a whole number/);
  });

  it("bench on memory:// publishes and consumes, plain progress lines when piped", async () => {
    const run = await wakame(["bench", "memory://", "--count", "200", "--size", "64"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /│ publish +│ 200 +│/);
    assert.match(run.stdout, /│ consume +│ 200 +│/);
    assert.match(run.stderr, /^publish: 200\/200 \(100%\)$/m);
    assert.match(run.stderr, /^consume: 200\/200 \(100%\)$/m);
    assert.match(run.stderr, /bench on memory:\/\/: 200 messages of 64 bytes, prefetch 100/);
  });

  it("WAKAME_LOG lines go to standard error, never into the output", async () => {
    const run = await wakame(["bench", "memory://", "--count", "10", "--size", "8"], {
      env: { WAKAME_LOG: "info" },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^\[wakame\.connection\] Connected to memory:\/\/$/m);
    assert.doesNotMatch(run.stdout, /\[wakame\./);
  });

  it("purge refuses to run unasked when standard input is not a terminal", async () => {
    const run = await wakame(["purge", "memory://", "q"]);
    assert.equal(run.code, 2);
    assertOneLine(run.stderr);
    assert.match(run.stderr, /pass --yes/);
  });

  it("celery inspect with an unknown method is a usage error", async () => {
    const run = await wakame(["celery", "inspect", "reboot", "memory://"]);
    assert.equal(run.code, 2);
    assertOneLine(run.stderr);
  });

  it("celery inspect with no worker on the broker: no nodes replied, exit code 1", async () => {
    const run = await wakame(["celery", "inspect", "ping", "memory://", "--timeout", "0.2"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no nodes replied within 0.2 s/);
  });
});
