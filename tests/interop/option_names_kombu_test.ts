/**
 * Every transport option Kombu 5.2's transports read is declared here (used, or accepted and
 * ignored), so a Celery `broker_transport_options` dictionary written for Kombu never fails on a
 * name wakame does not know. The names come from Python Kombu itself.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { kombuName, type OptionsDeclaration } from "../../src/options/declare.ts";
import { VIRTUAL_DECLARATION } from "../../src/virtual/options.ts";
import { FILESYSTEM_OPTIONS } from "../../transports/filesystem/options.ts";
import { REDIS_OPTIONS } from "../../transports/redis/options.ts";
import { SQS_OPTIONS } from "../../transports/sqs/options.ts";
import { AZURE_OPTIONS } from "../../transports/azure_storage_queues/options.ts";
import { SQL_ENGINE_OPTIONS, SQL_OPTIONS } from "../../transports/sql/options.ts";
import { ETCD_OPTIONS } from "../../transports/etcd/options.ts";
import { ZOOKEEPER_OPTIONS } from "../../transports/zookeeper/options.ts";
import { kombuSkipReason, runPython } from "../_support/python.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(import.meta.url, kombuSkipReason(["sqlalchemy", "psycopg2"]));
const script = fileURLToPath(new URL("./python/transport_option_names.py", import.meta.url));
const engineScript = fileURLToPath(new URL("./python/sqla_engine_options.py", import.meta.url));

/** Kombu options refused on purpose, with the reason (an error beats a silent wrong setup). */
const REFUSED: Record<string, string> = {
  sts_role_arn: "no STS role assumption here: give `credentials` (a provider) instead",
  sts_token_timeout: "goes with sts_role_arn",
};

function declaredNames(declaration: OptionsDeclaration): Set<string> {
  const names = new Set<string>();
  for (const [name, spec] of Object.entries(declaration.options)) {
    names.add(kombuName(name, spec));
    for (const alias of spec.aliases ?? []) names.add(alias);
  }
  return names;
}

describe("Kombu 5.2's transport option names", () => {
  it("are all declared by the matching transport", skip.options(), async () => {
    const kombu = JSON.parse(await runPython(script, [])) as Record<string, string[]>;
    const declarations: Record<string, OptionsDeclaration> = {
      virtual: VIRTUAL_DECLARATION,
      redis: REDIS_OPTIONS,
      sqs: SQS_OPTIONS,
      azurestoragequeues: AZURE_OPTIONS,
      filesystem: FILESYSTEM_OPTIONS,
      sqla: SQL_OPTIONS,
      etcd: ETCD_OPTIONS,
      zookeeper: ZOOKEEPER_OPTIONS,
    };
    const missing: string[] = [];
    for (const [transport, names] of Object.entries(kombu)) {
      const declared = declaredNames(declarations[transport]);
      for (const name of names) {
        if (!declared.has(name) && !(name in REFUSED)) missing.push(`${transport}: ${name}`);
      }
    }
    assert.deepEqual(missing, []);
    assert.ok(kombu.redis.includes("visibility_timeout"), "the script found Kombu's names");
    assert.ok(kombu.sqla.includes("message_tablename"), "the script found the sqla names");
    assert.ok(kombu.zookeeper.includes("polling_interval"), "etcd and zookeeper are asked too");
  });

  it(
    "sqla: the engine options wakame maps or ignores are SQLAlchemy's",
    skip.options(),
    async () => {
      // Kombu passes them to create_engine: each must be a name SQLAlchemy takes.
      const engine = {
        poolSize: SQL_OPTIONS.options.poolSize,
        connectArgs: SQL_OPTIONS.options.connectArgs,
        ...SQL_ENGINE_OPTIONS,
      };
      const names = Object.entries(engine).map(([name, spec]) => kombuName(name, spec));
      const refused = JSON.parse(
        await runPython(engineScript, [...names, "no_such_engine_option"]),
      );
      assert.deepEqual(refused, ["no_such_engine_option"]);
    },
  );
});
