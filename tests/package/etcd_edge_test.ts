/**
 * The etcd transport on the edge: a Worker importing `mod.ts` and `transports/etcd/mod.ts` from
 * the sources, bundled with esbuild's browser settings, runs in a real workerd without
 * `nodejs_compat`, publishes to and consumes from a private etcd over `fetch` alone; what it
 * published is read back here, what was published here it consumes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connection, Queue } from "../../mod.ts";
import { EtcdTransport } from "../../transports/etcd/mod.ts";
import { type EtcdServer, etcdSkipReason, freePort, startEtcd } from "../_support/etcd_server.ts";
import { envSkip } from "../_support/skips.ts";
import { bin, ok, root } from "./_package.ts";

const skip = envSkip(import.meta.url, etcdSkipReason());

const WORKER = `
import { Connection } from "${root}/mod.ts";
import "${root}/transports/etcd/mod.ts";
export default {
  async fetch(request, env) {
    const id = new URL(request.url).searchParams.get("id");
    const connection = new Connection(env.ETCD_URL);
    try {
      await connection.producer().publish({ from: "workerd", id }, { routingKey: "from-edge-" + id });
      const simple = connection.simpleQueue("to-edge-" + id);
      const message = await simple.get({ timeout: 5000 });
      await message.ack();
      await simple.close();
      return Response.json({ ok: true, got: message.payload });
    } catch (error) {
      return Response.json({ ok: false, error: String(error?.stack ?? error) });
    } finally {
      await connection.close();
    }
  },
};
`;

describe("etcd in workerd (fetch only)", () => {
  let etcd: EtcdServer | undefined;
  let project = "";
  let child: ChildProcess | undefined;
  let port = 0;
  let bundle = "";

  before(async () => {
    if (skip.reason) return;
    etcd = await startEtcd();
    project = mkdtempSync(join(tmpdir(), "wakame-etcd-edge-"));
    writeFileSync(join(project, "worker.mjs"), WORKER);
    const out = join(project, "worker.bundle.js");
    ok(bin("esbuild"), [
      "worker.mjs",
      "--bundle",
      "--format=esm",
      "--platform=browser",
      "--conditions=workerd,worker,browser",
      `--outfile=${out}`,
      "--log-level=error",
    ], project);
    bundle = readFileSync(out, "utf8");
    port = await freePort();
    writeFileSync(
      join(project, "config.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "etcd", worker = .etcdWorker),
    (name = "internet", network = (allow = ["local"]))
  ],
  sockets = [(name = "etcd", address = "127.0.0.1:${port}", http = (), service = "etcd")]
);
const etcdWorker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "worker.bundle.js")],
  compatibilityDate = "2025-01-01",
  bindings = [(name = "ETCD_URL", text = "etcd://127.0.0.1:${etcd.port}")],
);
`,
    );
    child = spawn(bin("workerd"), ["serve", join(project, "config.capnp")], { stdio: "ignore" });
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await fetch(`http://127.0.0.1:${port}/health`, { method: "HEAD" }).then((r) =>
          r.body?.cancel()
        );
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
    await etcd?.stop();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("bundles without static node: or cloudflare: imports", skip.options(), () => {
    assert.doesNotMatch(bundle, /^\s*import\b[^;]*["'](node|cloudflare):/m);
    assert.doesNotMatch(bundle, /\brequire\(["']node:/);
  });

  it("publishes and consumes from a Worker", skip.options(), async () => {
    const id = crypto.randomUUID().slice(0, 8);
    await using here = new Connection(`etcd://127.0.0.1:${etcd!.port}`, {
      transport: EtcdTransport,
    });
    await here.producer().publish({ from: "test", id }, { routingKey: `to-edge-${id}` });
    const answer = await (await fetch(`http://127.0.0.1:${port}/?id=${id}`)).json();
    assert.deepEqual(answer, { ok: true, got: { from: "test", id } });
    await using simple = here.simpleQueue(new Queue(`from-edge-${id}`));
    const message = await simple.get({ timeout: 5000 });
    assert.deepEqual(message.payload, { from: "workerd", id });
    await message.ack();
  });
});
