/**
 * Faults of the SQL transport on every database: a consumer killed (SIGKILL) while it holds
 * messages loses none (they come back once, marked redelivered, after the visibility timeout),
 * and a row whose payload is not an envelope is rejected with a logged reason while the
 * consumer goes on.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection, Queue } from "../../../mod.ts";
import "../../../transports/sql/mod.ts";
import { envSkip } from "../../_support/skips.ts";
import { mysqlTarget, postgresTarget, sqliteTarget, type SqlTestTarget } from "./_helpers.ts";

const deno = fileURLToPath(new URL("../../../node_modules/.bin/deno", import.meta.url));
const holder = fileURLToPath(new URL("./_holder.ts", import.meta.url));

const targets: [string, SqlTestTarget][] = [
  ["PostgreSQL", await postgresTarget()],
  ["MariaDB", await mysqlTarget()],
  ["SQLite", await sqliteTarget()],
];

/** Starts a consumer process that holds `count` messages; resolves once it holds them. */
function startHolder(url: string, options: object, queue: string, count: number) {
  const child = spawn(
    deno,
    ["run", "-A", holder, url, JSON.stringify(options), queue, `${count}`],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const holding = new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes(`held ${count}`)) resolve();
    });
    child.on("exit", (code) => reject(new Error(`the holder exited (${code}): ${out}`)));
  });
  return { child, holding };
}

for (const [name, target] of targets) {
  const skip = envSkip(import.meta.url, target.skip);
  const options = { ...target.tables, pollingInterval: 50, visibilityTimeout: 1000 };
  const connect = (extra: Record<string, unknown> = {}) =>
    new Connection(target.url, { transportOptions: { ...options, ...extra } });

  describe(`SQL transport faults (${name})`, () => {
    after(() => {
      if (skip.reason) return;
      return target.drop();
    });

    it("redelivers once what a SIGKILLed consumer held", skip.options(), async () => {
      await using conn = connect();
      await using simple = conn.simpleQueue(new Queue("killed"));
      for (let n = 0; n < 3; n++) await simple.put({ n });
      // The holder leases all three; this connection's own consumer starts only afterwards.
      const { child, holding } = startHolder(target.url, options, "killed", 3);
      try {
        await holding;
      } finally {
        child.kill("SIGKILL");
      }
      const got = [];
      for (let i = 0; i < 3; i++) {
        const message = await simple.get({ timeout: 10_000 });
        got.push({
          n: (message.payload as { n: number }).n,
          redelivered: message.deliveryInfo.redelivered,
        });
        await message.ack();
      }
      got.sort((a, b) => a.n - b.n);
      assert.deepEqual(got, [0, 1, 2].map((n) => ({ n, redelivered: true })));
      // Once: nothing else comes back, and the acknowledged rows are gone.
      assert.equal(await simple.qsize(), 0);
      await assert.rejects(simple.getNowait());
    });

    it("rejects a corrupt row with a logged reason and goes on", skip.options(), async () => {
      const warnings: string[] = [];
      await using conn = connect({ onWarning: (message: string) => warnings.push(message) });
      await using simple = conn.simpleQueue(new Queue("corrupt"));
      await (await conn.channel()).queueDeclare({ name: "corrupt" });
      const raw = await target.raw();
      const { queue_tablename: q, message_tablename: m } = target.tables;
      try {
        const [{ id }] = await raw.query(`SELECT id FROM ${q} WHERE name = ?`, ["corrupt"]);
        const columns = "visible, timestamp, payload, version, queue_id";
        const insert = target.dialect === "postgresql"
          ? `INSERT INTO ${m} (id, ${columns}) VALUES (nextval('message_id_sequence'), ` +
            "TRUE, NULL, ?, 1, ?)"
          : target.dialect === "mysql"
          ? `INSERT INTO ${m} (id, ${columns}) VALUES (nextval(message_id_sequence), ` +
            "TRUE, NULL, ?, 1, ?)"
          : `INSERT INTO ${m} (${columns}) VALUES (TRUE, NULL, ?, 1, ?)`;
        await raw.query(insert, ["{ not an envelope", Number(id)]);
        await simple.put("good");
        const message = await simple.get({ timeout: 5000 });
        assert.equal(message.payload, "good");
        await message.ack();
        assert.ok(
          warnings.some((w) => /Cannot decode message \d+ of queue "corrupt"/.test(w)),
          `expected a warning naming the row, got ${JSON.stringify(warnings)}`,
        );
        // The corrupt row stays in the table, hidden and without a lease, for a person to read.
        const rows = await raw.query(
          `SELECT visible, payload FROM ${m} WHERE queue_id = ? ORDER BY id`,
          [Number(id)],
        );
        assert.deepEqual(
          rows.map((r) => [Boolean(Number(r.visible)), r.payload]),
          [[false, "{ not an envelope"]],
        );
        const leases = await raw.query(`SELECT COUNT(*) AS n FROM ${m}_wakame_lease`);
        assert.equal(Number(leases[0].n), 0);
      } finally {
        await raw.close();
      }
    });
  });
}
