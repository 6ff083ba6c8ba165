/**
 * `wakame bench URL [--size B] [--count N] [--prefetch P]`: publishes N messages to a fresh
 * queue, consumes and acknowledges them, shows live progress and a summary table. The queue is
 * deleted afterwards.
 *
 * @module
 */

import type { Command } from "commander";
import Table from "cli-table3";
import { Queue } from "../src/entity.ts";
import type { Message } from "../src/message.ts";
import { maskUrl } from "../src/url.ts";
import { fastUuid4 } from "../src/utils/uuid.ts";
import { connect, integer, note, out } from "./_common.ts";
import { progress } from "./_progress.ts";

interface BenchFlags {
  size: number;
  count: number;
  prefetch: number;
  queue?: string;
}

interface Phase {
  name: string;
  messages: number;
  ms: number;
}

interface TableLike {
  push(...rows: string[][]): void;
  toString(): string;
}

async function run(url: string, flags: BenchFlags): Promise<void> {
  const connection = await connect(url);
  const queue = new Queue(flags.queue ?? `wakame.bench.${fastUuid4().slice(0, 8)}`, {
    durable: false,
  });
  const payload = new Uint8Array(flags.size).fill(0x78);
  const phases: Phase[] = [];
  try {
    const producer = connection.producer();
    await producer.publish(new Uint8Array(0), { routingKey: queue.name, declare: [queue] });
    const channel = await connection.channel();
    await channel.queuePurge(queue.name);

    const sending = progress("publish", flags.count);
    let started = performance.now();
    for (let i = 0; i < flags.count; i++) {
      await producer.publish(payload, { routingKey: queue.name });
      sending.increment();
    }
    sending.stop();
    phases.push({ name: "publish", messages: flags.count, ms: performance.now() - started });

    const receiving = progress("consume", flags.count);
    let received = 0;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    started = performance.now();
    const consumer = connection.consumer(queue, {
      prefetchCount: flags.prefetch,
      onMessage: async (message: Message) => {
        await message.ack();
        receiving.increment();
        if (++received === flags.count) finish();
      },
    });
    await consumer.consume();
    await done;
    phases.push({ name: "consume", messages: received, ms: performance.now() - started });
    receiving.stop();
    await consumer.cancel();
    await channel.queueDelete(queue.name).catch(() => undefined);
    await channel.close().catch(() => undefined);
  } finally {
    await connection.close();
  }
  const table = new Table({
    head: ["phase", "messages", "seconds", "msg/s", "MiB/s"],
    style: { head: [], border: [] },
  }) as unknown as TableLike;
  for (const phase of phases) {
    const seconds = phase.ms / 1000;
    const rate = phase.messages / Math.max(seconds, 1e-9);
    table.push([
      phase.name,
      String(phase.messages),
      seconds.toFixed(3),
      rate.toFixed(0),
      ((rate * flags.size) / 2 ** 20).toFixed(2),
    ]);
  }
  note(
    `bench on ${maskUrl(url)}: ${flags.count} messages of ${flags.size} bytes, ` +
      `prefetch ${flags.prefetch}`,
  );
  out(table.toString());
}

/**
 * Adds the `bench` command.
 *
 * @param program the root command
 */
export function addBench(program: Command): void {
  program.command("bench")
    .description("publish then consume N messages through a fresh queue; prints throughput")
    .argument("<url>", "broker URL")
    .option("--size <bytes>", "body size", integer("--size"), 256)
    .option("-n, --count <n>", "messages", integer("--count", 1), 10_000)
    .option("--prefetch <n>", "consumer prefetch", integer("--prefetch", 1), 100)
    .option("--queue <name>", "queue to use (default: a fresh wakame.bench.* queue)")
    .action((url: string, flags: BenchFlags) => run(url, flags));
}
