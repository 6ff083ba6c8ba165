/**
 * Celery interop with Debian's Python Celery 5.2, both directions, on amqp:// and redis://
 * brokers with the rpc:// and redis:// result backends: a Python client's tasks run on a
 * TypeScript worker (values, raised errors, unknown names, countdown, expires, revoke, time
 * limits, retry, a chain, protocol 1); the TypeScript client's tasks run on a Python worker
 * (values, errors with traceback, the headers as Celery reads them, countdown, revoke); a chain
 * that crosses languages twice; `celery inspect ping` answered by the TypeScript worker, and
 * `app.control.inspect().ping()` answered by the Python worker.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Celery, CeleryError, chain, chord, signature, TaskError } from "../../celery/mod.ts";
import { uuid } from "../../mod.ts";
import "../../transports/amqp/mod.ts";
import "../../transports/redis/mod.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import {
  celerySkipReason,
  peerEnv,
  type PythonWorker,
  runPeer,
  startPythonWorker,
} from "../_support/celery_peer.ts";
import { envSkip } from "../_support/skips.ts";

const AMQP = "amqp://guest:guest@127.0.0.1:5672//";
const REDIS = "redis://127.0.0.1:6379/3";
const skip = envSkip(
  import.meta.url,
  celerySkipReason() ||
    (await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672)) ||
    (await brokerSkipReason("Redis", "127.0.0.1", 6379)),
);

const COMBOS = [
  { broker: AMQP, backend: "rpc://" },
  { broker: AMQP, backend: REDIS },
  { broker: REDIS, backend: "rpc://" },
  { broker: REDIS, backend: REDIS },
];

function registerTasks(app: Celery): void {
  app.task("ts.add", ([a, b], kwargs) => a + (b ?? kwargs.b ?? 0));
  app.task("ts.fail", ([message]) => {
    throw new CeleryError("ValueError", [message]);
  });
  app.task("ts.wait", (_args, _kwargs, ctx) =>
    new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
    }));
  app.task("ts.retry_once", (_args, _kwargs, ctx) => {
    if (ctx.retries === 0) return ctx.retry({ countdown: 100 });
    return `retried ${ctx.retries}`;
  });
  app.task("ts.sum", ([values]) => values.reduce((a: number, b: number) => a + b, 0));
  app.task("ts.context", ([x], _kwargs, ctx) => ({
    x,
    id: ctx.id,
    retries: ctx.retries,
    rootId: ctx.rootId,
    routingKey: ctx.deliveryInfo.routingKey,
  }));
}

for (const { broker, backend } of COMBOS) {
  const scheme = (url: string) => url.split(":")[0];
  describe(`Celery interop: ${scheme(broker)} broker, ${scheme(backend)} backend`, () => {
    const run = uuid().slice(0, 8);
    const tsQueue = `wakame.celery.ts.${run}`;
    const pyQueue = `wakame.celery.py.${run}`;
    const tsHost = `ts-${run}@wakame`;
    const env = peerEnv(broker, backend, pyQueue);
    let app: Celery;
    let python: PythonWorker;
    const stop = new AbortController();
    let running: Promise<void>;

    before(async () => {
      if (skip.reason) return;
      app = new Celery({ broker, backend, defaultQueue: tsQueue, resultExpires: 600_000 });
      registerTasks(app);
      const worker = app.worker({ hostname: tsHost, concurrency: 4, events: true });
      running = worker.run({ signal: stop.signal });
      [python] = await Promise.all([
        startPythonWorker(env, pyQueue, `py-${run}@wakame`),
        worker.ready,
      ]);
    });

    after(async () => {
      if (skip.reason) return;
      stop.abort();
      await running;
      await python?.stop();
      await app.close();
    });

    it("runs a Python client's tasks on the TypeScript worker", skip.options(), async () => {
      const out = JSON.parse(await runPeer(["celery_client.py", tsQueue], env));
      assert.deepEqual(out.add, { value: 5 });
      assert.deepEqual(out.kwargs, { value: 42 });
      assert.deepEqual(out.fail, { type: "ValueError", module: "builtins", args: ["boom"] });
      assert.equal(out.fail_state, "FAILURE");
      assert.match(out.fail_traceback, /Traceback \(most recent call last\)/);
      assert.equal(out.unknown.type, "NotRegistered");
      assert.deepEqual(out.countdown, { value: 2 });
      assert.ok(out.countdown_elapsed >= 0.9, `countdown ran after ${out.countdown_elapsed}s`);
      assert.deepEqual(out.expired, {
        type: "TaskRevokedError",
        module: "celery.exceptions",
        args: ["expired"],
      });
      assert.deepEqual(out.revoked, {
        type: "TaskRevokedError",
        module: "celery.exceptions",
        args: ["revoked"],
      });
      assert.deepEqual(out.soft_limit, {
        type: "SoftTimeLimitExceeded",
        module: "billiard.exceptions",
        args: [],
      });
      assert.deepEqual(out.hard_limit, {
        type: "TimeLimitExceeded",
        module: "billiard.exceptions",
        args: [0.3],
      });
      assert.deepEqual(out.retry, { value: "retried 1" });
      assert.equal(out.context.value.x, 7);
      assert.equal(out.context.value.retries, 0);
      assert.equal(out.context.value.rootId, out.context.value.id);
      assert.equal(out.context.value.routingKey, tsQueue);
      assert.deepEqual(out.chain, { value: 10 });
      assert.deepEqual(out.protocol1, { value: 42 });
      if (backend !== "rpc://") assert.deepEqual(out.chord, { value: 6 });
    });

    it("runs the TypeScript client's tasks on the Python worker", skip.options(), async () => {
      const opts = { queue: pyQueue };
      assert.equal(
        await (await app.sendTask("py.add", { ...opts, args: [2, 3] })).get({ timeout: 20_000 }),
        5,
      );
      const failed = await app.sendTask("py.fail", { ...opts, args: ["bad input"] });
      const error = await failed.get({ timeout: 20_000 }).catch((e) => e);
      assert.ok(error instanceof TaskError, String(error));
      assert.equal(error.excType, "ValueError");
      assert.deepEqual(error.excMessage, ["bad input"]);
      assert.equal(error.excModule, "builtins");
      assert.match(error.traceback ?? "", /ValueError: bad input/);
      assert.equal(await failed.status(), "FAILURE");

      const started = Date.now();
      const request = await app.sendTask("py.request", {
        ...opts,
        args: [1, "two"],
        kwargs: { three: 3 },
        countdown: 1000,
        expires: 60_000,
        timeLimit: 30_000,
        softTimeLimit: 20_000,
        priority: 3,
      });
      const seen = await request.get({ timeout: 20_000 }) as Record<string, unknown>;
      assert.ok(Date.now() - started >= 900);
      assert.equal(seen.id, request.id);
      assert.deepEqual(seen.args, [1, "two"]);
      assert.deepEqual(seen.kwargs, { three: 3 });
      assert.equal(seen.retries, 0);
      assert.deepEqual(seen.timelimit, [30, 20]);
      assert.equal(seen.root_id, request.id);
      assert.equal(seen.parent_id, null);
      assert.equal(seen.argsrepr, "[1, 'two']");
      assert.equal(seen.kwargsrepr, "{'three': 3}");
      assert.equal(seen.ignore_result, false);
      assert.equal(seen.lang, "py");
      assert.equal(seen.correlation_id, request.id);
      assert.equal(seen.reply_to, app.oid);
      assert.equal(seen.routing_key, pyQueue);
      assert.match(String(seen.origin), /^gen\d+@/);
      assert.match(String(seen.eta), /^\d{4}-\d\d-\d\dT.*\+00:00$/);
      assert.match(String(seen.expires), /^\d{4}-\d\d-\d\dT.*\+00:00$/);

      const revoked = uuid();
      await app.control.revoke(revoked);
      const late = await app.sendTask("py.add", {
        ...opts,
        taskId: revoked,
        args: [1, 1],
        countdown: 1500,
      });
      const revokedError = await late.get({ timeout: 20_000 }).catch((e) => e);
      assert.ok(revokedError instanceof TaskError, String(revokedError));
      assert.equal(revokedError.state, "REVOKED");
      assert.equal(revokedError.excType, "TaskRevokedError");
    });

    it("runs a chain across both languages", skip.options(), async () => {
      const result = await app.apply(chain(
        signature("py.add", { args: [1, 2], queue: pyQueue }),
        signature("ts.add", { args: [10], queue: tsQueue }),
        signature("py.mul", { args: [3], queue: pyQueue }),
        signature("ts.add", { args: [1], queue: tsQueue }),
      ));
      assert.equal(await result.get({ timeout: 20_000 }), 40);
    });

    it("runs chords whose header and body cross languages", skip.options(), async () => {
      if (backend === "rpc://") {
        await assert.rejects(
          app.apply(chord([signature("py.add", { args: [1, 1] })], signature("py.sum"))),
          /chords need redis/,
        );
        return;
      }
      const header = () => [
        signature("py.add", { args: [1, 1], queue: pyQueue }),
        signature("ts.add", { args: [2, 2], queue: tsQueue }),
        signature("py.add", { args: [3, 3], queue: pyQueue }),
      ];
      const inPython = await app.apply(chord(header(), signature("py.sum", { queue: pyQueue })));
      const inTypeScript = await app.apply(
        chord(header(), signature("ts.sum", { queue: tsQueue })),
      );
      assert.equal(await inPython.get({ timeout: 20_000 }), 12);
      assert.equal(await inTypeScript.get({ timeout: 20_000 }), 12);
    });

    it(
      "shows in Celery's event State, as `celery events` and Flower read it",
      skip.options(),
      async () => {
        const out = JSON.parse(await runPeer(["celery_events.py", tsQueue, tsHost], env));
        assert.deepEqual(out.types, [
          "task-received",
          "task-started",
          "task-succeeded",
          "worker-heartbeat",
        ]);
        assert.equal(out.alive, true);
        assert.equal(out.state, "SUCCESS");
        assert.equal(out.name, "ts.add");
        assert.equal(out.result, "3");
      },
    );

    it(
      "answers `celery inspect ping` from Python and pings the Python worker",
      skip.options(),
      async () => {
        const out = await runPeer(
          [
            "-m",
            "celery",
            "-A",
            "celery_tasks",
            "inspect",
            "ping",
            "-d",
            tsHost,
            "-t",
            "5",
            "--json",
          ],
          env,
        );
        assert.deepEqual(JSON.parse(out.trim().split("\n").pop()!), { [tsHost]: { ok: "pong" } });
        const replies = await app.control.inspect({ destination: [python.hostname], timeout: 5000 })
          .ping();
        assert.deepEqual(replies, { [python.hostname]: { ok: "pong" } });
      },
    );
  });
}
