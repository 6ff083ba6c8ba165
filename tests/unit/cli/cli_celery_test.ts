import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uuid } from "../../../src/utils/uuid.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { kombuSkipReason, PYTHON } from "../../_support/python.ts";
import { envSkip } from "../../_support/skips.ts";
import { wakame } from "./_cli.ts";

const AMQP = "amqp://guest:guest@127.0.0.1:5672//";
const skip = envSkip(
  import.meta.url,
  (await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672)) || kombuSkipReason(["celery"]),
);

describe("wakame celery inspect against a Python Celery worker", () => {
  const id = uuid().slice(0, 8);
  const namespace = `clictl${id}`; // the worker's own pidbox exchange: other workers stay out
  const node = `cli${id}@wakame-test`;
  let dir = "";
  let worker: ChildProcess | undefined;

  before(async () => {
    if (skip.reason) return;
    dir = mkdtempSync(join(tmpdir(), "wakame-celery-cli-"));
    writeFileSync(
      join(dir, "cliapp.py"),
      [
        "from celery import Celery",
        `app = Celery("cliapp", broker="${AMQP}")`,
        `app.conf.control_exchange = "${namespace}"`,
        `app.conf.task_default_queue = "cli-tasks-${id}"`,
        "@app.task(name='cliapp.add')",
        "def add(x, y):",
        "    return x + y",
        "",
      ].join("\n"),
    );
    worker = spawn(PYTHON, [
      "-m",
      "celery",
      "-A",
      "cliapp",
      "worker",
      "--pool=solo",
      "-n",
      node,
      "--without-gossip",
      "--without-mingle",
      "--without-heartbeat",
      "--loglevel=INFO",
    ], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker not ready:\n${log}`)), 60_000);
      const read = (chunk: Buffer) => {
        log += chunk.toString();
        if (/ ready\./.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      worker!.stdout!.on("data", read);
      worker!.stderr!.on("data", read);
      worker!.on("exit", (code) => reject(new Error(`worker exited ${code}:\n${log}`)));
    });
  });

  after(() => {
    if (skip.reason) return;
    worker?.kill("SIGKILL");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("ping, registered, active and stats get the worker's replies", skip.options(), async () => {
    const common = [AMQP, "--namespace", namespace, "--timeout", "5", "--limit", "1"];
    const ping = await wakame(["celery", "inspect", "ping", ...common]);
    assert.equal(ping.code, 0, ping.stderr);
    assert.equal(ping.stdout, `-> ${node}: OK\n    pong\n`);
    assert.match(ping.stderr, /1 node online/);
    const registered = await wakame(["celery", "inspect", "registered", ...common]);
    assert.equal(registered.code, 0, registered.stderr);
    assert.match(registered.stdout, /^ {4}\* cliapp\.add$/m);
    const active = await wakame(["celery", "inspect", "active", ...common, "--json"]);
    assert.equal(active.code, 0, active.stderr);
    assert.deepEqual(JSON.parse(active.stdout), { [node]: [] });
    const stats = await wakame(["celery", "inspect", "stats", ...common, "--json"]);
    assert.equal(stats.code, 0, stats.stderr);
    const body = JSON.parse(stats.stdout)[node];
    assert.equal(body.pool["max-concurrency"], 1);
    assert.match(stats.stdout, /"broker":/);
    assert.doesNotMatch(stats.stdout, /guest:guest@/);
  });
});
