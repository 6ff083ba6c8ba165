/**
 * The worker on memory://: results and failures, early and late acks, eta held with the
 * prefetch raised, expires, unknown names and undecodable messages rejected without requeue,
 * soft and hard time limits, revoke with terminate, retry, callbacks and errbacks, groups.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AsyncResult, CeleryError, group, signature, TaskError } from "../../../celery/mod.ts";
import { startApp } from "./_app.ts";

const T = { timeout: 5000 };

async function failure(result: AsyncResult): Promise<TaskError> {
  const error = await result.get(T).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof TaskError, `expected a TaskError, got ${error}`);
  return error;
}

describe("Celery worker", () => {
  it("stores values and failures in Celery's format", async () => {
    const { app, stop } = await startApp((app) => {
      app.task("add", ([a, b]) => a + b);
      app.task("fail", () => {
        throw new CeleryError("KeyError", ["missing"]);
      });
      app.task("js", () => {
        throw new RangeError("too far");
      });
    });
    try {
      assert.equal(await (await app.sendTask("add", { args: [2, 3] })).get(T), 5);
      const failed = await app.sendTask("fail");
      const error = await failure(failed);
      assert.ok(error instanceof TaskError);
      assert.equal(error.excType, "KeyError");
      assert.deepEqual(error.excMessage, ["missing"]);
      assert.equal(error.excModule, "builtins");
      assert.match(error.traceback!, /^Traceback \(most recent call last\):\n/);
      assert.equal(await failed.status(), "FAILURE");
      assert.equal(await failed.successful(), false);
      const js = await failure(await app.sendTask("js"));
      assert.equal(js.excType, "RangeError");
      assert.equal(js.excModule, "wakame");
      assert.deepEqual(js.excMessage, ["too far"]);
    } finally {
      await stop();
    }
  });

  it("acknowledges before the handler runs, or after it with acksLate", async () => {
    const seen: Record<string, boolean> = {};
    const { app, worker, stop } = await startApp((app) => {
      const check = (name: string) => (_a: unknown[], _k: unknown, ctx: { id: string }) => {
        seen[name] = worker.active.get(ctx.id)!.message.acknowledged;
      };
      app.task("early", (a, k, ctx) => check("early")(a, k, ctx));
      app.task("late", (a, k, ctx) => check("late")(a, k, ctx), { acksLate: true });
    });
    try {
      await (await app.sendTask("early")).get(T);
      await (await app.sendTask("late")).get(T);
      assert.deepEqual(seen, { early: true, late: false });
    } finally {
      await stop();
    }
  });

  it("holds an eta task with the prefetch raised, so later tasks still run", async () => {
    const order: string[] = [];
    const { app, worker, stop } = await startApp((app) => {
      app.task("mark", ([name]) => order.push(name));
    }, { worker: { concurrency: 1, prefetchMultiplier: 1 } });
    try {
      const later = await app.sendTask("mark", { args: ["later"], countdown: 300 });
      const now = await app.sendTask("mark", { args: ["now"] });
      await now.get(T);
      assert.equal(worker.scheduled.size, 1);
      await later.get(T);
      assert.deepEqual(order, ["now", "later"]);
      assert.equal(worker.scheduled.size, 0);
    } finally {
      await stop();
    }
  });

  it("drops expired tasks as REVOKED", async () => {
    let ran = false;
    const { app, stop } = await startApp((app) => app.task("t", () => (ran = true)));
    try {
      const error = await failure(
        await app.sendTask("t", { expires: new Date(Date.now() - 1000) }),
      );
      assert.equal(error.state, "REVOKED");
      assert.deepEqual(error.excMessage, ["expired"]);
      assert.equal(ran, false);
    } finally {
      await stop();
    }
  });

  it("rejects unknown names (NotRegistered) and undecodable messages, then goes on", async () => {
    const { app, queue, stop } = await startApp((app) => app.task("ok", () => "fine"));
    try {
      const unknown = await failure(await app.sendTask("missing"));
      assert.equal(unknown.excType, "NotRegistered");
      assert.deepEqual(unknown.excMessage, ["missing"]);
      const producer = app.connection.producer();
      await producer.publish("{not json", {
        routingKey: queue,
        contentType: "application/json",
        contentEncoding: "utf-8",
      });
      await producer.publish([[], {}, {}], { routingKey: queue, headers: { task: "ok" } }); // no id
      assert.equal(await (await app.sendTask("ok")).get(T), "fine");
      const channel = await app.connection.channel();
      assert.equal((await channel.queueDeclare({ name: queue, passive: true })).messageCount, 0);
      assert.equal(await channel.basicGet(queue), undefined);
      await channel.close();
    } finally {
      await stop();
    }
  });

  it("aborts the signal at the soft limit and fails at the hard limit", async () => {
    let softReason: unknown;
    const { app, stop } = await startApp((app) => {
      app.task(
        "soft",
        (_a, _k, ctx) =>
          new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => {
              softReason = ctx.signal.reason;
              reject(ctx.signal.reason);
            })
          ),
        { softTimeLimit: 50 },
      );
      app.task("hang", () => new Promise(() => {}));
    });
    try {
      const soft = await failure(await app.sendTask("soft"));
      assert.equal(soft.excType, "SoftTimeLimitExceeded");
      assert.equal((softReason as CeleryError).excType, "SoftTimeLimitExceeded");
      const hard = await failure(await app.sendTask("hang", { timeLimit: 50 }));
      assert.equal(hard.excType, "TimeLimitExceeded");
      assert.deepEqual(hard.excMessage, [0.05]);
    } finally {
      await stop();
    }
  });

  it("revokes: waiting tasks are dropped, running ones aborted with terminate", async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const { app, worker, stop } = await startApp((app) => {
      app.task("long", (_a, _k, ctx) =>
        new Promise((_, reject) => {
          started();
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
        }));
      app.task("quick", () => 1);
    });
    try {
      const long = await app.sendTask("long");
      await running;
      const replies = await app.control.revoke(long.id, {
        terminate: true,
        reply: true,
        destination: [worker.hostname],
      });
      assert.deepEqual(replies, { [worker.hostname]: { ok: `terminate: ${long.id}` } });
      const error = await failure(long);
      assert.equal(error.state, "REVOKED");
      assert.deepEqual(error.excMessage, ["terminated"]);
      const waiting = await app.sendTask("quick", { countdown: 60_000 });
      await app.control.revoke(waiting.id);
      assert.equal((await failure(waiting)).state, "REVOKED");
    } finally {
      await stop();
    }
  });

  it("retries with a countdown, up to maxRetries", async () => {
    const { app, stop } = await startApp((app) => {
      app.task("flaky", (_a, _k, ctx) => ctx.retry({ countdown: 10 }), { maxRetries: 2 });
      app.task(
        "twice",
        (_a, _k, ctx) => (ctx.retries < 2 ? ctx.retry({ countdown: 10 }) : ctx.retries),
      );
    });
    try {
      assert.equal(await (await app.sendTask("twice")).get(T), 2);
      const error = await failure(await app.sendTask("flaky"));
      assert.equal(error.excType, "MaxRetriesExceededError");
    } finally {
      await stop();
    }
  });

  it("runs link callbacks with the result and link_error errbacks with the task id", async () => {
    const calls: unknown[] = [];
    const { app, stop } = await startApp((app) => {
      app.task("add", ([a, b]) => a + b);
      app.task("fail", () => {
        throw new Error("no");
      });
      app.task("record", (args) => calls.push(args));
    });
    try {
      const ok = await app.sendTask("add", {
        args: [1, 2],
        link: signature("record", { args: ["cb"] }),
      });
      await ok.get(T);
      const bad = await app.sendTask("fail", { linkError: signature("record", { args: ["eb"] }) });
      await bad.get(T).catch(() => undefined);
      for (let i = 0; i < 100 && calls.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(calls, [[3, "cb"], [bad.id, "eb"]]);
    } finally {
      await stop();
    }
  });

  it("runs a group and answers inspect commands", async () => {
    const { app, worker, queue, stop } = await startApp((app) => {
      app.task("double", ([x]) => x * 2);
    });
    try {
      const result = await app.apply(
        group(...[1, 2, 3].map((x) => signature("double", { args: [x] }))),
      );
      assert.deepEqual(await result.get(T), [2, 4, 6]);
      const inspect = app.control.inspect({ destination: [worker.hostname] });
      assert.deepEqual(await inspect.registered(), { [worker.hostname]: ["double"] });
      const queues = await inspect.activeQueues() as Record<string, { name: string }[]>;
      assert.deepEqual(queues[worker.hostname].map((q) => q.name), [queue]);
      const stats = await inspect.stats() as Record<string, { total: Record<string, number> }>;
      assert.deepEqual(stats[worker.hostname].total, { double: 3 });
      const extra = `${queue}.extra`;
      await app.control.addConsumer(extra, { reply: true, destination: [worker.hostname] });
      assert.ok(worker.queues.includes(extra));
      assert.equal(await (await app.sendTask("double", { args: [5], queue: extra })).get(T), 10);
      await app.control.cancelConsumer(extra, { reply: true, destination: [worker.hostname] });
      assert.ok(!worker.queues.includes(extra));
    } finally {
      await stop();
    }
  });
});
