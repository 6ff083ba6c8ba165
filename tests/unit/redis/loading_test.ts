/**
 * `-LOADING` (a restarted Redis loading its dataset): a fake server in front of the shared Redis
 * answers every command of the first few connections it accepts with `-LOADING ...`, then
 * lets new connections through. Before the fix the reply was a ChannelError on a link kept open. A publish with `retry` and a consumer
 * both get through: the loading reply is a lost connection (reconnect), not a channel error.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { Connection, Queue } from "../../../mod.ts";
import { RespParser } from "../../../transports/redis/resp/parser.ts";
import type { RespValue } from "../../../transports/redis/resp/types.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { envSkip } from "../../_support/skips.ts";
import { dropPrefix, randomPrefix, rawRedis } from "./_helpers.ts";
import { until } from "../../faults/_ledger.ts";

const skip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));
const LOADING = "-LOADING Redis is loading the dataset in memory\r\n";
const decoder = new TextDecoder();

/** A promise and its resolve (Node 20 has no `Promise.withResolvers`). */
function deferred(): { promise: Promise<unknown>; resolve: (value: unknown) => void } {
  let resolve!: (value: unknown) => void;
  const promise = new Promise<unknown>((r) => (resolve = r));
  return { promise, resolve };
}

/** `promise`, or a failure when it does not settle in `ms` (a hang guard, not a timing check). */
function settles<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** A Redis whose first `loading` connections only ever answer `-LOADING`, then the shared one. */
class LoadingRedis {
  loading: number;
  accepted = 0;
  answered = 0;
  readonly #server = net.createServer((client) => this.#accept(client));
  readonly #sockets = new Set<net.Socket>();

  constructor(loading: number) {
    this.loading = loading;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return (this.#server.address() as net.AddressInfo).port;
  }

  #accept(client: net.Socket): void {
    this.#sockets.add(client);
    client.on("close", () => this.#sockets.delete(client));
    client.on("error", () => client.destroy());
    if (this.accepted++ < this.loading) {
      // Accepted while loading: as Redis, it answers what may run during loading (CLIENT,
      // SUBSCRIBE) and `-LOADING` to everything else, PING included.
      const parser = new RespParser();
      client.on(
        "data",
        (chunk: Uint8Array) =>
          parser.feed(chunk, (command) => client.write(this.#whileLoading(command))),
      );
      return;
    }
    const upstream = net.connect(6379, "127.0.0.1");
    this.#sockets.add(upstream);
    upstream.on("close", () => client.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  #whileLoading(command: RespValue): string {
    const [name, sub, ...rest] = (command as Uint8Array[]).map((a) => decoder.decode(a));
    const upper = name.toUpperCase();
    if (upper === "CLIENT") {
      return sub.toUpperCase() === "ID" ? `:${1000 + this.accepted}\r\n` : "+OK\r\n";
    }
    if (upper === "SUBSCRIBE" || upper === "PSUBSCRIBE") {
      return [sub, ...rest].map((channel, i) =>
        `*3\r\n$${upper.length}\r\n${upper.toLowerCase()}\r\n$${channel.length}\r\n${channel}\r\n:${
          i + 1
        }\r\n`
      ).join("");
    }
    this.answered++;
    return LOADING;
  }

  /** Drops every connection (a restart); the next `loading` connections find it loading. */
  restart(loading: number): void {
    this.loading = this.accepted + loading;
    for (const socket of this.#sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

describe("Redis -LOADING", () => {
  const prefix = randomPrefix();
  after(async () => {
    if (skip.reason) return;
    const raw = await rawRedis();
    await dropPrefix(raw, prefix);
    await raw.close();
  });

  for (const driver of ["resp", "ioredis"] as const) {
    it(
      `reconnects until the server loaded: a retried publish and a consumer get through (${driver})`,
      skip.options(),
      async () => {
        const server = new LoadingRedis(3);
        const port = await server.listen();
        const conn = new Connection(`redis://127.0.0.1:${port}/0`, {
          transportOptions: { globalKeyprefix: `${prefix}${driver}.`, driver },
          recoveryPolicy: { intervalStart: 10, intervalStep: 10, intervalMax: 50 },
        });
        try {
          const queue = new Queue(`loading-${driver}`);
          await conn.producer().publish({ n: 1 }, {
            routingKey: queue.name,
            declare: [queue],
            retry: true,
            retryPolicy: { maxRetries: 20, intervalStart: 10, intervalStep: 10, intervalMax: 50 },
          });
          assert.ok(server.answered >= 1, "the server answered -LOADING first");
          const got = deferred();
          const consumer = conn.consumer(queue, {
            callbacks: [async (body, message) => {
              await message.ack();
              got.resolve(body);
            }],
          });
          await consumer.consume();
          assert.deepStrictEqual(await got.promise, { n: 1 });
          await consumer.cancel();
        } finally {
          await conn.close();
          await server.close();
        }
      },
    );

    it(
      `a consumer recovers through a restart that loads, and gets what is published (${driver})`,
      skip.options(),
      async () => {
        const server = new LoadingRedis(0);
        const port = await server.listen();
        const options = {
          transportOptions: { globalKeyprefix: `${prefix}${driver}-c.`, driver },
          recoveryPolicy: { intervalStart: 10, intervalStep: 10, intervalMax: 50 },
        };
        const conn = new Connection(`redis://127.0.0.1:${port}/0`, options);
        const direct = new Connection("redis://127.0.0.1:6379/0", options);
        try {
          const queue = new Queue(`loading-c-${driver}`);
          const got = deferred();
          const consumer = conn.consumer(queue, {
            callbacks: [async (body, message) => {
              await message.ack();
              got.resolve(body);
            }],
          });
          await consumer.consume();
          server.restart(3); // its next three connections answer -LOADING
          await until(() => server.answered >= 1, 10_000);
          await direct.producer().publish({ n: 2 }, { routingKey: queue.name, declare: [queue] });
          assert.deepStrictEqual(await settles(got.promise, 10_000), { n: 2 });
          await consumer.cancel();
        } finally {
          await conn.close();
          await direct.close();
          await server.close();
        }
      },
    );
  }
});
