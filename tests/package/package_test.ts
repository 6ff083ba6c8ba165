/**
 * The npm package, proven from its tarball: installed into fresh projects outside the repository
 * and used as Node 20, Node 24 (ESM and CommonJS), Bun and TypeScript users use it, on memory://,
 * amqp:// and redis://; optional peers absent (clear errors) and present (they work); publint and
 * arethetypeswrong on the tarball.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brokerSkipReason } from "../_support/brokers.ts";
import { bin, makeProject, NODE24, ok, peerSpec, root, run, tarball } from "./_package.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(
  import.meta.url,
  (await brokerSkipReason("RabbitMQ", "127.0.0.1", 5672)) ||
    (await brokerSkipReason("Redis", "127.0.0.1", 6379)),
);

const AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//";
const REDIS_URL = "redis://127.0.0.1:6379/0";

/** The README's example, on each URL, without `await using` (Node 20 lacks the syntax). */
const ESM_CONSUMER = `
import { Connection, Exchange, Queue } from "@wakame/wakame";
const out = [];
for (const url of process.argv.slice(2)) {
  const conn = new Connection(url);
  try {
    const media = new Exchange("pkg-media", { type: "direct" });
    const name = "pkg-video-" + crypto.randomUUID();
    const video = new Queue(name, { exchange: media, routingKey: name, autoDelete: true });
    await conn.producer().publish({ name: "clip.mp4" }, {
      exchange: media, routingKey: name, declare: [video], compression: "zlib",
    });
    const consumer = conn.consumer(video, { prefetchCount: 10 });
    for await (const message of consumer) {
      out.push([url.split(":")[0], message.payload, message.deliveryInfo.routingKey === name]);
      await message.ack();
      break;
    }
    await consumer.cancel();
  } finally {
    await conn.close();
  }
}
console.log(JSON.stringify(out));
`;

const CJS_CONSUMER = `
const { Connection } = require("@wakame/wakame");
(async () => {
  const out = [];
  for (const url of process.argv.slice(2)) {
    const conn = new Connection(url);
    try {
      const queue = conn.simpleQueue("pkg-cjs-" + crypto.randomUUID(), {
        queueOptions: { autoDelete: true },
      });
      await queue.put({ from: "require" });
      const message = await queue.get({ timeout: 5000 });
      out.push([url.split(":")[0], message.payload]);
      await message.ack();
      await queue.close();
    } finally {
      await conn.close();
    }
  }
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
`;

/** Asks for each optional feature with its package absent; prints each error message. */
const MISSING_PEERS = `
import { Connection } from "@wakame/wakame";
const attempts = {
  amqplib: () => new Connection("amqplib://guest:guest@127.0.0.1:5672//").connect(),
  ioredis: () => new Connection("${REDIS_URL}", { transportOptions: { driver: "ioredis" } }).connect(),
  yaml: () => new Connection("memory://").producer().publish({ a: 1 }, { routingKey: "q", serializer: "yaml" }),
  msgpackr: () => new Connection("memory://").producer().publish({ a: 1 }, { routingKey: "q", serializer: "msgpack" }),
  "@aws-sdk/client-sqs": () => new Connection("sqs://key:secret@127.0.0.1:1/").connect(),
  "bzip2-wasm": () => new Connection("memory://").producer().publish({ a: 1 }, { routingKey: "q", compression: "bzip2" }),
  "node-liblzma": () => new Connection("memory://").producer().publish({ a: 1 }, { routingKey: "q", compression: "xz" }),
  postgres: () => new Connection("sqla+postgresql://postgres@127.0.0.1:1/test").connect(),
  mysql2: () => new Connection("sqla+mysql://root@127.0.0.1:1/test").connect(),
  "better-sqlite3": () => new Connection("sqla+sqlite://").connect(),
};
const out = {};
for (const [name, attempt] of Object.entries(attempts)) {
  try { await attempt(); out[name] = "no error"; }
  catch (error) { out[name] = error.constructor.name + ": " + error.message; }
}
out.nodeMajor = process.versions.node.split(".")[0];
console.log(JSON.stringify(out));
`;

/** Uses every optional peer once it is installed. */
const WITH_PEERS = `
import { Connection } from "@wakame/wakame";
const out = [];
const cases = [
  ["amqplib://guest:guest@127.0.0.1:5672//", {}, "json"],
  ["${REDIS_URL}", { driver: "ioredis" }, "json"],
  ["memory://", {}, "yaml"],
  ["memory://", {}, "msgpack"],
];
for (const [url, transportOptions, serializer] of cases) {
  const conn = new Connection(url, { transportOptions });
  try {
    const queue = conn.simpleQueue("pkg-peer-" + crypto.randomUUID(), {
      accept: [serializer], queueOptions: { autoDelete: true },
    });
    await queue.put({ via: serializer }, { serializer });
    const message = await queue.get({ timeout: 5000 });
    out.push([url.split(":")[0], message.contentType, message.payload]);
    await message.ack();
    await queue.close();
  } finally {
    await conn.close();
  }
}
// bzip2 and lzma through their packages: round trips on memory://, and the bytes Python writes.
for (const compression of ["bzip2", "lzma"]) {
  const conn = new Connection("memory://");
  try {
    const queue = conn.simpleQueue("pkg-compress-" + crypto.randomUUID());
    await queue.put({ via: compression }, { compression });
    const message = await queue.get({ timeout: 5000 });
    out.push([compression, message.compression, message.payload]);
    await message.ack();
    await queue.close();
  } finally {
    await conn.close();
  }
}
// bzip2-wasm's own loader would set globalThis.require and add process listeners: ours does not.
out.push(["globals", typeof globalThis.require, typeof globalThis.__dirname,
  process.listenerCount("uncaughtException") + process.listenerCount("unhandledRejection")]);
console.log(JSON.stringify(out));
`;

/** Every subpath, typed as a TypeScript user writes against it. */
const TS_CONSUMER = `
import { Connection, Exchange, Queue, serializers, type Message } from "@wakame/wakame";
import { MemoryTransport } from "@wakame/wakame/memory";
import { FilesystemTransport } from "@wakame/wakame/filesystem";
import { AmqpTransport } from "@wakame/wakame/amqp";
import { AmqplibTransport } from "@wakame/wakame/amqplib";
import { redisTransport } from "@wakame/wakame/redis";
import { SqsTransport } from "@wakame/wakame/sqs";
import { AzureStorageQueuesTransport } from "@wakame/wakame/azure-storage-queues";
import { connectSocket, type Socket } from "@wakame/wakame/runtime";
import { conformanceSuite } from "@wakame/wakame/testing";
import { Celery, type TaskContext } from "@wakame/wakame/celery";

export const transports = [
  MemoryTransport, FilesystemTransport, AmqpTransport, AmqplibTransport, redisTransport,
  SqsTransport, AzureStorageQueuesTransport,
];

export async function main(): Promise<unknown> {
  await using conn = new Connection("memory://");
  const queue = new Queue("typed", { exchange: new Exchange("typed") });
  const message: Message = await conn.simpleQueue(queue.name).get({ timeout: 1 });
  const socket: Socket = await connectSocket({ hostname: "127.0.0.1", port: 5672 });
  await socket.close();
  void conformanceSuite;
  const app = new Celery({ broker: "memory://", backend: "rpc://" });
  app.task("add", ([a, b]: number[], _kwargs, ctx: TaskContext) => a + b + ctx.retries);
  await app.close();
  await serializers.load("yaml");
  return message.payload;
}
`;

describe("the npm package, installed from its tarball", () => {
  let lean = "";
  let full = "";

  before(() => {
    if (skip.reason) return;
    tarball();
    lean = makeProject("lean");
    full = makeProject("full", [
      peerSpec("amqplib"),
      peerSpec("ioredis"),
      peerSpec("yaml"),
      peerSpec("msgpackr"),
      peerSpec("@aws-sdk/client-sqs"),
      peerSpec("bzip2-wasm"),
      peerSpec("node-liblzma"),
      "@types/node@20",
    ]);
    for (const dir of [lean, full]) {
      writeFileSync(join(dir, "esm.mjs"), ESM_CONSUMER);
      writeFileSync(join(dir, "cjs.cjs"), CJS_CONSUMER);
      writeFileSync(join(dir, "consumer.ts"), TS_CONSUMER);
    }
    writeFileSync(join(lean, "missing.mjs"), MISSING_PEERS);
    writeFileSync(join(full, "peers.mjs"), WITH_PEERS);
  });

  after(() => {
    if (skip.reason) return;
    for (const dir of [lean, full]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    "passes publint and arethetypeswrong (ESM-only profile: require(esm) serves CommonJS)",
    skip.options(),
    () => {
      const lint = ok(bin("publint"), ["--strict", tarball()], lean);
      assert.match(lint, /All good/);
      // The esm-only profile leaves out node10 (no exports map) and TypeScript's node16-cjs
      // model, which predates require(esm); the CommonJS test below runs require on Node itself.
      const types = run(
        bin("attw"),
        ["--profile", "esm-only", "--format", "json", tarball()],
        lean,
      );
      assert.equal(types.status, 0, types.stdout + types.stderr);
      const { problems } = JSON.parse(types.stdout).analysis as {
        problems: { kind: string; resolutionKind?: string }[];
      };
      const ignored = new Set(["node10", "node16-cjs"]);
      assert.deepEqual(problems.filter((p) => !ignored.has(p.resolutionKind ?? "")), []);
    },
  );

  it(
    "installs no optional peer unless asked (a memory, amqp or redis user gets none)",
    skip.options(),
    () => {
      const installed = readdirSync(join(lean, "node_modules")).filter((n) => !n.startsWith("."));
      // The command line's own dependencies (commander, cli-progress, cli-table3 and theirs)
      // come along; no optional peer does.
      for (const peer of ["amqplib", "ioredis", "yaml", "msgpackr", "@aws-sdk"]) {
        assert.ok(!installed.includes(peer), `${peer} was installed: ${installed.join(" ")}`);
      }
      for (const dep of ["commander", "cli-progress", "cli-table3"]) {
        assert.ok(installed.includes(dep), `${dep} is missing: ${installed.join(" ")}`);
      }
      assert.deepEqual(readdirSync(join(lean, "node_modules/@wakame")), ["wakame"]);
    },
  );

  it("runs the wakame command from the installed tarball (npx wakame)", skip.options(), () => {
    const help = ok("npx", ["--no-install", "wakame", "--help"], lean);
    assert.match(help, /Usage: wakame/);
    const bench = ok("npx", ["--no-install", "wakame", "bench", "memory://", "-n", "50"], lean);
    assert.match(bench, /│ consume +│ 50 +│/);
  });

  for (const [label, node] of [["Node 20", "node"], ["Node 24", NODE24]] as const) {
    it(`runs the README example as ESM on ${label}: memory, amqp, redis`, skip.options(), () => {
      const out = ok(node, ["esm.mjs", "memory://", AMQP_URL, REDIS_URL], lean);
      assert.deepEqual(JSON.parse(out), [
        ["memory", { name: "clip.mp4" }, true],
        ["amqp", { name: "clip.mp4" }, true],
        ["redis", { name: "clip.mp4" }, true],
      ]);
    });

    it(
      `loads with require() on ${label} (require(esm)): memory, amqp, redis`,
      skip.options(),
      () => {
        const out = ok(node, ["cjs.cjs", "memory://", AMQP_URL, REDIS_URL], lean);
        assert.deepEqual(JSON.parse(out), [
          ["memory", { from: "require" }],
          ["amqp", { from: "require" }],
          ["redis", { from: "require" }],
        ]);
      },
    );
  }

  it("runs the README example on Bun: memory, amqp, redis", skip.options(), () => {
    const out = ok(bin("bun"), ["esm.mjs", "memory://", AMQP_URL, REDIS_URL], lean);
    assert.equal(JSON.parse(out).length, 3);
    assert.deepEqual(JSON.parse(out)[2], ["redis", { name: "clip.mp4" }, true]);
  });

  it(
    "runs the README example on Deno from the npm package (node_modules resolution)",
    skip.options(),
    () => {
      const out = ok(
        bin("deno"),
        ["run", "-A", "esm.mjs", "memory://", AMQP_URL, REDIS_URL],
        lean,
        {
          DENO_DIR: join(lean, ".deno"),
        },
      );
      assert.deepEqual(JSON.parse(out).map((row: unknown[]) => row[0]), [
        "memory",
        "amqp",
        "redis",
      ]);
    },
  );

  it(
    "resolves no npm package for a memory-only Deno script from source (empty DENO_DIR)",
    skip.options(),
    () => {
      const denoDir = join(lean, ".deno-source");
      writeFileSync(
        join(lean, "memory_only.ts"),
        `import { Connection } from ${JSON.stringify(join(root, "mod.ts"))};
const conn = new Connection("memory://");
const queue = conn.simpleQueue("only-memory");
await queue.put({ ok: true });
const message = await queue.get({ timeout: 1000 });
await message.ack();
await conn.close();
console.log(JSON.stringify(message.payload));
`,
      );
      // --no-config: as a JSR user's project, which has no import map of wakame's own.
      const env = { DENO_DIR: denoDir };
      const out = ok(bin("deno"), ["run", "-A", "--no-config", "memory_only.ts"], lean, env);
      assert.equal(out.trim(), '{"ok":true}');
      const info = ok(bin("deno"), ["info", "--no-config", "memory_only.ts"], lean, env);
      assert.doesNotMatch(info, /npm:/);
      const npmCache = join(denoDir, "npm");
      const cached = existsSync(npmCache) ? readdirSync(npmCache) : [];
      assert.deepEqual(cached, [], `npm packages downloaded: ${cached.join(", ")}`);
    },
  );

  it(
    "names the missing optional package and its install line for each feature",
    skip.options(),
    () => {
      const out = JSON.parse(ok("node", ["missing.mjs"], lean)) as Record<string, string>;
      for (
        const name of [
          "amqplib",
          "ioredis",
          "yaml",
          "msgpackr",
          "@aws-sdk/client-sqs",
          "bzip2-wasm",
          "node-liblzma",
          "postgres",
          "mysql2",
          // Node 20 has no node:sqlite: SQLite needs the package there.
          ...(out.nodeMajor === "20" ? ["better-sqlite3"] : []),
        ]
      ) {
        assert.match(out[name], /^ConfigurationError: /, `${name}: ${out[name]}`);
        assert.ok(out[name].includes(`npm install ${name}`), `${name}: ${out[name]}`);
      }
    },
  );

  it(
    "uses the optional peers once they are installed (amqplib, ioredis, yaml, msgpackr, bzip2-wasm, node-liblzma)",
    skip.options(),
    () => {
      const out = ok("node", ["peers.mjs"], full);
      assert.deepEqual(JSON.parse(out), [
        ["amqplib", "application/json", { via: "json" }],
        ["redis", "application/json", { via: "json" }],
        ["memory", "application/x-yaml", { via: "yaml" }],
        ["memory", "application/x-msgpack", { via: "msgpack" }],
        ["bzip2", "application/x-bz2", { via: "bzip2" }],
        ["lzma", "application/x-lzma", { via: "lzma" }],
        ["globals", "undefined", "undefined", 0],
      ]);
    },
  );

  const tscArgs = ["--strict", "--module", "nodenext", "--moduleResolution", "nodenext"];
  for (const skipLibCheck of [false, true]) {
    it(
      `type-checks every subpath with tsc --strict nodenext (skipLibCheck ${skipLibCheck}; no @types/node, no peers)`,
      skip.options(),
      () => {
        const result = run(
          bin("tsc"),
          [...tscArgs, "--noEmit", "--skipLibCheck", String(skipLibCheck), "consumer.ts"],
          lean,
        );
        assert.equal(result.status, 0, result.stdout + result.stderr);
      },
    );
  }

  it(
    "type-checks with @types/node and every peer installed, and catches a type error",
    skip.options(),
    () => {
      ok(bin("tsc"), [...tscArgs, "--noEmit", "consumer.ts"], full);
      writeFileSync(
        join(full, "wrong.ts"),
        'import { Connection } from "@wakame/wakame";\nexport const x: string = new Connection("memory://");\n',
      );
      const wrong = run(bin("tsc"), [...tscArgs, "--noEmit", "wrong.ts"], full);
      assert.notEqual(wrong.status, 0);
      assert.match(wrong.stdout, /TS2322/);
      assert.ok(existsSync(join(full, "node_modules/@wakame/wakame/mod.d.ts")));
    },
  );
});
