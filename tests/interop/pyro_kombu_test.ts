/**
 * The Pyro transport against Python Kombu 5.2's (`kombu.transport.pyro`), both on one Kombu
 * broker daemon (`python3 -m kombu.transport.pyro`) behind a private Pyro4 name server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Connection, Queue } from "../../mod.ts";
import type { Message } from "../../src/message.ts";
import { PyroTransport } from "../../transports/pyro/mod.ts";
import { type PyroServer, pyroSkipReason, startPyro } from "../_support/pyro_server.ts";
import { runPython } from "../_support/python.ts";
import { envSkip } from "../_support/skips.ts";
import {
  assertFromKombu,
  assertToKombu,
  lines,
  publishForKombu,
} from "../_support/store_interop.ts";

const skip = envSkip(import.meta.url, pyroSkipReason());
// store_peer.py, told the name server's port (Kombu 5.2 always asks 9090).
const peer = fileURLToPath(new URL("./python/pyro_peer.py", import.meta.url));
const run = crypto.randomUUID().slice(0, 8);
let pyro: PyroServer | undefined;

const connect = () =>
  new Connection(pyro!.url, {
    transport: PyroTransport,
    transportOptions: { pollingInterval: 50 },
  });
const python = (mode: string, args: Record<string, unknown>) =>
  runPython(peer, [mode, JSON.stringify({ url: pyro!.url, seconds: 10, ...args })]);

async function take(conn: Connection, name: string, count: number): Promise<Message[]> {
  await using queue = conn.simpleQueue(new Queue(name));
  const got: Message[] = [];
  for (let i = 0; i < count; i++) {
    const message = await queue.get({ timeout: 10_000 });
    await message.ack();
    got.push(message);
  }
  return got;
}

describe("Pyro interop with Python Kombu", () => {
  before(async () => {
    if (skip.reason) return;
    pyro = await startPyro();
  });
  after(() => pyro?.stop());

  it("consumes what Python Kombu published (plain and zlib)", skip.options(), async () => {
    const name = `from-python-${run}`;
    await python("publish", { queue: name, count: 4 });
    await using conn = connect();
    const got = await take(conn, name, 4);
    assertFromKombu(got, name, [0, 1, 2, 3], "in order, every one once");
  });

  it("publishes what Python Kombu consumes", skip.options(), async () => {
    const name = `to-python-${run}`;
    await using conn = connect();
    await publishForKombu(conn, name, { exchange: name });
    const got = lines(await python("consume", { queue: name, count: 2 }));
    assertToKombu(got);
  });

  it("a message either side requeues reaches the other", skip.options(), async () => {
    const name = `requeued-${run}`;
    {
      await using conn = connect();
      await conn.producer().publish({ from: "wakame", n: 7 }, { routingKey: name });
      const channel = await conn.defaultChannel();
      const delivery = await channel.basicGet(name);
      assert.ok(delivery);
      await channel.basicReject(delivery.deliveryTag, true);
    }
    const first = lines(await python("consume", { queue: name, count: 0, requeue: true }));
    assert.equal(first.length, 0, "Kombu took it and put it back");
    await using conn = connect();
    const [again] = await take(conn, name, 1);
    assert.deepEqual(again.payload, { from: "wakame", n: 7 });
    assert.equal(again.deliveryInfo.redelivered, true);
  });
});
