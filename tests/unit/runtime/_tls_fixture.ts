/**
 * Test certificates made with `openssl` at test time: a CA and a server certificate it signs
 * for `wakame.test` and 127.0.0.1 (rustls refuses a self-signed CA used as the end entity).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM material of the fixture. */
export interface TlsFixture {
  /** The CA certificate to trust. */
  ca: string;
  /** The server certificate (CN and SAN `wakame.test`, SAN IP 127.0.0.1). */
  cert: string;
  /** The server key. */
  key: string;
  /** Removes the files. */
  cleanup(): void;
}

/** Makes a fresh CA and server certificate in a temp folder. */
export function makeTlsFixture(): TlsFixture {
  const dir = mkdtempSync(join(tmpdir(), "wakame-tls-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=wakame test CA",
  );
  openssl(
    "req",
    ...ec,
    "-keyout",
    at("key.pem"),
    "-out",
    at("server.csr"),
    "-subj",
    "/CN=wakame.test",
  );
  writeFileSync(
    at("server.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n" +
      "subjectAltName=DNS:wakame.test,IP:127.0.0.1\n",
  );
  openssl(
    "x509",
    "-req",
    "-in",
    at("server.csr"),
    "-CA",
    at("ca.pem"),
    "-CAkey",
    at("ca.key"),
    "-CAcreateserial",
    "-out",
    at("cert.pem"),
    "-days",
    "2",
    "-extfile",
    at("server.ext"),
  );
  const fixture = {
    ca: readFileSync(at("ca.pem"), "utf8"),
    cert: readFileSync(at("cert.pem"), "utf8"),
    key: readFileSync(at("key.pem"), "utf8"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return fixture;
}
