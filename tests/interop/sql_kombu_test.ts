import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection, Exchange, Queue } from "../../mod.ts";
import "../../transports/sql/mod.ts";
import { kombuSkipReason, runPython } from "../_support/python.ts";
import { envSkip } from "../_support/skips.ts";
import {
  mysqlTarget,
  postgresTarget,
  sqliteTarget,
  type SqlTestTarget,
} from "../unit/sql/_helpers.ts";

const peer = fileURLToPath(new URL("./python/sql_peer.py", import.meta.url));
const python = kombuSkipReason(["sqlalchemy", "psycopg2", "pymysql"]);

const targets: [string, SqlTestTarget][] = [
  ["PostgreSQL", await postgresTarget()],
  ["MariaDB", await mysqlTarget()],
  ["SQLite", await sqliteTarget()],
];

for (const [name, target] of targets) {
  const skip = envSkip(import.meta.url, python || target.skip);
  const tables = JSON.stringify(target.tables);
  const connect = () =>
    new Connection(target.url, {
      transportOptions: { ...target.tables, pollingInterval: 50, visibilityTimeout: 2000 },
    });
  const queueOf = (queueName: string) =>
    new Queue(queueName, { exchange: new Exchange(queueName), routingKey: queueName });

  /** Rows of a queue in Kombu's message table, visible or not. */
  const rows = async (queueName: string) => {
    const raw = await target.raw();
    try {
      const { queue_tablename: q, message_tablename: m } = target.tables;
      return await raw.query(
        `SELECT ${m}.visible AS visible, ${m}.payload AS payload FROM ${m} JOIN ${q} ON ` +
          `${q}.id = ${m}.queue_id WHERE ${q}.name = ? ORDER BY ${m}.id`,
        [queueName],
      );
    } finally {
      await raw.close();
    }
  };

  describe(`SQL interop with Python Kombu (${name})`, () => {
    before(async () => {
      if (skip.reason) return;
      // wakame creates the tables: Kombu's create_all cannot add a second pair of tables to a
      // PostgreSQL schema (its index name ix_kombu_message_timestamp_id is fixed).
      await using conn = connect();
      await (await conn.channel()).queueDeclare({ name: "schema" });
    });
    after(() => {
      if (skip.reason) return;
      return target.drop();
    });

    it("consumes what Python Kombu published (plain and zlib)", skip.options(), async () => {
      await runPython(peer, ["publish", target.url, tables, "from-python", "2"]);
      await using conn = connect();
      await using simple = conn.simpleQueue(queueOf("from-python"));
      const got = [];
      for (let i = 0; i < 2; i++) {
        const message = await simple.get({ timeout: 5000 });
        got.push(message);
        await message.ack();
      }
      assert.deepEqual(got.map((m) => m.payload), [{ from: "kombu", n: 0 }, {
        from: "kombu",
        n: 1,
      }]);
      assert.equal(got[0].headers["x-peer"], "python");
      assert.equal(got[1].headers.compression, "application/x-gzip");
      assert.equal(got[0].correlationId, "py-0");
      assert.equal(got[0].replyTo, "replies");
      // Acknowledged rows are deleted (Kombu would leave them hidden).
      assert.deepEqual(await rows("from-python"), []);
    });

    it("publishes what Python Kombu consumes", skip.options(), async () => {
      await using conn = connect();
      const producer = conn.producer();
      const queue = queueOf("to-python");
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
      const out = await runPython(peer, ["consume", target.url, tables, "to-python", "2"]);
      const got = out.trim().split("\n").map((line) => JSON.parse(line));
      assert.deepEqual(got.map((m) => m.body), [{ from: "wakame", text: "héllo ✓" }, {
        from: "wakame",
        zipped: true,
      }]);
      assert.equal(got[0].headers["x-peer"], "wakame");
      assert.equal(got[0].correlation_id, "wk-1");
      assert.equal(got[0].reply_to, "answers");
      assert.equal(got[0].content_type, "application/json");
      // Kombu hid the rows it took (and never deletes them).
      assert.deepEqual((await rows("to-python")).map((r) => Boolean(Number(r.visible))), [
        false,
        false,
      ]);
    });

    it("leaves alone a row Python Kombu took and never acked", skip.options(), async () => {
      await using conn = connect();
      await using simple = conn.simpleQueue(queueOf("kombu-took"));
      await simple.put({ n: 1 });
      const out = await runPython(peer, ["take", target.url, tables, "kombu-took"]);
      assert.deepEqual(JSON.parse(out).body, { n: 1 });
      // No lease of wakame's: its sweep (every 500 ms here) never brings the row back.
      await assert.rejects(simple.get({ timeout: 1500 }));
      assert.equal((await rows("kombu-took")).length, 1);
    });

    it(
      "hands a message wakame requeued to Python Kombu, marked redelivered",
      skip.options(),
      async () => {
        {
          await using conn = connect();
          await using simple = conn.simpleQueue(queueOf("requeued"));
          await simple.put({ n: 7 });
          const message = await simple.get({ timeout: 5000 });
          await message.reject({ requeue: true });
        }
        const out = await runPython(peer, ["consume", target.url, tables, "requeued", "1"]);
        const [got] = out.trim().split("\n").map((line) => JSON.parse(line));
        assert.deepEqual(got.body, { n: 7 });
        assert.equal(got.redelivered, true);
      },
    );
  });
}
