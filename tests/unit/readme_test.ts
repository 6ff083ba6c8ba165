import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { capabilitiesTable } from "../../tools/capabilities_table.ts";

test("README's transport table is the one generated from the Capabilities objects", async () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const between = /<!-- capabilities:start -->\n([\s\S]*?)\n<!-- capabilities:end -->/.exec(readme);
  assert.ok(between, "README has the capabilities markers");
  assert.equal(between[1], await capabilitiesTable());
});
