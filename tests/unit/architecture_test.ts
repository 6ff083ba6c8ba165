/**
 * The house rules of ARCHITECTURE.md that a machine can check: `mod.ts` names every export, no
 * import circle among the core's model files (type imports included), files under 500 lines.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** The relative imports and re-exports of a file (type-only ones too), outside doc comments. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gm)) {
    const target = resolve(dirname(file), m[1]);
    if (existsSync(target)) out.push(target);
  }
  return out;
}

/** Every file reachable from `start` through relative imports. */
function reachable(start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const file = stack.pop()!;
    for (const next of importsOf(file)) {
      if (!seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
    }
  }
  return seen;
}

describe("house rules", () => {
  it("mod.ts names every export (no `export *`)", () => {
    const text = readFileSync(join(root, "mod.ts"), "utf8");
    assert.deepEqual(text.match(/^export \*.*$/gm) ?? [], []);
  });

  it("the core never reaches the Celery module", () => {
    const celery = join(root, "celery");
    const reached = [...reachable(join(root, "mod.ts"))].filter((f) => f.startsWith(celery));
    assert.deepEqual(reached, []);
  });

  it("producer, consumer and simple never reach connection.ts, even for types", () => {
    const connection = join(root, "src/connection.ts");
    for (const name of ["producer", "consumer", "simple"]) {
      const from = reachable(join(root, `src/${name}.ts`));
      assert.equal(from.has(connection), false, `src/${name}.ts reaches src/connection.ts`);
    }
  });

  it("no file in src/, transports/ or celery/ is over 500 lines", () => {
    const long = ["src", "transports", "celery"].flatMap((dir) => sources(join(root, dir)))
      .map((file) => relative(root, file).replaceAll("\\", "/"))
      .filter((file) => readFileSync(join(root, file), "utf8").split("\n").length - 1 > 500);
    assert.deepEqual(long, []);
  });

  it("the Redis backend reads as a store (under 350 lines; links, fanout, lease apart)", () => {
    const lines = readFileSync(join(root, "transports/redis/backend.ts"), "utf8").split("\n");
    assert.ok(lines.length - 1 < 350, `transports/redis/backend.ts has ${lines.length - 1} lines`);
  });
});
