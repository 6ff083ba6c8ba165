/**
 * `amqps://` against the local RabbitMQ's own TLS (Erlang's ssl), on a listener this file adds
 * with `rabbitmqctl` and a CA made at test time: certificate and hostname verified by default,
 * on this runtime's socket (Deno.connectTls, Bun.connect with tls, node:tls), both drivers.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection, ConnectionError, Exchange, Queue } from "../../../mod.ts";
import { brokerSkipReason, inCi } from "../../_support/brokers.ts";
import { startTlsListener, type TlsListener } from "../../_support/rabbitmq.ts";
import { makeTlsFixture } from "../runtime/_tls_fixture.ts";
import { envSkip } from "../../_support/skips.ts";

const fixture = makeTlsFixture();
let listener: TlsListener | undefined;
let mutual: TlsListener | undefined;
let missing = await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672);
if (!missing) {
  try {
    listener = await startTlsListener(fixture);
    mutual = await startTlsListener({ ...fixture, clientCa: fixture.ca });
  } catch (error) {
    const reason = `cannot add a TLS listener to RabbitMQ with rabbitmqctl: ${error}`;
    if (inCi) throw new Error(reason);
    missing = reason;
  }
}
const skip = envSkip(import.meta.url, missing);
const run = Math.random().toString(36).slice(2, 8);

function tlsUrl(scheme: string, port = listener?.port): string {
  return `${scheme}://guest:guest@127.0.0.1:${port}//`;
}

describe("amqps:// on RabbitMQ's TLS listener", () => {
  after(async () => {
    if (skip.reason) return;
    await listener?.stop();
    await mutual?.stop();
    fixture.cleanup();
  });

  for (const scheme of ["amqps", "amqplibs"]) {
    it(
      `${scheme}: publishes and consumes through the full stack, big and small bodies`,
      skip.options(),
      async () => {
        await using conn = new Connection(tlsUrl(scheme), { ssl: { ca: fixture.ca } });
        const exchange = new Exchange(`wakame-tls-${run}`, { type: "direct", autoDelete: true });
        const queue = new Queue(`wakame-tls-${scheme}-${run}`, {
          exchange,
          routingKey: "tls",
          autoDelete: true,
        });
        const big = "é".repeat(200_000); // 400 KB of UTF-8: many TLS records and AMQP frames
        const producer = conn.producer({ exchange });
        await producer.publish({ n: 1, big }, { routingKey: "tls", declare: [queue] });
        await producer.publish({ n: 2 }, { routingKey: "tls" });
        const got: { n: number; big?: string }[] = [];
        let done!: () => void;
        const finished = new Promise<void>((resolve) => (done = resolve));
        await using consumer = conn.consumer(queue, {
          callbacks: [async (body, message) => {
            got.push(body as { n: number; big?: string });
            await message.ack();
            if (got.length === 2) done();
          }],
        });
        await consumer.consume();
        await Promise.race([finished, conn.drainEvents({ timeout: 10_000 })]);
        await finished;
        assert.deepEqual(got.map((b) => b.n), [1, 2]);
        assert.equal(got[0].big, big);
      },
    );

    it(
      `${scheme}: refuses a certificate it cannot verify (no plain-text fallback)`,
      skip.options(),
      async () => {
        await using conn = new Connection(tlsUrl(scheme), { connectTimeout: 5000 });
        await assert.rejects(conn.connect(), (error: unknown) => {
          assert.ok(error instanceof ConnectionError, String(error));
          assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${listener?.port}`));
          assert.doesNotMatch(error.message, /guest:guest/);
          return true;
        });
      },
    );

    it(
      `${scheme}: presents a client certificate where the broker demands one`,
      skip.options(),
      async () => {
        const ssl = { ca: fixture.ca, cert: fixture.clientCert, key: fixture.clientKey };
        await using conn = new Connection(tlsUrl(scheme, mutual?.port), { ssl });
        const queue = new Queue(`wakame-mtls-${scheme}-${run}`, { autoDelete: true });
        await using simple = conn.simpleQueue(queue);
        await simple.put({ mutual: true });
        const message = await simple.get({ timeout: 5000 });
        assert.deepEqual(message.payload, { mutual: true });
        await message.ack();
      },
    );

    it(
      `${scheme}: takes Kombu's ssl_* URL keys, the PEM files read when connecting`,
      skip.options(),
      async () => {
        const query = new URLSearchParams({
          ssl_cert_reqs: "CERT_REQUIRED",
          ssl_ca_certs: fixture.files.ca,
          ssl_certfile: fixture.files.clientCert,
          ssl_keyfile: fixture.files.clientKey,
        });
        await using conn = new Connection(`${tlsUrl(scheme, mutual?.port)}?${query}`);
        const queue = new Queue(`wakame-url-tls-${scheme}-${run}`, { autoDelete: true });
        await using simple = conn.simpleQueue(queue);
        await simple.put({ files: true });
        const message = await simple.get({ timeout: 5000 });
        assert.deepEqual(message.payload, { files: true });
        await message.ack();
      },
    );

    it(
      `${scheme}: fails where the broker demands a client certificate and none is given`,
      skip.options(),
      async () => {
        await using conn = new Connection(tlsUrl(scheme, mutual?.port), {
          connectTimeout: 5000,
          ssl: { ca: fixture.ca },
        });
        await assert.rejects(async () => {
          await conn.connect();
          // TLS 1.3 finishes the client's side of the handshake before the server's verdict
          // arrives: the refusal can surface on the first exchange instead.
          await (await conn.channel()).queueDeclare({ name: "", exclusive: true });
        }, (error: unknown) => {
          assert.ok(error instanceof ConnectionError, String(error));
          assert.match(error.message, /certificate.?required/i);
          return true;
        });
      },
    );

    it(`${scheme}: refuses a certificate made for another name`, skip.options(), async () => {
      await using conn = new Connection(tlsUrl(scheme), {
        connectTimeout: 5000,
        ssl: { ca: fixture.ca, serverName: "other.test" },
      });
      await assert.rejects(conn.connect(), ConnectionError);
    });
  }

  it(
    "takes the server name to verify from the options (the certificate's DNS name)",
    skip.options(),
    async () => {
      await using conn = new Connection(tlsUrl("amqps"), {
        ssl: { ca: fixture.ca, serverName: "wakame.test" },
      });
      await conn.connect();
      assert.equal(conn.connected, true);
    },
  );
});
