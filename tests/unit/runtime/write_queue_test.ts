/** WriteQueue: coalescing, order, batch limits, backpressure and failure propagation. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { WriteQueue } from "../../../src/runtime/write_queue.ts";

/** A writable that records every write() it gets; `gate` lets a test hold writes back. */
function recorder(): {
  writable: WritableStream<Uint8Array>;
  writes: Uint8Array[];
  hold(): () => void;
} {
  const writes: Uint8Array[] = [];
  let gate: Promise<void> | undefined;
  return {
    writes,
    writable: new WritableStream<Uint8Array>({
      async write(chunk) {
        if (gate !== undefined) await gate;
        writes.push(chunk.slice());
      },
    }, { highWaterMark: 1 }),
    hold() {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

function joined(parts: Uint8Array[]): number[] {
  return parts.flatMap((part) => [...part]);
}

describe("WriteQueue", () => {
  it("joins writes issued in the same turn into one write()", async () => {
    const { writable, writes } = recorder();
    const queue = new WriteQueue(writable);
    await Promise.all([1, 2, 3, 4].map((n) => queue.write(new Uint8Array([n, n]))));
    assert.equal(writes.length, 1);
    assert.deepEqual(joined(writes), [1, 1, 2, 2, 3, 3, 4, 4]);
  });

  it("collects writes made while a batch is in flight into the next batch", async () => {
    const { writable, writes, hold } = recorder();
    const queue = new WriteQueue(writable);
    const release = hold();
    const first = queue.write(new Uint8Array([1]));
    await new Promise((resolve) => setTimeout(resolve, 0));
    const later = [2, 3, 4].map((n) => queue.write(new Uint8Array([n])));
    assert.equal(queue.pendingBytes, 3);
    release();
    await Promise.all([first, ...later]);
    assert.deepEqual(writes.map((w) => [...w]), [[1], [2, 3, 4]]);
  });

  it("keeps order and content for any mix of sizes and limits (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 400 }),
        fc.boolean(),
        async (chunks, maxBatchBytes, copyLimit, awaitEach) => {
          const { writable, writes } = recorder();
          const queue = new WriteQueue(writable, { maxBatchBytes, copyLimit });
          if (awaitEach) {
            for (const chunk of chunks) await queue.write(chunk);
          } else {
            chunks.forEach((chunk, i) => i % 2 ? queue.enqueue(chunk) : void queue.write(chunk));
            await queue.flush();
          }
          assert.deepEqual(joined(writes), joined(chunks));
          for (const write of writes) {
            assert.ok(write.byteLength > 0);
          }
          assert.equal(queue.pendingBytes, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("cuts batches at maxBatchBytes and passes big chunks through uncopied", async () => {
    const seen: Uint8Array[] = [];
    const queue = new WriteQueue(new WritableStream({ write: (chunk) => void seen.push(chunk) }), {
      maxBatchBytes: 10,
      copyLimit: 8,
    });
    const big = new Uint8Array(8).fill(9);
    await Promise.all([
      queue.write(new Uint8Array([1, 2, 3])),
      queue.write(new Uint8Array([4, 5, 6])),
      queue.write(big),
      queue.write(new Uint8Array([7])),
    ]);
    assert.deepEqual(seen.map((chunk) => [...chunk]), [[1, 2, 3, 4, 5, 6], [...big], [7]]);
    assert.equal(seen[1], big, "a chunk at the copy limit is written as is");
  });

  it("rejects pending and later writes once the stream fails", async () => {
    const boom = new Error("socket gone");
    const queue = new WriteQueue(new WritableStream({ write: () => Promise.reject(boom) }));
    const pending = [queue.write(new Uint8Array([1])), queue.write(new Uint8Array([2]))];
    for (const write of pending) await assert.rejects(write, (error) => error === boom);
    await assert.rejects(queue.write(new Uint8Array([3])), (error) => error === boom);
    await assert.rejects(queue.flush(), (error) => error === boom);
  });

  it("flushes before closing the stream", async () => {
    const { writable, writes } = recorder();
    const queue = new WriteQueue(writable);
    queue.enqueue(new Uint8Array([1, 2]));
    await queue.close();
    assert.deepEqual(joined(writes), [1, 2]);
    await assert.rejects(queue.write(new Uint8Array([3])));
    assert.deepEqual(joined(writes), [1, 2]);
  });
});
