import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigurationError } from "../../../src/errors.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import { readSqlSettings, readSqlTarget } from "../../../transports/sql/options.ts";
import { numberPlaceholders } from "../../../transports/sql/driver.ts";

function params(url: string, transportOptions: Record<string, unknown> = {}): ConnectionParams {
  return {
    transport: "sqla",
    hostname: "localhost",
    port: undefined,
    userid: undefined,
    password: undefined,
    virtualHost: "",
    url,
    ssl: false,
    heartbeat: 0,
    connectTimeout: 4000,
    transportOptions,
    signal: new AbortController().signal,
  };
}

describe("SQL transport options", () => {
  it("reads Kombu's URL forms", () => {
    const pg = readSqlTarget(params("sqla+postgresql://bob:s%40cret@db.example:6543/app"));
    assert.deepEqual(
      [pg.dialect, pg.hostname, pg.port, pg.user, pg.password, pg.database],
      ["postgresql", "db.example", 6543, "bob", "s@cret", "app"],
    );
    assert.equal(readSqlTarget(params("sqla+postgresql+psycopg2://h/x")).dialect, "postgresql");
    assert.equal(readSqlTarget(params("sqlalchemy+postgres://h/x")).dialect, "postgresql");
    const my = readSqlTarget(params("sqla+mysql+pymysql://root@127.0.0.1/test"));
    assert.deepEqual([my.dialect, my.user, my.password, my.database], [
      "mysql",
      "root",
      undefined,
      "test",
    ]);
  });

  it("reads SQLAlchemy's SQLite paths (relative, absolute, in memory)", () => {
    assert.equal(readSqlTarget(params("sqla+sqlite:///broker.db")).database, "broker.db");
    assert.equal(readSqlTarget(params("sqla+sqlite:////tmp/b.db")).database, "/tmp/b.db");
    assert.equal(readSqlTarget(params("sqla+sqlite://")).database, ":memory:");
  });

  it("refuses a URL naming no supported database", () => {
    assert.throws(() => readSqlTarget(params("sqla+oracle://h/x")), ConfigurationError);
  });

  it("takes Kombu's snake_case names in seconds and camelCase in ms", () => {
    const kombu = readSqlSettings({
      queue_tablename: "q1",
      message_tablename: "m1",
      polling_interval: 0.5,
      visibility_timeout: 30,
    });
    assert.deepEqual(
      [kombu.queueTable, kombu.messageTable, kombu.leaseTable],
      ["q1", "m1", "m1_wakame_lease"],
    );
    assert.equal(kombu.pollingInterval, 500);
    assert.equal(kombu.visibilityTimeout, 30_000);
    const ours = readSqlSettings({ pollingInterval: 20, visibilityTimeout: 5000, listen: false });
    assert.deepEqual(
      [ours.queueTable, ours.messageTable, ours.pollingInterval, ours.visibilityTimeout],
      ["kombu_queue", "kombu_message", 20, 5000],
    );
    assert.equal(ours.listen, false);
  });

  it("refuses table names Kombu's unquoted SQL cannot hold, and bad durations", () => {
    assert.throws(() => readSqlSettings({ queue_tablename: "Queue" }), ConfigurationError);
    assert.throws(
      () => readSqlSettings({ message_tablename: "m; DROP TABLE x" }),
      ConfigurationError,
    );
    assert.throws(() => readSqlSettings({ polling_interval: "soon" }), ConfigurationError);
    assert.throws(() => readSqlSettings({ visibilityTimeout: 10 }), ConfigurationError);
  });

  it("numbers placeholders for PostgreSQL", () => {
    assert.equal(numberPlaceholders("a = ? AND b IN (?, ?)"), "a = $1 AND b IN ($2, $3)");
  });
});
