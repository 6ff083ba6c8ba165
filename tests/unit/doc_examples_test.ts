/**
 * Doc examples must be able to fail: `deno test --doc` counts an example that does not throw as
 * passed, and `console.assert` only prints. Examples check with `node:assert/strict` instead.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

it("doc examples assert with throwing assertions, not console.assert", () => {
  const offenders: string[] = [];
  for (
    const file of [
      join(root, "mod.ts"),
      ...sources(join(root, "src")),
      ...sources(join(root, "transports")),
      ...sources(join(root, "celery")),
    ]
  ) {
    const name = relative(root, file).replaceAll("\\", "/");
    readFileSync(file, "utf8").split("\n").forEach((line, i) => {
      if (/^\s*\*.*\bconsole\.assert\(/.test(line)) {
        offenders.push(`${name}:${i + 1}`);
      }
    });
  }
  assert.deepEqual(offenders, [], "use assert from node:assert/strict in @example blocks");
});
