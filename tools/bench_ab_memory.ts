/**
 * Same-process A/B of two checkouts on memory://: both trees are loaded into one process and
 * run the full Producer / Consumer stack in turn (order alternating each round), so the machine's
 * load hits both alike. Prints each round and the median ratio after/before with its spread.
 *
 * Usage (Deno, Bun or Node 24):
 *   deno run -A tools/bench_ab_memory.ts BEFORE_DIR AFTER_DIR [ROUNDS] [N]
 *
 * The two folders are checkouts given by absolute path (a `git worktree` of the commit before).
 */
const argv: string[] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
const [beforeDir, afterDir] = argv;
const rounds = Number(argv[2] ?? 12);
const n = Number(argv[3] ?? 100_000);
if (!beforeDir?.startsWith("/") || !afterDir?.startsWith("/") || !(rounds >= 1) || !(n >= 1)) {
  throw new Error("usage: bench_ab_memory.ts /BEFORE_DIR /AFTER_DIR [ROUNDS] [N] (absolute paths)");
}
type Lib = typeof import("../mod.ts");
const load = (dir: string): Promise<Lib> =>
  import(
    new URL(`${dir.replace(/\/$/, "")}/mod.ts`, `file://${dir.startsWith("/") ? "" : "/"}`).href
  );
const before = await load(beforeDir);
const after = await load(afterDir);

/** msg/s of N publishes then N consumed and acked. */
async function run(lib: Lib): Promise<number> {
  const conn = new lib.Connection("memory://", { virtualHost: `ab-${Math.random()}` });
  const exchange = new lib.Exchange("bench", { type: "direct" });
  const queue = new lib.Queue("bench", { exchange, routingKey: "bench" });
  const producer = conn.producer({ exchange, serializer: "json" });
  const body = { id: 0, name: "wakame", tags: ["a", "b"], ok: true };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    body.id = i;
    await producer.publish(body, { routingKey: "bench", declare: [queue] });
  }
  let seen = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = conn.consumer(queue, {
    callbacks: [(_body, message) => {
      message.ack();
      if (++seen === n) done();
    }],
  });
  await consumer.consume();
  await finished;
  const rate = n / ((performance.now() - t0) / 1000);
  await consumer.cancel();
  await conn.close();
  return rate;
}

const ratios: number[] = [];
for (let round = 0; round < rounds; round++) {
  const first = round % 2 === 0;
  const a = first ? await run(before) : 0;
  const b = await run(after);
  const c = first ? a : await run(before);
  ratios.push(b / c);
  console.log(
    `round ${round}: before ${Math.round(c)} msg/s, after ${Math.round(b)} msg/s, ${
      (b / c).toFixed(2)
    }`,
  );
}
ratios.sort((x, y) => x - y);
console.log(
  `median after/before ${ratios[Math.floor(ratios.length / 2)].toFixed(2)} ` +
    `(min ${ratios[0].toFixed(2)}, max ${ratios[ratios.length - 1].toFixed(2)}), ${rounds} rounds`,
);
