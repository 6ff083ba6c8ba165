import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection, Exchange, Queue } from "../../mod.ts";
import { kombuSkipReason, runPython } from "../_support/python.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(import.meta.url, kombuSkipReason());
const peer = fileURLToPath(new URL("./python/filesystem_peer.py", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "wakame-fs-interop-"));
const connect = () =>
  new Connection("filesystem://", {
    transportOptions: {
      dataFolderIn: root,
      dataFolderOut: root,
      processedFolder: join(root, "processed"),
      controlFolder: join(root, "control"),
      pollingInterval: 10,
    },
  });

describe("filesystem interop with Python Kombu", () => {
  after(() => {
    if (skip.reason) return;
    return rmSync(root, { recursive: true, force: true });
  });

  it("consumes what Python Kombu published (plain and zlib)", skip.options(), async () => {
    await runPython(peer, ["publish", root, "from-python", "2"]);
    await using conn = connect();
    const got: {
      body: unknown;
      headers: Record<string, unknown>;
      correlationId?: string;
      replyTo?: string;
    }[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await using consumer = conn.consumer(new Queue("from-python"), {
      callbacks: [async (body, message) => {
        got.push({
          body,
          headers: message.headers,
          correlationId: message.correlationId,
          replyTo: message.replyTo,
        });
        await message.ack();
        if (got.length === 2) done();
      }],
    });
    await consumer.consume();
    await finished;
    // Kombu names files by millisecond + uuid4: two files of one millisecond come in any order.
    got.sort((a, b) => (a.body as { n: number }).n - (b.body as { n: number }).n);
    assert.deepEqual(got.map((m) => m.body), [{ from: "kombu", n: 0 }, { from: "kombu", n: 1 }]);
    assert.equal(got[0].headers["x-peer"], "python");
    assert.equal(got[1].headers.compression, "application/x-gzip");
    assert.equal(got[0].correlationId, "py-0");
    assert.equal(got[0].replyTo, "replies");
  });

  it("publishes what Python Kombu consumes", skip.options(), async () => {
    await using conn = connect();
    const queue = new Queue("to-python", {
      exchange: new Exchange("to-python"),
      routingKey: "to-python",
    });
    const producer = conn.producer();
    await producer.publish({ from: "wakame", text: "héllo ✓" }, {
      routingKey: "to-python",
      declare: [queue],
      headers: { "x-peer": "wakame" },
      correlationId: "wk-1",
      replyTo: "answers",
    });
    await producer.publish({ from: "wakame", zipped: true }, {
      routingKey: "to-python",
      compression: "zlib",
    });
    const lines = (await runPython(peer, ["consume", root, "to-python", "2"])).trim().split("\n");
    const got = lines.map((line) => JSON.parse(line));
    assert.deepEqual(got.map((m) => m.body), [{ from: "wakame", text: "héllo ✓" }, {
      from: "wakame",
      zipped: true,
    }]);
    assert.equal(got[0].headers["x-peer"], "wakame");
    assert.equal(got[0].correlation_id, "wk-1");
    assert.equal(got[0].reply_to, "answers");
    assert.equal(got[0].content_type, "application/json");
  });

  it("bzip2 and lzma (xz) both ways", skip.options(), async () => {
    const fromPython = `bz-xz-from-python-${crypto.randomUUID()}`;
    await runPython(peer, ["publish", root, fromPython, "2", "bzip2,xz"]);
    await using conn = connect();
    await using simple = conn.simpleQueue(new Queue(fromPython));
    const got = [];
    for (let i = 0; i < 2; i++) {
      const message = await simple.get({ timeout: 5000 });
      got.push({ body: message.payload as { n: number }, compression: message.compression });
      await message.ack();
    }
    got.sort((a, b) => a.body.n - b.body.n);
    assert.deepEqual(got, [
      { body: { from: "kombu", n: 0 }, compression: "application/x-bz2" },
      { body: { from: "kombu", n: 1 }, compression: "application/x-lzma" },
    ]);

    const toPython = `bz-xz-to-python-${crypto.randomUUID()}`;
    const queue = new Queue(toPython, { exchange: new Exchange(toPython), routingKey: toPython });
    const producer = conn.producer();
    const text = "héllo ✓ ".repeat(200);
    await producer.publish({ n: 0, text }, {
      routingKey: toPython,
      declare: [queue],
      compression: "bzip2",
    });
    await producer.publish({ n: 1, text }, { routingKey: toPython, compression: "xz" });
    const lines = (await runPython(peer, ["consume", root, toPython, "2"])).trim().split("\n");
    const bodies = lines.map((line) => JSON.parse(line))
      .map((m) => ({ body: m.body, compression: m.headers.compression }))
      .sort((a, b) => a.body.n - b.body.n);
    assert.deepEqual(bodies, [
      { body: { n: 0, text }, compression: "application/x-bz2" },
      { body: { n: 1, text }, compression: "application/x-lzma" },
    ]);
  });

  it("moves a corrupt file aside and keeps consuming", skip.options(), async () => {
    writeFileSync(join(root, `1000_${crypto.randomUUID()}.corrupt-q.msg`), "{ not an envelope");
    await using conn = connect();
    await conn.producer().publish("good", { routingKey: "corrupt-q" });
    await using simple = conn.simpleQueue(new Queue("corrupt-q"));
    const message = await simple.get({ timeout: 5000 });
    assert.equal(message.payload, "good");
    await message.ack();
    assert.equal(readdirSync(join(root, "corrupt")).length, 1);
  });

  it("matches queue names exactly (a does not take x.a)", skip.options(), async () => {
    await using conn = connect();
    const producer = conn.producer();
    await producer.publish("for x.a", { routingKey: "x.a" });
    await using a = conn.simpleQueue(new Queue("a"));
    await assert.rejects(a.getNowait());
    await using xa = conn.simpleQueue(new Queue("x.a"));
    assert.equal((await xa.getNowait()).payload, "for x.a");
  });
});
