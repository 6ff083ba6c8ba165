/**
 * The Cloudflare adapter inside a real workerd: the runtime seam is bundled like wrangler
 * bundles a Worker (esbuild, one file, no code splitting), served by workerd, and asked to echo
 * bytes through `cloudflare:sockets` to servers on 127.0.0.1.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeTlsFixture, type TlsFixture } from "./_tls_fixture.ts";
import { envSkip } from "../../_support/skips.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const workerd = join(root, "node_modules/.bin/workerd");
const esbuild = join(root, "node_modules/.bin/esbuild");
const skip = envSkip(
  import.meta.url,
  existsSync(workerd) && existsSync(esbuild)
    ? false
    : "workerd or esbuild is not installed (npm install)",
);

function listen(server: net.Server): Promise<number> {
  return new Promise((ready) =>
    server.listen(0, "127.0.0.1", () => ready((server.address() as net.AddressInfo).port))
  );
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  const port = await listen(probe);
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

interface WorkerAnswer {
  runtime: string;
  adapter?: string;
  received?: number;
  same?: boolean;
  error?: string;
  message?: string;
}

describe("cloudflare adapter in workerd", () => {
  const dir = mkdtempSync(join(tmpdir(), "wakame-workerd-"));
  let fixture: TlsFixture;
  let plain: net.Server;
  let secure: tls.Server;
  let plainPort = 0;
  let securePort = 0;
  let httpPort = 0;
  let child: ChildProcess | undefined;
  let bundle = "";

  async function ask(query: string): Promise<WorkerAnswer> {
    const response = await fetch(`http://127.0.0.1:${httpPort}/?${query}`);
    return await response.json() as WorkerAnswer;
  }

  before(async () => {
    if (skip.reason) return;
    fixture = makeTlsFixture();
    plain = net.createServer((peer) => {
      peer.on("error", () => undefined);
      peer.pipe(peer);
    });
    secure = tls.createServer({ key: fixture.key, cert: fixture.cert }, (peer) => {
      peer.on("error", () => undefined);
      peer.pipe(peer);
    });
    secure.on("tlsClientError", () => undefined);
    plainPort = await listen(plain);
    securePort = await listen(secure);
    const built = spawnSync(esbuild, [
      join(here, "_workerd_entry.ts"),
      "--bundle",
      "--format=esm",
      "--platform=neutral",
      "--external:cloudflare:sockets",
      "--external:node:*",
      `--outfile=${join(dir, "worker.js")}`,
      "--log-level=error",
    ]);
    assert.equal(built.status, 0, String(built.stderr));
    bundle = readFileSync(join(dir, "worker.js"), "utf8");
    writeFileSync(join(dir, "ca.pem"), fixture.ca);
    httpPort = await freePort();
    writeFileSync(
      join(dir, "config.capnp"),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (
      allow = ["local"],
      tlsOptions = (trustedCertificates = [embed "ca.pem"])
    ))
  ],
  sockets = [(name = "http", address = "127.0.0.1:${httpPort}", http = (), service = "main")]
);
const worker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "worker.js")],
  compatibilityDate = "2025-01-01",
);
`,
    );
    child = spawn(workerd, ["serve", join(dir, "config.capnp")], { stdio: "ignore" });
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await fetch(`http://127.0.0.1:${httpPort}/?port=0`).then((r) => r.body?.cancel());
        return;
      } catch {
        await new Promise((wait) => setTimeout(wait, 100));
      }
    }
    throw new Error("workerd did not start within 10 s");
  });

  after(async () => {
    if (skip.reason) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((done) => child!.once("exit", done));
      child.kill();
      await exited;
    }
    await new Promise<void>((done) => plain.close(() => done()));
    await new Promise<void>((done) => secure.close(() => done()));
    fixture.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("bundles without static node: imports (they load only on Node)", skip.options(), () => {
    assert.doesNotMatch(bundle, /^\s*import\b[^;]*["']node:/m);
    // node:net is loaded by a computed specifier (src/_import.ts), which no bundler follows.
    assert.doesNotMatch(bundle, /import\(\s*["']node:/);
    assert.match(bundle, /importHidden\(\s*["']node:net["']\)/, "node:net stays a lazy import");
  });

  it("picks the cloudflare adapter and round-trips bytes", skip.options(), async () => {
    const answer = await ask(`port=${plainPort}`);
    assert.deepEqual(answer, {
      runtime: "cloudflare",
      adapter: "CloudflareSocket",
      received: 256 * 1024,
      same: true,
    });
  });

  it(
    "speaks TLS when asked (secureTransport on), verified against the trusted CA",
    skip.options(),
    async () => {
      const answer = await ask(`port=${securePort}&tls=true`);
      assert.equal(answer.error, undefined, answer.message ?? "");
      assert.equal(answer.same, true);
    },
  );

  it("never falls back to plain text: TLS to a plain server fails", skip.options(), async () => {
    const answer = await ask(`port=${plainPort}&tls=true`);
    assert.equal(answer.error, "ConnectionError");
  });

  it("refuses TLS settings Workers cannot honour", skip.options(), async () => {
    const answer = await ask(`port=${securePort}&tls=${encodeURIComponent('{"ca":"x"}')}`);
    assert.equal(answer.error, "ConfigurationError");
  });

  it("reports a closed port as ConnectionError", skip.options(), async () => {
    const answer = await ask(`port=${await freePort()}`);
    assert.equal(answer.error, "ConnectionError");
    assert.match(answer.message ?? "", /^Cannot connect to 127\.0\.0\.1:\d+: /);
  });
});
