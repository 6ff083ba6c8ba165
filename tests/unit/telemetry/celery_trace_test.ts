import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connection } from "../../../src/connection.ts";
import { Queue } from "../../../src/entity.ts";
import { instrument, uninstrument } from "../../../src/telemetry/mod.ts";
import { uuid } from "../../../src/utils/uuid.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { kombuSkipReason, runPython } from "../../_support/python.ts";
import { envSkip } from "../../_support/skips.ts";
import { testOtel } from "./_otel.ts";

const REDIS = "redis://127.0.0.1:6379/0";
const skip = envSkip(
  import.meta.url,
  (await brokerSkipReason("Redis", "127.0.0.1", 6379)) || kombuSkipReason(["celery"]),
);

// Celery (and opentelemetry-instrumentation-celery) carries W3C trace context as `traceparent`
// / `tracestate` message headers of the task message; send_task(headers=...) puts them there.
const SEND = `
import os, sys
from celery import Celery
app = Celery("tracer", broker=sys.argv[1])
trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
app.send_task("tracer.step", args=[1], queue=sys.argv[2],
              headers={"traceparent": f"00-{trace_id}-{span_id}-01", "tracestate": "py=1"})
print(trace_id, span_id)
`;

const RECEIVE = `
import sys
from kombu import Connection
with Connection(sys.argv[1]) as conn:
    queue = conn.SimpleQueue(sys.argv[2])
    message = queue.get(timeout=10)
    print(message.headers["traceparent"], message.headers.get("tracestate", ""))
    message.ack()
    queue.close()
`;

describe("a trace that crosses a Celery task from Python stays one trace", () => {
  const dir = skip.reason ? "" : mkdtempSync(join(tmpdir(), "wakame-otel-celery-"));
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    "Python publishes a task with traceparent; wakame processes it and publishes on; Python reads the same trace",
    skip.options(),
    async () => {
      writeFileSync(join(dir, "send.py"), SEND);
      writeFileSync(join(dir, "receive.py"), RECEIVE);
      const tasks = `otel-tasks-${uuid()}`;
      const next = `otel-next-${uuid()}`;
      const otel = testOtel();
      instrument(otel.api);
      await using conn = new Connection(REDIS);
      try {
        const [pyTrace, pySpan] = (await runPython(join(dir, "send.py"), [REDIS, tasks])).trim()
          .split(" ");
        const nextQueue = new Queue(next, { durable: false });
        let seenHeaders: Record<string, unknown> = {};
        let finish!: () => void;
        const done = new Promise<void>((resolve) => (finish = resolve));
        await using consumer = conn.consumer(new Queue(tasks), {
          autoDeclare: false,
          callbacks: [async (body, message) => {
            seenHeaders = message.headers;
            // Published inside the process span: the next hop carries the same trace.
            const sent = conn.producer().publish({ from: "wakame", args: body }, {
              routingKey: next,
              declare: [nextQueue],
            });
            await sent;
            await message.ack();
            finish();
          }],
        });
        await consumer.consume();
        await done;
        await consumer.idle();
        assert.equal(seenHeaders.task, "tracer.step");

        const process = otel.spans().find((s) => s.name.startsWith("process "))!;
        assert.equal(process.spanContext().traceId, pyTrace);
        assert.equal(process.parentSpanId, pySpan);
        const publish = otel.spans().find((s) => s.name === "publish amq.default")!;
        assert.equal(publish.spanContext().traceId, pyTrace);
        assert.equal(publish.parentSpanId, process.spanContext().spanId);

        const [traceparent, tracestate] = (await runPython(join(dir, "receive.py"), [REDIS, next]))
          .trim().split(" ");
        assert.equal(traceparent, `00-${pyTrace}-${publish.spanContext().spanId}-01`);
        assert.equal(tracestate, "py=1");
      } finally {
        uninstrument();
        const channel = await conn.channel();
        for (const q of [tasks, next]) await channel.queueDelete(q).catch(() => undefined);
      }
    },
  );
});
