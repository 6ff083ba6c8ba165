/** A `password` function on AMQP: asked at each connect, so a rotated password is picked up. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection, KombuError } from "../../../mod.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672));

describe("AMQP: a password function", () => {
  it(
    "is asked at every connect: refused with the old one, in with the new",
    skip.options(),
    async () => {
      const answers = ["not-the-password", "guest"];
      const asked: string[] = [];
      await using conn = new Connection("amqp://guest@127.0.0.1:5672//", {
        password: () => {
          const answer = answers[Math.min(asked.length, answers.length - 1)];
          asked.push(answer);
          return Promise.resolve(answer);
        },
      });
      await assert.rejects(conn.connect(), (e: unknown) => {
        assert.ok(e instanceof KombuError, String(e));
        assert.doesNotMatch(String(e), /not-the-password/);
        return true;
      });
      await conn.connect();
      assert.deepEqual(asked, ["not-the-password", "guest"]);
      const channel = await conn.channel();
      const { queue } = await channel.queueDeclare({
        name: "",
        exclusive: true,
        autoDelete: true,
      });
      assert.match(queue, /^amq\.gen-/);
    },
  );
});
