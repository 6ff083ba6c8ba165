/**
 * A Celery configuration copied as it is: `broker_transport_options` (Kombu's names, seconds)
 * and a broker URL with query options (Kombu's names and units) give the settings Kombu would
 * use, on every transport.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../mod.ts";
import { resolveParams } from "../../../src/connection/params.ts";
import { ConfigurationError } from "../../../src/errors.ts";
import { readOptions } from "../../../src/options/declare.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import { MEMORY_OPTIONS } from "../../../transports/memory/options.ts";
import { FILESYSTEM_OPTIONS, filesystemOptions } from "../../../transports/filesystem/options.ts";
import { readSettings } from "../../../transports/redis/options.ts";
import { readSqsSettings } from "../../../transports/sqs/options.ts";
import { readAzureSettings } from "../../../transports/azure_storage_queues/options.ts";
import { amqpOptions } from "../../../transports/amqp/mod.ts";
import { ETCD_OPTIONS, readEtcdSettings } from "../../../transports/etcd/options.ts";
import { readZooKeeperSettings, ZOOKEEPER_OPTIONS } from "../../../transports/zookeeper/options.ts";
import { AMQPLIB_OPTIONS } from "../../../transports/amqp/options.ts";
import { readSqlSettings, readSqlTarget, withSqlQuery } from "../../../transports/sql/options.ts";
import { SqlTransport } from "../../../transports/sql/mod.ts";
import "../../../transports/memory/mod.ts";
import "../../../transports/filesystem/mod.ts";
import "../../../transports/redis/mod.ts";
import "../../../transports/sqs/mod.ts";
import "../../../transports/azure_storage_queues/mod.ts";
import "../../../transports/amqplib/mod.ts";
import "../../../transports/etcd/mod.ts";
import "../../../transports/zookeeper/mod.ts";

/** What every Celery configuration may carry, whatever the broker (Kombu's connect retry). */
const CELERY_RETRY = { max_retries: 3, interval_start: 0, interval_step: 0.2, interval_max: 1 };

async function params(
  url: string,
  brokerTransportOptions: Record<string, unknown>,
): Promise<ConnectionParams> {
  const resolved = await resolveParams(
    url,
    { transportOptions: brokerTransportOptions },
    new AbortController().signal,
  );
  return resolved.params;
}

describe("a Celery configuration copied as it is", () => {
  it("memory", async () => {
    const p = await params("memory://?topic_rules=kombu", {
      polling_interval: 0.5,
      queue_order_strategy: "priority",
      ...CELERY_RETRY,
    });
    const o = readOptions(MEMORY_OPTIONS, p);
    assert.equal(o.pollingInterval, 500);
    assert.equal(o.queueOrderStrategy, "priority");
    assert.equal(o.topicRules, "kombu");
    // The transport reads the same declaration when it connects: a typo fails there.
    const typo = new Connection("memory://", { transportOptions: { polling_intervall: 1 } });
    await assert.rejects(
      typo.connect(),
      (error: Error) =>
        error instanceof ConfigurationError &&
        /"polling_intervall": there is no such option; did you mean "polling_interval"\?/.test(
          error.message,
        ),
    );
    await typo.close();
  });

  it("filesystem", async () => {
    const p = await params("filesystem://?control_folder=/var/kombu/control", {
      data_folder_in: "/var/kombu/in",
      data_folder_out: "/var/kombu/out",
      processed_folder: "/var/kombu/done",
      store_processed: true,
      polling_interval: 0.2,
    });
    assert.deepEqual(filesystemOptions(p.transportOptions, p.queryOptions), {
      dataFolderIn: "/var/kombu/in",
      dataFolderOut: "/var/kombu/out",
      processedFolder: "/var/kombu/done",
      storeProcessed: true,
      controlFolder: "/var/kombu/control",
    });
    assert.equal(readOptions(FILESYSTEM_OPTIONS, p).pollingInterval, 200);
  });

  it("redis", async () => {
    const p = await params("redis://localhost:6379/0?ack_emulation=yes&unacked_restore_limit=50", {
      visibility_timeout: 43200,
      fanout_prefix: true,
      fanout_patterns: true,
      global_keyprefix: "celery:",
      priority_steps: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      sep: ":",
      queue_order_strategy: "sorted",
      socket_timeout: 5,
      socket_connect_timeout: 2.5,
      health_check_interval: 30,
      unacked_mutex_expire: 600,
      // Kombu's redis-py settings: accepted and ignored.
      max_connections: 20,
      socket_keepalive: true,
      retry_on_timeout: true,
      ...CELERY_RETRY,
    });
    const s = readSettings(p.transportOptions, p.queryOptions);
    assert.equal(s.visibilityTimeout, 43_200_000);
    assert.equal(s.fanoutPrefix, true);
    assert.equal(s.fanoutPatterns, true);
    assert.equal(s.globalKeyprefix, "celery:");
    assert.deepEqual(s.prioritySteps, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(s.sep, ":");
    assert.equal(s.queueOrderStrategy, "sorted");
    assert.equal(s.socketTimeout, 5000);
    assert.equal(s.socketConnectTimeout, 2500);
    assert.equal(s.healthCheckInterval, 30_000);
    assert.equal(s.unackedMutexExpire, 600_000);
    assert.equal(s.ackEmulation, true);
    assert.equal(s.unackedRestoreLimit, 50);
    // The URL alone, as Kombu means it: seconds, not milliseconds.
    const url = await params("redis://localhost/0?visibility_timeout=3600", {});
    assert.equal(readSettings(url.transportOptions, url.queryOptions).visibilityTimeout, 3_600_000);
  });

  it("sqs", async () => {
    const p = await params("sqs://AKIDEXAMPLE:secret@localhost:4566?is_secure=false", {
      region: "eu-west-1",
      visibility_timeout: 3600,
      polling_interval: 0.3,
      wait_time_seconds: 5,
      queue_name_prefix: "celery-",
      sqs_base64_encoding: false,
      predefined_queues: {
        celery: {
          url: "https://sqs.eu-west-1.amazonaws.com/123456789012/celery",
          access_key_id: "AKIDQUEUE",
          secret_access_key: "queue-secret",
          backoff_policy: { 1: 10, 2: 20 },
          backoff_tasks: ["tasks.add"],
        },
      },
      "sqs-creation-attributes": { KmsMasterKeyId: "alias/aws/sqs", DelaySeconds: 0 },
      "client-config": { connect_timeout: 5 },
      ...CELERY_RETRY,
    });
    const s = readSqsSettings(p);
    assert.equal(s.region, "eu-west-1");
    assert.equal(s.endpoint, "http://localhost:4566");
    assert.equal(s.visibilityTimeoutSeconds, 3600);
    assert.equal(s.pollingInterval, 300);
    assert.equal(s.waitTimeSeconds, 5);
    assert.equal(s.queueNamePrefix, "celery-");
    assert.equal(s.base64, false);
    assert.deepEqual(s.predefinedQueues, {
      celery: {
        url: "https://sqs.eu-west-1.amazonaws.com/123456789012/celery",
        accessKeyId: "AKIDQUEUE",
        secretAccessKey: "queue-secret",
      },
    });
    assert.deepEqual(s.creationAttributes, { KmsMasterKeyId: "alias/aws/sqs", DelaySeconds: "0" });
    assert.deepEqual(s.credentials, { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" });
  });

  it("azure_storage_queues", async () => {
    const p = await params(
      "azurestoragequeues://DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5",
      { queue_name_prefix: "celery-", polling_interval: 2, visibility_timeout: 120 },
    );
    const s = readAzureSettings(p);
    assert.equal(s.queueNamePrefix, "celery-");
    assert.equal(s.pollingInterval, 2000);
    assert.equal(s.visibilityTimeoutSeconds, 120);
    assert.equal(s.accountName, "acct");
  });

  it("sqla", async () => {
    // Kombu hands the SQLAlchemy URL, query included, to create_engine; wakame reads the query
    // as its options (the transport's connect does it: withSqlQuery).
    const url = "sqla+postgresql+psycopg2://celery:pw@db.example:5433/broker?connect_timeout=8";
    const p = await params(url, {
      queue_tablename: "celery_queue",
      message_tablename: "celery_message",
      polling_interval: 0.5,
      visibility_timeout: 600,
      // SQLAlchemy's create_engine options, which Kombu passes on.
      pool_size: 10,
      max_overflow: 20,
      pool_recycle: 3600,
      pool_pre_ping: true,
      pool_timeout: 30,
      echo: false,
      isolation_level: "READ COMMITTED",
      connect_args: { application_name: "celery" },
      ...CELERY_RETRY,
    });
    const sql = withSqlQuery(p);
    const s = readSqlSettings(sql);
    assert.equal(s.queueTable, "celery_queue");
    assert.equal(s.messageTable, "celery_message");
    assert.equal(s.leaseTable, "celery_message_wakame_lease");
    assert.equal(s.pollingInterval, 500);
    assert.equal(s.visibilityTimeout, 600_000);
    const t = readSqlTarget(sql);
    assert.deepEqual(
      [t.dialect, t.hostname, t.port, t.user, t.database, t.poolSize, t.connectTimeout],
      ["postgresql", "db.example", 5433, "celery", "broker", 10, 8000],
    );
    // A typo fails when connecting, before any database is opened.
    const typo = new Connection("sqla+sqlite://", {
      transport: SqlTransport,
      transportOptions: { pool_sise: 5 },
    });
    await assert.rejects(
      typo.connect(),
      (error: Error) =>
        error instanceof ConfigurationError &&
        /"pool_sise": there is no such option; did you mean "pool_size"\?/.test(error.message),
    );
    await typo.close();
  });

  it("amqp", async () => {
    const p = await params(
      "amqp://guest:guest@localhost:5672//?login_method=AMQPLAIN&heartbeat=30&channel_max=100",
      {
        confirm_publish: true,
        frame_max: 65536,
        client_properties: { product: "celery" },
        connect_timeout: 2,
        // py-amqp's socket settings: accepted and ignored.
        read_timeout: 5,
        write_timeout: 5,
        ...CELERY_RETRY,
      },
    );
    assert.equal(p.heartbeat, 30);
    const o = amqpOptions(p);
    assert.equal(o.confirmPublish, true);
    assert.equal(o.frameMax, 65536);
    assert.equal(o.channelMax, 100);
    assert.equal(o.authMechanism, "AMQPLAIN");
    assert.deepEqual(o.clientProperties, { product: "celery" });
    assert.equal(o.connectTimeout, 2000);
    assert.equal(o.virtualHost, "/");
  });

  it("amqplib", async () => {
    const p = await params("amqplib://guest:guest@localhost:5672//?frame_max=8192", {
      confirm_publish: "true",
      ...CELERY_RETRY,
    });
    const o = readOptions(AMQPLIB_OPTIONS, p);
    assert.equal(o.confirmPublish, true);
    assert.equal(o.frameMax, 8192);
    // Options amqplib does not have are refused with the nearest it has, never dropped.
    const other = await params("amqplib://localhost//", { connection_name: "x" });
    assert.throws(() => readOptions(AMQPLIB_OPTIONS, other), /no such option/);
  });

  it("etcd", async () => {
    const p = await params("etcd://etcd.example:4001?visibility_timeout=120&polling_interval=0.5", {
      timeout: 2.5,
      prefix: "/celery/",
      queue_order_strategy: "sorted",
      ...CELERY_RETRY,
    });
    const s = readEtcdSettings(p);
    assert.equal(s.baseUrl, "http://etcd.example:4001");
    assert.equal(s.visibilityTimeout, 120_000);
    assert.equal(s.requestTimeout, 2500);
    assert.equal(s.prefix, "celery");
    const o = readOptions(ETCD_OPTIONS, p);
    assert.equal(o.pollingInterval, 500);
    assert.equal(o.queueOrderStrategy, "sorted");
    // camelCase is ms and wins over the URL; a camelCase key in the URL is refused.
    const camel = await params("etcd://localhost?visibility_timeout=120", {
      visibilityTimeout: 5000,
    });
    assert.equal(readEtcdSettings(camel).visibilityTimeout, 5000);
    const inUrl = await params("etcd://localhost?requestTimeout=5", {});
    assert.throws(() => readEtcdSettings(inUrl), /Kombu's names and units \("timeout"\)/);
    const typo = await params("etcd://localhost", { visiblity_timeout: 60 });
    assert.throws(
      () => readEtcdSettings(typo),
      /"visiblity_timeout": there is no such option; did you mean "visibility_timeout"\?/,
    );
  });

  it("zookeeper", async () => {
    const p = await params("zookeeper://zk1:2181/celery?session_timeout=30&sweep_interval=2", {
      connect_timeout: 4,
      ack_emulation: false,
      polling_interval: 0.25,
      ...CELERY_RETRY,
    });
    const s = readZooKeeperSettings(p);
    assert.deepEqual(s.hosts, [{ hostname: "zk1", port: 2181 }]);
    assert.equal(s.sessionTimeout, 30_000);
    assert.equal(s.sweepInterval, 2000);
    assert.equal(s.connectTimeout, 4000);
    assert.equal(s.ackEmulation, false);
    assert.equal(readOptions(ZOOKEEPER_OPTIONS, p).pollingInterval, 250);
    const zero = await params("zookeeper://zk1", { sessionTimeout: 0 });
    assert.throws(() => readZooKeeperSettings(zero), /"sessionTimeout" = 0: expected a duration/);
    const typo = await params("zookeeper://zk1?sesion_timeout=30", {});
    assert.throws(
      () => readZooKeeperSettings(typo),
      /"sesion_timeout" \(in the URL\): there is no such option; did you mean "session_timeout"\?/,
    );
  });

  it("zookeeper: several servers as Kombu gives them to kazoo", async () => {
    const urls = ["zookeeper://zk1:2181/celery", "zookeeper://zk2", "zookeeper://zk3:2182"];
    const resolved = await resolveParams(urls[1], {}, new AbortController().signal, urls);
    assert.deepEqual(readZooKeeperSettings(resolved.params).hosts, [
      { hostname: "zk2", port: 2181 },
      { hostname: "zk1", port: 2181 },
      { hostname: "zk3", port: 2182 },
    ]);
    // The same server twice is asked once.
    const twice = await resolveParams(
      "zookeeper://zk1:2181",
      {},
      new AbortController().signal,
      ["zookeeper://zk1:2181", "zookeeper://zk1/other"],
    );
    assert.deepEqual(readZooKeeperSettings(twice.params).hosts, [
      { hostname: "zk1", port: 2181 },
    ]);
  });
});
