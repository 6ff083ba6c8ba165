import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GroupCommit } from "../../../transports/sql/group_commit.ts";

describe("GroupCommit", () => {
  it("writes a lone item at once, and items that meet a running write together, in order", async () => {
    const flushed: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const group = new GroupCommit<number>(async (items) => {
      flushed.push([...items]);
      if (flushed.length === 1) await gate;
    }, 3);
    const first = group.add(0);
    await Promise.resolve();
    await Promise.resolve();
    assert.deepEqual(flushed, [[0]], "a lone item does not wait for company");
    const rest = [1, 2, 3, 4, 5].map((n) => group.add(n));
    release();
    await Promise.all([first, ...rest]);
    assert.deepEqual(flushed, [[0], [1, 2, 3], [4, 5]], "batches keep order and their size limit");
  });

  it("fails every item of a failed batch, and goes on with the next", async () => {
    let calls = 0;
    const group = new GroupCommit<string>((items) => {
      calls++;
      return items.includes("bad") ? Promise.reject(new Error("no")) : Promise.resolve();
    }, 10);
    await group.add("ok");
    const [b, c] = [group.add("bad"), group.add("with-bad")];
    await assert.rejects(b, /no/);
    await assert.rejects(c, /no/);
    await group.add("after");
    assert.equal(calls, 3);
  });
});
