/**
 * The amqplib transport's connection: loss, heartbeats, connect timeout and TLS, through
 * proxies to the local RabbitMQ that a test can cut, freeze or wrap in TLS.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { makeTlsFixture, type TlsFixture } from "../runtime/_tls_fixture.ts";
import { AmqplibTransport } from "../../../transports/amqplib/mod.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import { ConnectionError } from "../../../src/errors.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));

function params(port: number, overrides: Partial<ConnectionParams> = {}): ConnectionParams {
  return {
    transport: "amqplib",
    hostname: "127.0.0.1",
    port,
    userid: "guest",
    password: "guest",
    virtualHost: "/",
    url: `amqplib://guest:guest@127.0.0.1:${port}//`,
    ssl: false,
    heartbeat: 0,
    connectTimeout: 4000,
    transportOptions: {},
    ...overrides,
  };
}

/** A TCP (or TLS-terminating) proxy to RabbitMQ whose links a test can cut or freeze. */
class Proxy {
  readonly server: net.Server;
  readonly links: [net.Socket, net.Socket][] = [];

  constructor(tlsOptions?: tls.TlsOptions) {
    const onClient = (client: net.Socket): void => {
      const upstream = net.connect(5672, "127.0.0.1");
      for (const socket of [client, upstream]) socket.on("error", () => undefined);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      this.links.push([client, upstream]);
    };
    this.server = tlsOptions === undefined
      ? net.createServer(onClient)
      : tls.createServer(tlsOptions, onClient);
    this.server.on("tlsClientError", () => undefined);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", () => resolve()));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Drops every link at once (a network failure). */
  cut(): void {
    for (const [client, upstream] of this.links) {
      client.destroy();
      upstream.destroy();
    }
  }

  /** Stops forwarding without closing anything (a peer gone silent). */
  freeze(): void {
    for (const [client, upstream] of this.links) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Rejects if `promise` does not settle within `ms` (keeps a broken case from hanging). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

describe("amqplib connection (RabbitMQ through a proxy)", () => {
  let fixture: TlsFixture;
  const proxies: Proxy[] = [];

  before(() => {
    if (skip.reason) return;
    fixture = makeTlsFixture();
  });
  after(async () => {
    if (skip.reason) return;
    for (const proxy of proxies) await proxy.close();
    fixture.cleanup();
  });

  async function proxy(tlsOptions?: tls.TlsOptions): Promise<[Proxy, number]> {
    const created = new Proxy(tlsOptions);
    proxies.push(created);
    return [created, await created.listen()];
  }

  it(
    "resolves `closed` with ConnectionError when the link drops, and fails channel calls",
    skip.options(),
    async () => {
      const [link, port] = await proxy();
      const connection = await AmqplibTransport.connect(params(port));
      const channel = await connection.createChannel();
      await channel.queueDeclare({ name: "", exclusive: true });
      link.cut();
      const reason = await within(connection.closed, 5000, "closed");
      assert.ok(reason instanceof ConnectionError);
      assert.equal(channel.isOpen, false);
      await assert.rejects(channel.queueDeclare({ name: "", exclusive: true }), ConnectionError);
      await assert.rejects(connection.createChannel(), ConnectionError);
      await connection.close();
    },
  );

  it("detects a silent peer with heartbeats (heartbeat in seconds)", skip.options(), async () => {
    const [link, port] = await proxy();
    const connection = await AmqplibTransport.connect(params(port, { heartbeat: 1 }));
    await connection.createChannel();
    link.freeze();
    const reason = await within(connection.closed, 8000, "heartbeat timeout");
    assert.ok(reason instanceof ConnectionError);
    // Either side may notice first: our heartbeat check, or RabbitMQ's, whose close then
    // reaches us as an unexpected close. Both find the dead link within the bound above.
    assert.match(reason.message, /heartbeat|unexpected close/i);
  });

  it("times out on a server that accepts but never speaks AMQP", skip.options(), async () => {
    const accepted: net.Socket[] = [];
    const silent = net.createServer((socket) => {
      socket.on("error", () => undefined);
      accepted.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        AmqplibTransport.connect(params(port, { connectTimeout: 200 })),
        (error: unknown) => {
          assert.ok(error instanceof ConnectionError);
          assert.match(
            error.message,
            new RegExp(`^Cannot connect to 127\\.0\\.0\\.1:${port}/%2F: `),
          );
          return true;
        },
      );
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it(
    "speaks amqps: verifies the certificate by default, trusts tls.ca, checks the name",
    skip.options(),
    async () => {
      const [, port] = await proxy({ key: fixture.key, cert: fixture.cert });
      await assert.rejects(AmqplibTransport.connect(params(port, { ssl: true })), ConnectionError);
      await assert.rejects(
        AmqplibTransport.connect(
          params(port, { ssl: { ca: fixture.ca, serverName: "other.test" } }),
        ),
        ConnectionError,
      );
      for (const ssl of [{ ca: fixture.ca }, { ca: fixture.ca, serverName: "wakame.test" }]) {
        const connection = await AmqplibTransport.connect(params(port, { ssl }));
        const channel = await connection.createChannel();
        const ok = await channel.queueDeclare({ name: "", exclusive: true });
        assert.match(ok.queue, /^amq\.gen-/);
        await connection.close();
        assert.equal(await connection.closed, undefined);
      }
    },
  );
});
