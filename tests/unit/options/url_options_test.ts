/**
 * The connection's own URL query options (Kombu's units) and Kombu's `ssl_*` keys, mapped onto
 * TlsOptions; the files they name are read when connecting.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveParams } from "../../../src/connection/params.ts";
import type { ConnectionOptions } from "../../../src/connection/options.ts";
import { ConfigurationError } from "../../../src/errors.ts";
import { readTlsFiles } from "../../../src/runtime/_tls_files.ts";
import "../../../transports/redis/mod.ts";
import "../../../transports/amqp/mod.ts";

async function params(url: string, options: ConnectionOptions = {}) {
  return (await resolveParams(url, options, new AbortController().signal)).params;
}

describe("URL query options of the connection", () => {
  it("reads heartbeat and connect_timeout in Kombu's seconds", async () => {
    const p = await params("amqp://h//?heartbeat=10&connect_timeout=2.5&frame_max=4096");
    assert.equal(p.heartbeat, 10);
    assert.equal(p.connectTimeout, 2500);
    assert.deepEqual(p.queryOptions, { frame_max: "4096" });
    // The connection's options win over the URL.
    const q = await params("amqp://h//?heartbeat=10", { heartbeat: 30_000, connectTimeout: 100 });
    assert.equal(q.heartbeat, 30);
    assert.equal(q.connectTimeout, 100);
  });

  it("turns TLS on with ?ssl=, any boolean spelling", async () => {
    assert.equal((await params("redis://h/0?ssl=yes")).ssl, true);
    assert.equal((await params("redis://h/0?ssl=0")).ssl, false);
    assert.equal((await params("rediss://h/0")).ssl, true);
    await assert.rejects(params("redis://h/0?ssl=maybe"), /"ssl" \(in the URL\) = "maybe"/);
  });

  it("maps Kombu's ssl_* keys onto TlsOptions", async () => {
    for (const value of ["none", "CERT_NONE"]) {
      assert.deepEqual((await params(`rediss://h/0?ssl_cert_reqs=${value}`)).ssl, {
        rejectUnauthorized: false,
      });
    }
    for (const value of ["required", "CERT_REQUIRED", "optional", "CERT_OPTIONAL"]) {
      assert.deepEqual((await params(`rediss://h/0?ssl_cert_reqs=${value}`)).ssl, {});
    }
    const files = await params(
      "amqps://h//?ssl_ca_certs=/etc/ca.pem&ssl_certfile=/etc/c.pem&ssl_keyfile=/etc/k.pem" +
        "&ssl_check_hostname=true",
    );
    assert.deepEqual(files.ssl, {
      caFile: "/etc/ca.pem",
      certFile: "/etc/c.pem",
      keyFile: "/etc/k.pem",
    });
    assert.deepEqual(files.queryOptions, {});
    // ssl_* keys turn TLS on, as in Kombu (the dict is truthy).
    assert.deepEqual((await params("redis://h/0?ssl_ca_certs=/ca.pem")).ssl, {
      caFile: "/ca.pem",
    });
    // `ssl: true` in code takes the URL's settings; TLS options in code replace them.
    assert.deepEqual((await params("redis://h/0?ssl_cert_reqs=none", { ssl: true })).ssl, {
      rejectUnauthorized: false,
    });
    assert.deepEqual((await params("redis://h/0?ssl_cert_reqs=none", { ssl: { ca: "x" } })).ssl, {
      ca: "x",
    });
  });

  it("refuses what it cannot honour, with the option's name", async () => {
    await assert.rejects(
      params("rediss://h/0?ssl_cert_reqs=maybe"),
      /"ssl_cert_reqs" \(in the URL\) = "maybe": expected "required", "optional", "none"/,
    );
    await assert.rejects(
      params("rediss://h/0?ssl_check_hostname=false"),
      (error: Error) =>
        error instanceof ConfigurationError && /ssl_cert_reqs=none skips both/.test(error.message),
    );
    assert.deepEqual(
      (await params("rediss://h/0?ssl_check_hostname=false&ssl_cert_reqs=none")).ssl,
      { rejectUnauthorized: false },
    );
  });
});

describe("readTlsFiles", () => {
  it("reads the named PEM files into ca, cert and key; text given wins", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wakame-tls-files-"));
    try {
      for (const name of ["ca", "cert", "key"]) writeFileSync(join(dir, name), `${name} pem`);
      assert.deepEqual(
        await readTlsFiles({
          caFile: join(dir, "ca"),
          certFile: join(dir, "cert"),
          keyFile: join(dir, "key"),
          rejectUnauthorized: true,
        }),
        { ca: "ca pem", cert: "cert pem", key: "key pem", rejectUnauthorized: true },
      );
      assert.deepEqual(await readTlsFiles({ ca: "given", caFile: join(dir, "ca") }), {
        ca: "given",
      });
      assert.equal(await readTlsFiles(true), true);
      await assert.rejects(
        readTlsFiles({ certFile: join(dir, "missing") }),
        (error: Error) =>
          error instanceof ConfigurationError &&
          error.message.includes(
            `Cannot read the TLS certificate (ssl_certfile) file "${join(dir, "missing")}"`,
          ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
