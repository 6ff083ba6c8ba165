/**
 * Shared by the fault tests of the store-backed transports (etcd, ZooKeeper): a consumer that
 * collects payloads, and the two restart scenarios every such server must survive.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { Connection, Queue } from "../../mod.ts";
import type { Transport } from "../../src/transport.ts";
import type { Skip } from "./skips.ts";

/** One collected message. */
export interface Collected {
  payload: unknown;
  redelivered: boolean;
}

/** Collects payloads of `queue` until `count` came (no deadline: the runner's timeout bounds). */
export async function collect(conn: Connection, queue: string, count: number) {
  const got: Collected[] = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = conn.consumer(new Queue(queue), {
    callbacks: [async (payload, message) => {
      got.push({ payload, redelivered: message.deliveryInfo.redelivered });
      await message.ack();
      if (got.length >= count) done();
    }],
  });
  await consumer.consume();
  return { got, finished, consumer };
}

/** A consumer on `connect()` takes 3 messages, the server `restart`s, it takes 3 more, in order. */
export async function consumerCarriesOnAcrossRestart(
  connect: () => Connection,
  restart: () => Promise<unknown>,
): Promise<void> {
  const queue = `restart-${crypto.randomUUID()}`;
  await using conn = connect();
  await using producer = connect();
  const { got, finished, consumer } = await collect(conn, queue, 6);
  const publish = (n: number) => producer.producer().publish({ n }, { routingKey: queue });
  for (const n of [0, 1, 2]) await publish(n);
  while (got.length < 3) await new Promise((r) => setTimeout(r, 20));
  await restart();
  for (const n of [3, 4, 5]) await publish(n);
  await finished;
  await consumer.cancel();
  assert.deepEqual(got.map((m) => m.payload), [0, 1, 2, 3, 4, 5].map((n) => ({ n })));
}

/** Two messages published, the server `restart`s, both are then consumed, in order. */
export async function keptAcrossRestart(
  connect: () => Connection,
  restart: () => Promise<unknown>,
): Promise<void> {
  const queue = `kept-${crypto.randomUUID()}`;
  {
    await using producer = connect();
    for (const n of [0, 1]) await producer.producer().publish({ n }, { routingKey: queue });
  }
  await restart();
  await using conn = connect();
  const { got, finished } = await collect(conn, queue, 2);
  await finished;
  assert.deepEqual(got.map((m) => m.payload), [{ n: 0 }, { n: 1 }]);
}

/** How a test cuts a consumer off the network for good. */
export interface CutOff {
  /** The doomed connection's transport options; `isCut()` tells once the cut is made. */
  transportOptions(isCut: () => boolean): Record<string, unknown>;
  /** Makes the cut on what is already open (after `isCut()` turned true). */
  cut?(): Promise<unknown>;
}

/**
 * A doomed consumer takes all of 3 messages, then loses the network for good (`cutOff`): it
 * can neither acknowledge nor give anything back (as if killed). Nothing is ready while its
 * hold may live (`whileHeld` says why); a rescuer (with `rescuerOptions`) then takes back all
 * three, each marked redelivered.
 */
export async function givesBackWhatSilentHeld(
  connect: (transportOptions?: Record<string, unknown>) => Connection,
  cutOff: CutOff,
  rescuerOptions: Record<string, unknown>,
  whileHeld: string,
): Promise<void> {
  const queue = `silent-${crypto.randomUUID()}`;
  await using producer = connect();
  for (const n of [0, 1, 2]) await producer.producer().publish({ n }, { routingKey: queue });
  let cut = false;
  const doomed = connect(cutOff.transportOptions(() => cut));
  const channel = await doomed.defaultChannel();
  for (let i = 0; i < 3; i++) assert.ok(await channel.basicGet(queue));
  cut = true;
  await cutOff.cut?.();
  const ready = await (await producer.defaultChannel()).basicGet(queue);
  assert.equal(ready, undefined, whileHeld);
  await using rescuer = connect(rescuerOptions);
  const { got, finished } = await collect(rescuer, queue, 3);
  await finished;
  assert.deepEqual(
    got.map((m) => m.payload).sort((a, b) => (a as { n: number }).n - (b as { n: number }).n),
    [{ n: 0 }, { n: 1 }, { n: 2 }],
  );
  assert.ok(got.every((m) => m.redelivered), "marked redelivered");
  await doomed.close().catch(() => {});
}

/**
 * Registers the two restart tests (a running consumer carries on; what was published is kept)
 * for a server called `server`, reached by `connect()` and restarted by `restart()`.
 */
export function restartTests(
  server: string,
  skip: Skip,
  connect: () => Connection,
  restart: () => Promise<unknown>,
): void {
  it(
    `a consumer carries on by itself when ${server} is killed and restarted`,
    skip.options(),
    () => consumerCarriesOnAcrossRestart(connect, restart),
  );
  it(
    "keeps what was published and not consumed across a restart",
    skip.options(),
    () => keptAcrossRestart(connect, restart),
  );
}

/**
 * Connections to the broker at `url()` through `transport`: polling every 50 ms, warnings
 * silenced, and the test's own `transportOptions` on top.
 */
export function storeConnector(
  url: () => string,
  transport: Transport,
): (transportOptions?: Record<string, unknown>) => Connection {
  return (transportOptions = {}) =>
    new Connection(url(), {
      transport,
      transportOptions: { pollingInterval: 50, onWarning: () => {}, ...transportOptions },
    });
}
