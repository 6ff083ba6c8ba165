import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  cycleByName,
  FairCycle,
  PriorityCycle,
  RoundRobinCycle,
  SortedCycle,
} from "../../../src/utils/fair_cycle.ts";

describe("FairCycle", () => {
  it("gives each resource a turn and skips empty ones", async () => {
    const queues: Record<string, string[]> = { a: ["a1", "a2", "a3"], b: [], c: ["c1"] };
    const cycle = new FairCycle((q: string) => queues[q]!.shift(), ["a", "b", "c"]);
    const got: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) got.push(await cycle.get());
    assert.deepEqual(got, ["a1", "c1", "a2", "a3", undefined]);
  });

  it("reports the resource that answered", async () => {
    const cycle = new FairCycle((q: number) => Promise.resolve(q === 2 ? "x" : undefined), [
      1,
      2,
      3,
    ]);
    assert.deepEqual(await cycle.getWithResource(), { value: "x", resource: 2 });
    assert.equal(cycle.position, 2);
  });

  it("answers undefined without resources and follows changes to them", async () => {
    const cycle = new FairCycle((q: string) => q.toUpperCase(), []);
    assert.equal(await cycle.get(), undefined);
    cycle.resources = ["x"];
    assert.equal(await cycle.get(), "X");
  });

  it("lets reader errors through", async () => {
    const cycle = new FairCycle(() => {
      throw new Error("boom");
    }, ["a"]);
    await assert.rejects(cycle.get(), /boom/);
  });
});

describe("cycles", () => {
  it("round robin moves the last used to the end", () => {
    const cycle = new RoundRobinCycle(["a", "b", "c"]);
    assert.equal(cycle.rotate("b"), "b");
    assert.deepEqual(cycle.consume(3), ["a", "c", "b"]);
    cycle.rotate("zzz");
    assert.deepEqual(cycle.consume(2), ["a", "c"]);
    cycle.update(["x", "y"]);
    assert.deepEqual(cycle.consume(), ["x", "y"]);
  });

  it("priority keeps the order", () => {
    const cycle = new PriorityCycle(["hi", "lo"]);
    cycle.rotate("hi");
    assert.deepEqual(cycle.consume(2), ["hi", "lo"]);
  });

  it("sorted consumes in sorted order", () => {
    const cycle = new SortedCycle(["c", "a", "b"]);
    assert.deepEqual(cycle.consume(3), ["a", "b", "c"]);
    assert.deepEqual(cycle.consume(2), ["a", "c"]);
  });

  it("cycleByName knows Kombu's names", () => {
    assert.ok(cycleByName("round_robin") instanceof RoundRobinCycle);
    assert.ok(cycleByName("priority") instanceof PriorityCycle);
    assert.ok(cycleByName("sorted", [2, 1]) instanceof SortedCycle);
    assert.deepEqual(cycleByName("sorted", [2, 1]).consume(), [1, 2]);
    assert.throws(() => cycleByName("random"), RangeError);
  });
});
