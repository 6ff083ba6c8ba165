import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigurationError } from "../../../src/errors.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import { readSqlSettings, readSqlTarget, withSqlQuery } from "../../../transports/sql/options.ts";
import { numberPlaceholders } from "../../../transports/sql/driver.ts";

function params(url: string, transportOptions: Record<string, unknown> = {}): ConnectionParams {
  return withSqlQuery({
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
  });
}

const settings = (options: Record<string, unknown>, url = "sqla+sqlite://") =>
  readSqlSettings(params(url, options));

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
    const kombu = settings({
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
    const ours = settings({ pollingInterval: 20, visibilityTimeout: 5000, listen: false });
    assert.deepEqual(
      [ours.queueTable, ours.messageTable, ours.pollingInterval, ours.visibilityTimeout],
      ["kombu_queue", "kombu_message", 20, 5000],
    );
    assert.equal(ours.listen, false);
  });

  it("refuses table names Kombu's unquoted SQL cannot hold, and bad durations", () => {
    assert.throws(() => settings({ queue_tablename: "Queue" }), ConfigurationError);
    assert.throws(
      () => settings({ message_tablename: "m; DROP TABLE x" }),
      ConfigurationError,
    );
    assert.throws(() => settings({ polling_interval: "soon" }), ConfigurationError);
    assert.throws(() => settings({ visibilityTimeout: 10 }), ConfigurationError);
  });

  it("reads the URL's query in Kombu's names and units, and connect_timeout in seconds", () => {
    const p = params(
      "sqla+postgresql://u@h/db?polling_interval=0.25&pool_size=9&connect_timeout=7",
    );
    assert.equal(readSqlSettings(p).pollingInterval, 250);
    const target = readSqlTarget(p);
    assert.deepEqual([target.database, target.poolSize, target.connectTimeout], ["db", 9, 7000]);
    assert.throws(
      () => readSqlSettings(params("sqla+postgresql://u@h/db?pollingInterval=1")),
      /URL options take Kombu's names and units \("polling_interval"\)/,
    );
    assert.throws(
      () => readSqlSettings(params("sqla+sqlite:///x.db?sslmode=require")),
      /"sslmode" \(in the URL\): there is no such option/,
    );
    // transportOptions win over the URL.
    assert.equal(
      readSqlSettings(params("sqla+sqlite://?polling_interval=3", { pollingInterval: 40 }))
        .pollingInterval,
      40,
    );
  });

  it("refuses an unknown option naming the closest one", () => {
    assert.throws(
      () => settings({ message_table_name: "m" }),
      /"message_table_name": there is no such option; did you mean "message_tablename"\?/,
    );
    assert.throws(
      () => settings({ queueTableName: "q" }),
      /did you mean "queueTablename"\?/,
    );
  });

  it("maps SQLAlchemy's engine options where wakame has one, and ignores the rest", () => {
    const p = params("sqla+postgresql://u@h/db", {
      pool_size: 12,
      max_overflow: 20,
      pool_recycle: 3600,
      pool_pre_ping: true,
      echo: "debug",
      connect_args: { connect_timeout: 3, application_name: "celery" },
    });
    const target = readSqlTarget(p);
    assert.equal(target.poolSize, 12);
    assert.equal(target.connectTimeout, 3000);
    assert.equal(readSqlSettings(p).queueTable, "kombu_queue");
    // SQLite's busy timeout: sqlite3's `timeout`.
    assert.equal(
      readSqlTarget(params("sqla+sqlite://", { connect_args: { timeout: 20 } }))
        .connectTimeout,
      20_000,
    );
    assert.throws(
      () =>
        readSqlTarget(params("sqla+postgresql://u@h/db", { connect_args: { sslmode: "require" } })),
      /"sslmode": wakame's SQL drivers open no TLS connection/,
    );
    assert.throws(
      () => readSqlTarget(params("sqla+mysql://u@h/db", { pool_size: 0 })),
      /pool_size/,
    );
  });

  it("numbers placeholders for PostgreSQL", () => {
    assert.equal(numberPlaceholders("a = ? AND b IN (?, ?)"), "a = $1 AND b IN ($2, $3)");
  });
});
