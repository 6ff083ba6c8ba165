/**
 * The README's edge recipe, from the packed tarball: two Workers (SQS, Azure Storage Queues)
 * import `@wakame/wakame` and a transport's subpath, bundle with esbuild's browser settings and
 * no other flag, run in a real workerd without `nodejs_compat`, round-trip `memory://` and
 * publish by URL alone; the messages are read back here. The SQS Worker's gzipped size is held
 * against `@aws-sdk/client-sqs` bundled alone (+ 45 KB: the declared options, with the one-line
 * docs their errors quote, and the credential providers added about 10 KB in December 2026).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Connection } from "../../src/connection.ts";
import "../../transports/sqs/mod.ts";
import "../../transports/azure_storage_queues/mod.ts";
import {
  AZURITE_KEY,
  type Emulator,
  emulatorSkipReason,
  startAzurite,
  startFauxqs,
} from "../_support/emulators.ts";
import { bin, makeProject, ok, peerSpec, root } from "./_package.ts";
import { envSkip } from "../_support/skips.ts";

const skip = envSkip(
  import.meta.url,
  (await emulatorSkipReason("fauxqs")) || (await emulatorSkipReason("azurite")),
);

/** The recipe's flags, and nothing else. */
const ESBUILD_RECIPE = [
  "--bundle",
  "--format=esm",
  "--platform=browser",
  "--conditions=workerd,worker,browser",
];

/** What both Workers do besides their own transport: a memory:// round trip. */
const MEMORY_ROUND_TRIP = `
async function memoryEcho(body) {
  const memory = new Connection("memory://");
  try {
    const simple = memory.simpleQueue("edge-memory");
    await simple.put(body);
    const echoed = await simple.get({ timeout: 1000 });
    await echoed.ack();
    return echoed.payload;
  } finally {
    await memory.close();
  }
}
`;

const worker = (subpath: string, urlBinding: string, options: Record<string, unknown>) => `
import { Connection } from "@wakame/wakame";
import "@wakame/wakame/${subpath}";
${MEMORY_ROUND_TRIP}
export default {
  async fetch(request, env) {
    const id = new URL(request.url).searchParams.get("id") ?? "none";
    const body = { from: "workerd", id };
    try {
      const memory = await memoryEcho(body);
      // The URL alone picks the transport: importing its subpath registered it.
      const connection = new Connection(env.${urlBinding}, {
        transportOptions: ${JSON.stringify(options)},
      });
      try {
        await connection.producer().publish(body, { routingKey: "edge-" + id });
      } finally {
        await connection.close();
      }
      return Response.json({ ok: true, memory });
    } catch (error) {
      return Response.json({ ok: false, error: String(error?.stack ?? error) });
    }
  },
};
`;

/** The smallest Worker that sends one message with the AWS SDK alone. */
const SDK_ONLY = `
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
export default {
  async fetch(request, env) {
    const client = new SQSClient({ region: "us-east-1", endpoint: env.SQS_ENDPOINT });
    await client.send(new SendMessageCommand({ QueueUrl: env.SQS_ENDPOINT, MessageBody: "x" }));
    return new Response("ok");
  },
};
`;

/** The README's "On the edge" Worker and esbuild command, as written there. */
function readmeRecipe(): { worker: string; args: string[] } {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## On the edge"));
  const worker = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  const command = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(worker && command, "README has the edge recipe's Worker and command");
  const args = command.replace(/\\\n/g, " ").trim().split(/\s+/);
  assert.deepEqual(args.slice(0, 2), ["npx", "esbuild"]);
  return { worker, args: args.slice(2) };
}

function freePort(): Promise<number> {
  return new Promise((ready) => {
    const probe = net.createServer();
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => ready(port));
    });
  });
}

describe("the edge recipe, from the packed tarball, in workerd", () => {
  let project = "";
  let sqs: Emulator;
  let azurite: Emulator;
  let child: ChildProcess | undefined;
  const ports = { sqs: 0, azure: 0, readme: 0 };
  let azureConnectionString = "";
  const bundles: Record<string, string> = {};
  const gzipped: Record<string, number> = {};

  /** Bundles `entry` by the recipe; returns the bundle text, and records its minified gzip size. */
  function bundle(name: string, source: string): string {
    writeFileSync(join(project, `${name}.mjs`), source);
    const out = join(project, `${name}.bundle.js`);
    ok(
      bin("esbuild"),
      [`${name}.mjs`, ...ESBUILD_RECIPE, `--outfile=${out}`, "--log-level=error"],
      project,
    );
    const min = join(project, `${name}.min.js`);
    ok(bin("esbuild"), [
      `${name}.mjs`,
      ...ESBUILD_RECIPE,
      "--minify",
      `--outfile=${min}`,
      "--log-level=error",
    ], project);
    gzipped[name] = gzipSync(readFileSync(min), { level: 9 }).length;
    return readFileSync(out, "utf8");
  }

  before(async () => {
    if (skip.reason) return;
    project = makeProject("edge", [peerSpec("@aws-sdk/client-sqs")]);
    [sqs, azurite] = await Promise.all([startFauxqs(), startAzurite()]);
    azureConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
      `AccountKey=${AZURITE_KEY};QueueEndpoint=${azurite.url}/devstoreaccount1;`;
    bundles.sqs = bundle(
      "worker_sqs",
      worker("sqs", "SQS_URL", { region: "us-east-1", waitTimeSeconds: 0 }),
    );
    bundles.azure = bundle("worker_azure", worker("azure-storage-queues", "AZURE_URL", {}));
    bundle("sdk_only", SDK_ONLY);
    const recipe = readmeRecipe();
    writeFileSync(join(project, "worker.ts"), recipe.worker);
    ok(bin("esbuild"), [...recipe.args, "--log-level=error"], project);
    [ports.sqs, ports.azure, ports.readme] = [await freePort(), await freePort(), await freePort()];
    const sqsUrl = `sqs://edge:edge@127.0.0.1:${sqs.port}`;
    writeFileSync(
      join(project, "config.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "sqs", worker = .sqsWorker),
    (name = "azure", worker = .azureWorker),
    (name = "readme", worker = .readmeWorker),
    (name = "internet", network = (allow = ["local"]))
  ],
  sockets = [
    (name = "sqs", address = "127.0.0.1:${ports.sqs}", http = (), service = "sqs"),
    (name = "azure", address = "127.0.0.1:${ports.azure}", http = (), service = "azure"),
    (name = "readme", address = "127.0.0.1:${ports.readme}", http = (), service = "readme")
  ]
);
const sqsWorker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "worker_sqs.bundle.js")],
  compatibilityDate = "2025-01-01",
  bindings = [(name = "SQS_URL", text = "${sqsUrl}")],
);
const azureWorker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "worker_azure.bundle.js")],
  compatibilityDate = "2025-01-01",
  bindings = [(name = "AZURE_URL", text = "azurestoragequeues://${azureConnectionString}")],
);
const readmeWorker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "dist/worker.js")],
  compatibilityDate = "2025-01-01",
  bindings = [(name = "SQS_URL", text = "${sqsUrl}")],
);
`,
    );
    child = spawn(bin("workerd"), ["serve", join(project, "config.capnp")], { stdio: "ignore" });
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        for (const port of Object.values(ports)) {
          await fetch(`http://127.0.0.1:${port}/health`, { method: "HEAD" }).then((r) =>
            r.body?.cancel()
          );
        }
        return;
      } catch {
        await new Promise((wait) => setTimeout(wait, 100));
      }
    }
    throw new Error("workerd did not start within 10 s");
  });

  after(async () => {
    if (skip.reason) return;
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((done) => child!.once("exit", done));
      child.kill();
      await exited;
    }
    await Promise.all([sqs?.stop(), azurite?.stop()]);
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("bundles without static node: or cloudflare: imports", skip.options(), () => {
    for (const text of Object.values(bundles)) {
      assert.doesNotMatch(text, /^\s*import\b[^;]*["'](node|cloudflare):/m);
      assert.doesNotMatch(text, /\brequire\(["']node:/);
    }
  });

  it(
    "keeps the SQS Worker within @aws-sdk/client-sqs alone + 45 KB, gzipped",
    skip.options(),
    (t) => {
      const budget = gzipped.sdk_only + 45 * 1024;
      t.diagnostic(
        `gzipped, minified: SQS Worker ${gzipped.worker_sqs} B, Azure Worker ${gzipped.worker_azure} B, ` +
          `@aws-sdk/client-sqs alone ${gzipped.sdk_only} B (budget ${budget} B)`,
      );
      assert.ok(gzipped.worker_sqs <= budget, `${gzipped.worker_sqs} > ${budget}`);
      // No optional package is in an edge bundle that does not use it (esbuild names every
      // bundled file in a comment).
      for (const text of Object.values(bundles)) {
        assert.doesNotMatch(
          text,
          /node_modules\/(msgpackr|yaml|ioredis|amqplib|bzip2-wasm|node-liblzma)\//,
        );
      }
    },
  );

  it("runs the README's Worker, built by the README's command", skip.options(), async () => {
    const response = await fetch(`http://127.0.0.1:${ports.readme}/`);
    assert.equal(await response.text(), "queued");
    const reader = new Connection(`sqs://edge:edge@127.0.0.1:${sqs.port}`, {
      transportOptions: { region: "us-east-1", waitTimeSeconds: 1 },
    });
    try {
      const simple = reader.simpleQueue("jobs");
      const message = await simple.get({ timeout: 5000 });
      assert.deepEqual(message.payload, { hello: "edge" });
      await message.ack();
      await simple.close();
    } finally {
      await reader.close();
    }
  });

  for (const kind of ["sqs", "azure"] as const) {
    it(
      `publishes to ${kind} by URL alone and round-trips memory:// inside workerd`,
      skip.options(),
      async () => {
        const id = `w${kind}${Date.now().toString(36)}`;
        const response = await fetch(`http://127.0.0.1:${ports[kind]}/?id=${id}`);
        const answer = await response.json() as { ok: boolean; error?: string; memory?: unknown };
        assert.equal(answer.error, undefined);
        assert.deepEqual(answer, { ok: true, memory: { from: "workerd", id } });
        const reader = kind === "sqs"
          ? new Connection(`sqs://edge:edge@127.0.0.1:${sqs.port}`, {
            transportOptions: { region: "us-east-1", waitTimeSeconds: 1 },
          })
          : new Connection(`azurestoragequeues://${azureConnectionString}`);
        try {
          const simple = reader.simpleQueue(`edge-${id}`);
          const message = await simple.get({ timeout: 5000 });
          assert.deepEqual(message.payload, { from: "workerd", id });
          await message.ack();
          await simple.close();
        } finally {
          await reader.close();
        }
      },
    );
  }
});
