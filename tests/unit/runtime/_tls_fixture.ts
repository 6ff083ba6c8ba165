/**
 * Test certificates made with `openssl` at test time: a CA, a server certificate it signs for
 * `wakame.test` and 127.0.0.1 (rustls refuses a self-signed CA used as the end entity), and a
 * client certificate for mutual TLS.
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
  /** A client certificate signed by the same CA (for mutual TLS). */
  clientCert: string;
  /** The client key. */
  clientKey: string;
  /** Where the CA certificate, the client certificate and the client key are, as PEM files. */
  files: { ca: string; clientCert: string; clientKey: string };
  /** Removes the files. */
  cleanup(): void;
}

/** Makes a fresh CA, and a server and a client certificate it signs, in a temp folder. */
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
  /** Issues a certificate signed by the CA; returns its PEM and key. */
  const issue = (name: string, subject: string, extensions: string) => {
    openssl(
      "req",
      ...ec,
      "-keyout",
      at(`${name}.key`),
      "-out",
      at(`${name}.csr`),
      "-subj",
      subject,
    );
    writeFileSync(at(`${name}.ext`), `basicConstraints=CA:FALSE\n${extensions}`);
    openssl(
      "x509",
      "-req",
      "-in",
      at(`${name}.csr`),
      "-CA",
      at("ca.pem"),
      "-CAkey",
      at("ca.key"),
      "-CAcreateserial",
      "-out",
      at(`${name}.pem`),
      "-days",
      "2",
      "-extfile",
      at(`${name}.ext`),
    );
    return {
      cert: readFileSync(at(`${name}.pem`), "utf8"),
      key: readFileSync(at(`${name}.key`), "utf8"),
    };
  };
  const server = issue(
    "server",
    "/CN=wakame.test",
    "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n" +
      "subjectAltName=DNS:wakame.test,IP:127.0.0.1\n",
  );
  const client = issue(
    "client",
    "/CN=wakame client",
    "keyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
  );
  return {
    ca: readFileSync(at("ca.pem"), "utf8"),
    cert: server.cert,
    key: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    files: { ca: at("ca.pem"), clientCert: at("client.pem"), clientKey: at("client.key") },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
