/**
 * The AMQP transport's parameters: URL and options to connection settings, the socket seam
 * (injected factory, TLS on port 5671, no plain-text fallback), capabilities.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../mod.ts";
import { ConfigurationError, ConnectionError } from "../../../src/errors.ts";
import { parseUrl } from "../../../src/url.ts";
import { connectSocket } from "../../../src/runtime/mod.ts";
import type { SocketOptions } from "../../../src/socket.ts";
import {
  AMQP_CAPABILITIES,
  type AmqpConnection,
  amqpOptions,
  AmqpTransport,
} from "../../../transports/amqp/mod.ts";
import { makeTlsFixture, type TlsFixture } from "../runtime/_tls_fixture.ts";
import { FakeBroker } from "./_fake_broker.ts";
import { params } from "./_params.ts";

describe("AMQP transport parameters", () => {
  it("maps Kombu's URL parts and options", () => {
    const o = amqpOptions(params({
      port: undefined,
      userid: undefined,
      password: undefined,
      virtualHost: "",
      heartbeat: 30,
      transportOptions: {
        frameMax: "65536",
        channelMax: 10,
        maxMessageSize: "1048576",
        authMechanism: "amqplain",
        connectionName: "app",
      },
    }));
    assert.equal(o.port, 5672);
    assert.equal(o.username, "guest");
    assert.equal(o.password, "guest");
    assert.equal(o.virtualHost, "/");
    assert.equal(o.heartbeat, 30);
    assert.equal(o.frameMax, 65536);
    assert.equal(o.channelMax, 10);
    assert.equal(o.maxMessageSize, 1048576);
    assert.equal(o.authMechanism, "AMQPLAIN");
    assert.equal(o.connectionName, "app");
    assert.equal(o.tls, false);
  });

  it("logs in as guest/guest for amqp://:@host// (an empty user or password, as in Kombu)", () => {
    const parts = parseUrl("amqp://:@127.0.0.1//");
    const o = amqpOptions(params({ userid: parts.userid, password: parts.password }));
    assert.equal(o.username, "guest");
    assert.equal(o.password, "guest");
    const empty = amqpOptions(params({ userid: "", password: "" }));
    assert.deepEqual([empty.username, empty.password], ["guest", "guest"]);
  });

  it("takes Kombu's login_method for the SASL mechanism", () => {
    assert.equal(
      amqpOptions(params({ transportOptions: { login_method: "EXTERNAL" } })).authMechanism,
      "EXTERNAL",
    );
  });

  it("defaults to 128 MiB messages and port 5671 with TLS", () => {
    const o = amqpOptions(params({ port: undefined, ssl: true }));
    assert.equal(o.port, 5671);
    assert.equal(o.tls, true);
    assert.equal(o.maxMessageSize, 128 * 1024 * 1024);
  });

  it("refuses bad options with ConfigurationError", () => {
    assert.throws(
      () => amqpOptions(params({ transportOptions: { authMechanism: "CRAM-MD5" } })),
      ConfigurationError,
    );
    assert.throws(
      () => amqpOptions(params({ transportOptions: { frameMax: "big" } })),
      ConfigurationError,
    );
    assert.throws(
      () => amqpOptions(params({ transportOptions: { socketFactory: 42 } })),
      ConfigurationError,
    );
  });

  it("claims every capability RabbitMQ has", () => {
    assert.equal(AmqpTransport.name, "amqp");
    assert.equal(AmqpTransport.defaultPort, 5672);
    assert.deepStrictEqual([...AMQP_CAPABILITIES.exchangeTypes], [
      "direct",
      "topic",
      "fanout",
      "headers",
    ]);
    assert.equal(AMQP_CAPABILITIES.priority, "native");
    assert.equal(AMQP_CAPABILITIES.confirms, true);
  });
});

describe("AMQP transport on the socket seam", () => {
  let fixture: TlsFixture;
  let broker: FakeBroker;
  before(async () => {
    fixture = makeTlsFixture();
    broker = await FakeBroker.start({ tls: { cert: fixture.cert, key: fixture.key } });
  });
  after(async () => {
    await broker.close();
    fixture.cleanup();
  });

  it("connects through an injected socket factory with the TLS settings", async () => {
    const seen: SocketOptions[] = [];
    const socketFactory = (options: SocketOptions) => {
      seen.push(options);
      return connectSocket(options);
    };
    const conn = await AmqpTransport.connect(params({
      port: broker.port,
      ssl: { ca: fixture.ca },
      transportOptions: { socketFactory },
    })) as AmqpConnection;
    assert.equal(seen.length, 1);
    assert.deepStrictEqual(seen[0].tls, { ca: fixture.ca });
    assert.equal(seen[0].port, broker.port);
    const ch = await conn.createChannel();
    assert.equal((await ch.queueDeclare({ name: "over-tls" })).queue, "over-tls");
    await conn.close();
  });

  it("takes amqps:// to port 5671 with TLS on through the core's Connection", async () => {
    const seen: SocketOptions[] = [];
    const socketFactory = (options: SocketOptions) => {
      seen.push(options);
      return Promise.reject(new Error("no broker here"));
    };
    const conn = new Connection("amqps://guest:guest@127.0.0.1//", {
      transportOptions: { socketFactory },
    });
    await assert.rejects(conn.ensureConnection({ maxRetries: 0 }), ConnectionError);
    await conn.close();
    assert.ok(seen.length >= 1);
    assert.equal(seen[0].port, 5671);
    assert.equal(seen[0].tls, true);
  });

  it("connects amqps:// through the core's Connection with a CA", async () => {
    const conn = new Connection(`amqps://guest:guest@127.0.0.1:${broker.port}//`, {
      ssl: { ca: fixture.ca },
    });
    const ch = await conn.channel();
    assert.equal((await ch.queueDeclare({ name: "core-tls" })).queue, "core-tls");
    await conn.close();
  });

  it("refuses an unverified certificate instead of falling back to plain text", async () => {
    await assert.rejects(
      AmqpTransport.connect(params({ port: broker.port, ssl: true, connectTimeout: 3000 })),
      ConnectionError,
    );
  });
});
