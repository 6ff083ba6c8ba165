/**
 * PostgreSQL restarted under a consumer (a private cluster started with pg_ctl, never the shared
 * server): the consumer and the producer of the same connection go on by themselves.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection, Queue } from "../../../mod.ts";
import "../../../transports/sql/mod.ts";
import { envSkip } from "../../_support/skips.ts";
import {
  type PrivatePostgres,
  privatePostgresSkip,
  startPrivatePostgres,
} from "./_private_postgres.ts";

const skip = envSkip(import.meta.url, privatePostgresSkip);

describe("SQL transport: PostgreSQL restarted under a consumer", () => {
  let server: PrivatePostgres;
  before(async () => {
    if (skip.reason) return;
    server = await startPrivatePostgres();
  });
  after(() => {
    if (skip.reason) return;
    return server?.destroy();
  });

  it("keeps consuming after the restart", skip.options(), async () => {
    const warnings: string[] = [];
    await using conn = new Connection(
      `sqla+postgresql://postgres@127.0.0.1:${server.port}/postgres`,
      {
        transportOptions: {
          pollingInterval: 50,
          visibilityTimeout: 5000,
          onWarning: (message: string) => warnings.push(message),
        },
      },
    );
    const got: string[] = [];
    let arrived: (() => void) | undefined;
    await using consumer = conn.consumer(new Queue("restarted"), {
      callbacks: [async (body, message) => {
        got.push(body as string);
        await message.ack();
        arrived?.();
      }],
    });
    const next = () => new Promise<void>((resolve) => (arrived = resolve));
    await consumer.consume();
    const producer = conn.producer();

    let waiting = next();
    await producer.publish("before", { routingKey: "restarted" });
    await waiting;

    await server.restart();

    waiting = next();
    // A publish that meets a connection the restart closed fails like any publish in an outage:
    // Kombu's publish retry covers it. The consumer needs nothing.
    await producer.publish("after", { routingKey: "restarted", retry: true });
    await waiting;
    assert.deepEqual(got, ["before", "after"]);
    // The consumer noticed the outage (logged) and recovered without the application.
    assert.ok(warnings.length > 0, "expected the outage to be logged");
  });
});
