/**
 * Kombu's Pyro broker daemon under faults, live (`python3 -m kombu.transport.pyro` behind a
 * private name server):
 *
 * - the daemon killed (SIGKILL) and started again under a consumer and a producer: both go on
 *   without help (the broker is looked up again, on its new port); the message the consumer held
 *   unacknowledged survives (it is in the consumer's memory, put back when requeued); what waited
 *   in the daemon is gone with it, as in Kombu (the daemon keeps its queues in memory only).
 * - a consumer killed while it holds a message: Kombu's layout has no record of a taken message
 *   (`get` removes it from the daemon's Queue), so the held message is lost; the others are not.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Connection, Queue } from "../../mod.ts";
import type { Message } from "../../src/message.ts";
import { PyroTransport } from "../../transports/pyro/mod.ts";
import { type PyroServer, pyroSkipReason, startPyro } from "../_support/pyro_server.ts";
import { envSkip } from "../_support/skips.ts";
import { Child } from "./_child.ts";

const skip = envSkip(import.meta.url, pyroSkipReason());
const run = crypto.randomUUID().slice(0, 8);
let pyro: PyroServer | undefined;

const connect = () =>
  new Connection(pyro!.url, {
    transport: PyroTransport,
    transportOptions: { pollingInterval: 50 },
  });

describe("Pyro broker daemon faults", () => {
  before(async () => {
    if (skip.reason) return;
    pyro = await startPyro();
  });
  after(() => pyro?.stop());

  it("the daemon restarted under a consumer: it recovers by itself", skip.options(), async () => {
    const name = `restart-${run}`;
    await using producerConn = connect();
    await using consumerConn = connect();
    const producer = producerConn.producer();
    const got: { n: number; redelivered: boolean }[] = [];
    let releaseHeld!: () => void;
    const held = new Promise<void>((resolve) => (releaseHeld = resolve));
    let heldNow!: () => void;
    const holding = new Promise<void>((resolve) => (heldNow = resolve));
    let expected = 0;
    let allIn!: () => void;
    const done = new Promise<void>((resolve) => (allIn = resolve));
    await using consumer = consumerConn.consumer(new Queue(name), {
      prefetchCount: 1,
      callbacks: [async (body, message: Message) => {
        const { n } = body as { n: number };
        if (n === 0 && !message.deliveryInfo.redelivered) {
          heldNow();
          await held;
          await message.requeue();
          return;
        }
        got.push({ n, redelivered: message.deliveryInfo.redelivered === true });
        await message.ack();
        if (got.length === expected) allIn();
      }],
    });
    await consumer.consume();
    // A second consumer polls an empty queue all through the outage.
    await using pollingConn = connect();
    let polled!: (n: number) => void;
    const polledOne = new Promise<number>((resolve) => (polled = resolve));
    await using poller = pollingConn.consumer(new Queue(`${name}-b`), {
      callbacks: [async (body, message: Message) => {
        await message.ack();
        polled((body as { n: number }).n);
      }],
    });
    await poller.consume();
    await producer.publish({ n: 0 }, { routingKey: name });
    await holding;
    // Prefetch 1: these wait in the daemon while message 0 is held.
    for (const n of [1, 2]) await producer.publish({ n }, { routingKey: name });
    await pyro!.restartBroker();
    // The producer's next call finds its link closed and looks the new daemon up.
    for (const n of [3, 4, 5]) await producer.publish({ n }, { routingKey: name });
    await producer.publish({ n: 6 }, { routingKey: `${name}-b` });
    assert.equal(await polledOne, 6, "the polling consumer found the new daemon by itself");
    expected = 4;
    releaseHeld();
    await done;
    assert.deepEqual(
      got.sort((a, b) => a.n - b.n),
      [
        { n: 0, redelivered: true },
        { n: 3, redelivered: false },
        { n: 4, redelivered: false },
        { n: 5, redelivered: false },
      ],
      "the held message and everything published after the restart; 1 and 2 died with the daemon",
    );
    const channel = await producerConn.defaultChannel();
    assert.equal(await channel.basicGet(name), undefined, "nothing else in the new daemon");
  });

  it(
    "a consumer killed holding a message: Kombu's layout loses that one",
    skip.options(),
    async () => {
      const name = `killed-${run}`;
      await using conn = connect();
      const producer = conn.producer();
      for (let n = 0; n < 6; n++) await producer.publish({ n }, { routingKey: name });
      const child = Child.start("holder.ts", [pyro!.url, "{}", name, "2", "1"]);
      try {
        await child.waitFor((line) => line.startsWith("HELD "));
      } finally {
        await child.kill();
      }
      const channel = await conn.defaultChannel();
      const rest: number[] = [];
      for (;;) {
        const delivery = await channel.basicGet(name, { noAck: true });
        if (!delivery) break;
        rest.push(
          (JSON.parse(new TextDecoder().decode(delivery.body as Uint8Array)) as { n: number }).n,
        );
      }
      assert.deepEqual(rest, [3, 4, 5], "0 and 1 acked, 2 held and lost with its consumer");
    },
  );
});
