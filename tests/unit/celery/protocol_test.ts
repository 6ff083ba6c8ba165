/**
 * Celery's message protocol without a broker: the headers of protocol 2 in Celery's order,
 * Python's ISO times, protocol 1 read as 2, bad messages refused, Celery's saferepr, canvas
 * encoding (a chain's rest last step first), signature options back to send options.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  buildTaskMessage,
  isoformat,
  parseTaskMessage,
  parseTime,
  pyRepr,
  saferepr,
  signature,
  signatureCall,
} from "../../../celery/mod.ts";
import { DecodeError } from "../../../mod.ts";

describe("Celery protocol 2", () => {
  it("writes every header of as_task_v2, in its order", () => {
    const m = buildTaskMessage({
      id: "id-1",
      name: "tasks.add",
      args: [1, "a"],
      kwargs: { k: true },
      eta: Date.UTC(2030, 0, 2, 3, 4, 5, 678),
      timeLimit: 1500,
      origin: "gen1@host",
    });
    assert.deepEqual(Object.keys(m.headers), [
      "lang",
      "task",
      "id",
      "shadow",
      "eta",
      "expires",
      "group",
      "group_index",
      "retries",
      "timelimit",
      "root_id",
      "parent_id",
      "argsrepr",
      "kwargsrepr",
      "origin",
      "ignore_result",
    ]);
    assert.equal(m.headers.eta, "2030-01-02T03:04:05.678000+00:00");
    assert.equal(m.headers.expires, null);
    assert.deepEqual(m.headers.timelimit, [1.5, null]);
    assert.equal(m.headers.root_id, "id-1");
    assert.equal(m.headers.argsrepr, "[1, 'a']");
    assert.equal(m.headers.kwargsrepr, "{'k': True}");
    assert.equal(m.correlationId, "id-1");
    assert.equal(m.replyTo, "");
    assert.deepEqual(m.body, [[1, "a"], { k: true }, {
      callbacks: null,
      errbacks: null,
      chain: null,
      chord: null,
    }]);
  });

  it("reads back what it writes", () => {
    const m = buildTaskMessage({
      id: "x",
      name: "t",
      args: [1],
      eta: Date.UTC(2030, 0, 1),
      expires: Date.UTC(2030, 0, 2),
      softTimeLimit: 2000,
      retries: 2,
      parentId: "p",
      groupId: "g",
      groupIndex: 0,
    });
    const r = parseTaskMessage(m.body, m.headers, { correlationId: "x", replyTo: "q" });
    assert.equal(r.protocol, 2);
    assert.equal(r.eta, Date.UTC(2030, 0, 1));
    assert.equal(r.expires, Date.UTC(2030, 0, 2));
    assert.equal(r.softTimeLimit, 2000);
    assert.equal(r.timeLimit, undefined);
    assert.equal(r.retries, 2);
    assert.equal(r.parentId, "p");
    assert.equal(r.group, "g");
    assert.equal(r.groupIndex, 0);
    assert.equal(r.replyTo, "q");
  });

  it("reads protocol 1 (every field in the body)", () => {
    const r = parseTaskMessage(
      {
        task: "t",
        id: "i",
        args: [1, 2],
        kwargs: { a: 1 },
        retries: 1,
        eta: "2030-01-01T00:00:00",
        expires: null,
        utc: true,
        callbacks: null,
        errbacks: null,
        timelimit: [10, null],
        taskset: "g",
        chord: null,
      },
      {},
      {},
    );
    assert.equal(r.protocol, 1);
    assert.deepEqual([r.name, r.id, r.args, r.kwargs, r.retries], ["t", "i", [1, 2], { a: 1 }, 1]);
    assert.equal(r.eta, Date.UTC(2030, 0, 1));
    assert.equal(r.timeLimit, 10_000);
    assert.equal(r.group, "g");
  });

  it("refuses what is not a task message", () => {
    for (
      const [body, headers] of [
        [{ hello: 1 }, {}],
        ["text", {}],
        [[[], {}], { task: "t" }], // no id
        [{ args: [] }, { task: "t", id: "i" }],
        [[[], {}], { task: "t", id: "i", eta: "tomorrow" }],
      ] as const
    ) {
      assert.throws(() => parseTaskMessage(body, headers as never), DecodeError);
    }
  });

  it("writes and reads Python's ISO times", () => {
    assert.equal(isoformat(Date.UTC(2030, 0, 2, 3, 4, 5)), "2030-01-02T03:04:05+00:00");
    assert.equal(parseTime("2030-01-02T03:04:05.123456+00:00"), Date.UTC(2030, 0, 2, 3, 4, 5, 123));
    assert.equal(parseTime("2030-01-02T03:04:05Z"), Date.UTC(2030, 0, 2, 3, 4, 5));
    assert.equal(parseTime("2030-01-02T05:04:05+02:00"), Date.UTC(2030, 0, 2, 3, 4, 5));
    assert.equal(parseTime("2030-01-02T03:04:05"), Date.UTC(2030, 0, 2, 3, 4, 5));
    assert.equal(parseTime(null), undefined);
    fc.assert(fc.property(fc.integer({ min: 0, max: 4102444800000 }), (ms) => {
      assert.equal(parseTime(isoformat(ms)), ms);
    }));
  });

  it("writes Python's repr and Celery's saferepr", () => {
    assert.equal(
      pyRepr([null, true, false, 1.5, "a'b", { x: [] }]),
      `[None, True, False, 1.5, "a'b", {'x': []}]`,
    );
    assert.equal(saferepr(["a'b"]), `['a\\'b']`);
    assert.equal(pyRepr("line\nnext"), `'line\\nnext'`);
    assert.equal(saferepr("x".repeat(2000)).length, 1024);
  });
});

describe("Celery canvas encoding", () => {
  it("writes signatures as Celery's dicts, link and link_error in options", () => {
    const s = signature("t", { args: [1], kwargs: { a: 2 }, queue: "q", countdown: 1500 })
      .link(signature("cb"))
      .linkError(signature("eb", { immutable: true }));
    const d = s.toDict();
    assert.equal(d.task, "t");
    assert.deepEqual(d.args, [1]);
    assert.equal(d.subtask_type, null);
    assert.equal(d.options.queue, "q");
    assert.equal(d.options.countdown, 1.5);
    assert.equal((d.options.link as { task: string }[])[0].task, "cb");
    assert.equal((d.options.link_error as { immutable: boolean }[])[0].immutable, true);
  });

  it("turns a signature dict back into send options (parent result first)", () => {
    const d = signature("t", { args: [2], queue: "q", timeLimit: 3000 }).toDict();
    d.options.task_id = "tid";
    d.options.reply_to = "r";
    const { name, options } = signatureCall(d, { args: [1], parentId: "p", rootId: "root" });
    assert.equal(name, "t");
    assert.deepEqual(options.args, [1, 2]);
    assert.equal(options.taskId, "tid");
    assert.equal(options.replyTo, "r");
    assert.equal(options.queue, "q");
    assert.equal(options.timeLimit, 3000);
    assert.equal(options.parentId, "p");
    assert.equal(options.rootId, "root");
    d.immutable = true;
    assert.deepEqual(signatureCall(d, { args: [1] }).options.args, [2]);
  });
});
