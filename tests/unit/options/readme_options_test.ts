/**
 * The README's option tables and the transports' module docs follow the declarations: a test
 * fails when an option is declared and not documented, or documented and not declared.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { kombuName } from "../../../src/options/declare.ts";
import {
  optionSections,
  optionsTables,
  shownOptions,
  withOptionsTables,
} from "../../../tools/options_table.ts";

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8");

/** The module doc of each section's transport (the URL options live in the params module). */
const DOCS: Record<string, string> = {
  "URL (every transport)": "src/connection/params.ts",
  "virtual transports (memory, filesystem, redis, sqs, azurestoragequeues, sqla, etcd, zookeeper, pyro)":
    "src/virtual/transport.ts",
  filesystem: "transports/filesystem/mod.ts",
  redis: "transports/redis/mod.ts",
  sqs: "transports/sqs/mod.ts",
  azurestoragequeues: "transports/azure_storage_queues/mod.ts",
  sqla: "transports/sql/mod.ts",
  etcd: "transports/etcd/mod.ts",
  zookeeper: "transports/zookeeper/mod.ts",
  amqp: "transports/amqp/mod.ts",
  amqplib: "transports/amqplib/mod.ts",
  pyro: "transports/pyro/mod.ts",
};

describe("option documentation", () => {
  it("README holds the tables generated from the declarations", async () => {
    const readme = read("README.md");
    const between = /<!-- options:start -->\n([\s\S]*?)\n<!-- options:end -->/.exec(readme);
    assert.ok(between, "README has the options markers");
    assert.equal(between[1], await optionsTables());
    assert.equal(await withOptionsTables(readme), readme);
  });

  it("every module doc names each option its transport declares", async () => {
    const missing: string[] = [];
    for (const section of await optionSections()) {
      const file = DOCS[section.title];
      assert.ok(file, `a module doc for "${section.title}"`);
      const doc = /\/\*\*([\s\S]*?)@module/.exec(read(file))?.[1] ?? "";
      for (const [name, spec] of shownOptions(section)) {
        if (spec.ignored) continue;
        const spelled = section.title.startsWith("URL") ? kombuName(name, spec) : name;
        if (!doc.includes(`\`${spelled}\``)) missing.push(`${file}: \`${spelled}\``);
      }
    }
    assert.deepEqual(missing, []);
  });
});
