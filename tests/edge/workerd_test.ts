/**
 * Edge proof: a Worker bundled like wrangler bundles one (esbuild, one ESM file, browser
 * conditions) publishes to SQS (fauxqs) and Azure Storage Queues (Azurite) and uses
 * `memory://`, inside a real workerd; the messages are then read back from the emulators here.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Connection } from "../../src/connection.ts";
import { AzureStorageQueuesTransport } from "../../transports/azure_storage_queues/mod.ts";
import { SqsTransport } from "../../transports/sqs/mod.ts";
import {
  AZURITE_KEY,
  type Emulator,
  emulatorSkipReason,
  startAzurite,
  startFauxqs,
} from "../_support/emulators.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const workerd = join(root, "node_modules/.bin/workerd");
const esbuild = join(root, "node_modules/.bin/esbuild");
const skip = !existsSync(workerd) || !existsSync(esbuild)
  ? "workerd or esbuild is not installed (npm install)"
  : (await emulatorSkipReason("fauxqs")) || (await emulatorSkipReason("azurite"));

function freePort(): Promise<number> {
  return new Promise((ready) => {
    const probe = net.createServer();
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => ready(port));
    });
  });
}

/** Builds the Worker: returns its path and size in bytes (minified, as deployed). */
export function bundleWorker(outDir: string, minify: boolean): { file: string; bytes: number } {
  const file = join(outDir, minify ? "worker.min.js" : "worker.js");
  const built = spawnSync(esbuild, [
    join(here, "_worker.ts"),
    "--bundle",
    "--format=esm",
    "--platform=browser",
    "--conditions=workerd,worker,browser",
    "--external:cloudflare:sockets",
    "--external:node:*",
    // The registry's lazy imports of every transport (Redis, AMQP with their npm clients) are
    // left out: the Worker hands its transports to Connection itself.
    "--external:../transports/*",
    ...(minify ? ["--minify"] : []),
    `--outfile=${file}`,
    "--log-level=error",
  ]);
  assert.equal(built.status, 0, String(built.stderr));
  return { file, bytes: readFileSync(file).length };
}

describe("SQS, Azure and memory:// inside workerd", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "wakame-edge-"));
  let sqs: Emulator;
  let azurite: Emulator;
  let child: ChildProcess | undefined;
  let httpPort = 0;
  let bundle = "";
  let minified = 0;
  let azureConnectionString = "";

  before(async () => {
    [sqs, azurite] = await Promise.all([startFauxqs(), startAzurite()]);
    azureConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
      `AccountKey=${AZURITE_KEY};QueueEndpoint=${azurite.url}/devstoreaccount1;`;
    const plain = bundleWorker(dir, false);
    bundle = readFileSync(plain.file, "utf8");
    minified = bundleWorker(dir, true).bytes;
    httpPort = await freePort();
    writeFileSync(
      join(dir, "config.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (allow = ["local"]))
  ],
  sockets = [(name = "http", address = "127.0.0.1:${httpPort}", http = (), service = "main")]
);
const worker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "worker.min.js")],
  compatibilityDate = "2025-01-01",
  bindings = [
    (name = "SQS_ENDPOINT", text = "${sqs.url}"),
    (name = "AZURE_CONNECTION_STRING", text = "${azureConnectionString}")
  ],
);
`,
    );
    child = spawn(workerd, ["serve", join(dir, "config.capnp")], { stdio: "ignore" });
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await fetch(`http://127.0.0.1:${httpPort}/health`, { method: "HEAD" })
          .then((r) => r.body?.cancel());
        return;
      } catch {
        await new Promise((wait) => setTimeout(wait, 100));
      }
    }
    throw new Error("workerd did not start within 10 s");
  });

  after(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((done) => child!.once("exit", done));
      child.kill();
      await exited;
    }
    await Promise.all([sqs?.stop(), azurite?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("bundles into one file without static node: imports", (t) => {
    assert.doesNotMatch(bundle, /^\s*import\b[^;]*["']node:/m);
    t.diagnostic(`worker bundle: ${minified} bytes minified (${bundle.length} unminified)`);
  });

  it("publishes to SQS and Azure and round-trips memory:// from a Worker", async () => {
    const id = `w${Date.now().toString(36)}`;
    const response = await fetch(`http://127.0.0.1:${httpPort}/?id=${id}`);
    const answer = await response.json() as { ok: boolean; error?: string; memory?: unknown };
    assert.equal(answer.error, undefined);
    assert.deepEqual(answer, { ok: true, memory: { from: "workerd", id } });

    const fromSqs = new Connection("sqs://", {
      transport: SqsTransport,
      transportOptions: {
        endpoint: sqs.url,
        accessKeyId: "edge",
        secretAccessKey: "edge",
        waitTimeSeconds: 1,
      },
    });
    const fromAzure = new Connection("azurestoragequeues://", {
      transport: AzureStorageQueuesTransport,
      transportOptions: { connectionString: azureConnectionString },
    });
    try {
      for (const connection of [fromSqs, fromAzure]) {
        const simple = connection.simpleQueue(`edge-${id}`);
        const message = await simple.get({ timeout: 5000 });
        assert.deepEqual(message.payload, { from: "workerd", id });
        assert.equal(message.contentType, "application/json");
        await message.ack();
        await simple.close();
      }
    } finally {
      await Promise.all([fromSqs.close(), fromAzure.close()]);
    }
  });
});
