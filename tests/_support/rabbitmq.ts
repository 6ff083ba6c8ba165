/**
 * The local RabbitMQ, driven with `rabbitmqctl`: forced closes for recovery tests, and a TLS
 * listener added at test time (no broker configuration outside the repository).
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs `rabbitmqctl` with the arguments.
 *
 * @returns its standard output
 */
export function rabbitmqctl(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("rabbitmqctl", args, { timeout: 30000 }, (error, stdout) => {
      if (error) reject(error);
      else resolve(String(stdout));
    });
  });
}

/** A free TCP port on 127.0.0.1 (free when asked). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** A TLS listener added to the running broker. */
export interface TlsListener {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Removes the listener and its certificate files. */
  stop(): Promise<void>;
}

/**
 * Adds an AMQP-over-TLS listener on 127.0.0.1 to the local RabbitMQ, serving `cert` and `key`;
 * with `clientCa` it also demands a client certificate signed by that CA (mutual TLS). The files
 * go to a folder the broker's own user can read.
 *
 * @param pem the server certificate and key (PEM), and the CA of client certificates
 * @returns the listener
 * @throws {Error} when rabbitmqctl is missing or the broker refuses the listener
 */
export async function startTlsListener(
  pem: { cert: string; key: string; clientCa?: string },
): Promise<TlsListener> {
  const dir = mkdtempSync(join(tmpdir(), "wakame-rabbitmq-tls-"));
  chmodSync(dir, 0o755);
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o644 });
    return path;
  };
  const options = [
    `{certfile, "${file("cert.pem", pem.cert)}"}`,
    `{keyfile, "${file("key.pem", pem.key)}"}`,
  ];
  if (pem.clientCa !== undefined) {
    options.push(
      `{cacertfile, "${file("client-ca.pem", pem.clientCa)}"}`,
      "{verify, verify_peer}",
      "{fail_if_no_peer_cert, true}",
    );
  }
  const port = await freePort();
  const spec = `{"127.0.0.1", ${port}}`;
  try {
    const out = await rabbitmqctl(
      "eval",
      `rabbit_networking:start_ssl_listener(${spec}, [${options.join(", ")}], 1).`,
    );
    if (out.trim() !== "ok") throw new Error(`RabbitMQ refused the TLS listener: ${out.trim()}`);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    async stop() {
      try {
        await rabbitmqctl("eval", `rabbit_networking:stop_tcp_listener(${spec}).`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Closes (`rabbitmqctl close_connection`) every broker connection whose client properties carry
 * `connectionName`, and only those: the shared broker's other clients are left alone.
 *
 * @returns how many were closed
 */
export async function closeConnectionsNamed(connectionName: string): Promise<number> {
  const rows = await rabbitmqctl("list_connections", "pid", "client_properties", "-q");
  const pids = rows.split("\n").filter((l) => l.includes(connectionName)).map((l) =>
    l.split("\t")[0]
  );
  for (const pid of pids) await rabbitmqctl("close_connection", pid, "test");
  return pids.length;
}
