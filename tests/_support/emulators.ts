/**
 * Local stand-ins for the cloud queues, started and stopped by the tests: `fauxqs` for SQS and
 * `azurite` for Azure Storage Queues. Both run as child processes of the system `node` (Node 20,
 * or `WAKAME_EMULATOR_NODE`) on 127.0.0.1 and a free port, whatever runtime runs the test, and
 * are ready when they print their address.
 *
 * Use from `node:test`:
 * ```ts ignore
 * const skip = envSkip(import.meta.url, await emulatorSkipReason("fauxqs"));
 * describe("...", () => {
 *   let sqs: Emulator | undefined;
 *   before(async () => {
 *     if (skip.reason) return;
 *     sqs = await startFauxqs();
 *   });
 *   after(() => sqs?.stop());
 *   it("...", skip.options(), async () => {});
 * });
 * ```
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { inCi } from "./brokers.ts";

/** A running emulator. */
export interface Emulator {
  /** Base URL, such as `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Its port. */
  readonly port: number;
  /** Stops the process (idempotent). */
  stop(): Promise<void>;
}

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
/** Azurite's well-known development key (public, documented by Microsoft). */
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const root = new URL("../../", import.meta.url);
const FAUXQS_APP = fileURLToPath(new URL("node_modules/fauxqs/dist/app.js", root));
const AZURITE_QUEUE = fileURLToPath(
  new URL("node_modules/azurite/dist/src/queue/main.js", root),
);

function nodeBinary(): string {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process
    ?.env;
  return env?.WAKAME_EMULATOR_NODE ?? "node";
}

/**
 * Decides whether emulator tests run: `false`, or why they are skipped. In CI a missing
 * emulator package fails instead.
 *
 * @param name which emulator
 */
export function emulatorSkipReason(name: "fauxqs" | "azurite"): Promise<string | false> {
  const file = name === "fauxqs" ? FAUXQS_APP : AZURITE_QUEUE;
  if (existsSync(file)) return Promise.resolve(false);
  const reason = `${name} is not installed (npm install in the repository)`;
  if (inCi) throw new Error(`${reason}; CI needs it`);
  return Promise.resolve(reason);
}

function launch(
  name: string,
  args: string[],
  ready: RegExp,
  timeoutMs = 30_000,
): Promise<Emulator> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(nodeBinary(), args, {
      cwd: tmpdir(),
      stdio: ["ignore", "pipe", "pipe"],
      // Azurite would take other accounts from AZURITE_ACCOUNTS: the tests use the default one.
      env: Object.fromEntries(
        Object.entries(process.env).filter(([key]) => key !== "AZURITE_ACCOUNTS"),
      ) as Record<string, string>,
    });
    let output = "";
    let settled = false;
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    };
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop();
      reject(new Error(`Cannot start ${name}: ${why}\n${output.slice(-2000)}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match && !settled) {
        settled = true;
        clearTimeout(timer);
        const url = match[1].replace(/\/$/, "");
        resolve({ url, port: Number(new URL(url).port), stop });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", (error) => fail(String(error)));
    child.once("exit", (code, signal) => fail(`exited with ${code ?? signal}`));
  });
}

/**
 * Starts fauxqs (an SQS emulator speaking the JSON protocol) on 127.0.0.1 and a free port.
 * Queue URLs it hands out use the address the request went to.
 *
 * @returns the running emulator
 */
export function startFauxqs(): Promise<Emulator> {
  const code = [
    "const { buildApp } = await import(process.argv[1]);",
    "const app = buildApp({ logger: false });",
    'const address = await app.listen({ port: 0, host: "127.0.0.1" });',
    'console.log("FAUXQS " + address);',
    'process.on("SIGTERM", () => app.close().then(() => process.exit(0)));',
  ].join("\n");
  return launch(
    "fauxqs",
    ["--input-type=module", "-e", code, new URL(`file://${FAUXQS_APP}`).href],
    /FAUXQS (http:\/\/127\.0\.0\.1:\d+)/,
  );
}

/**
 * Starts Azurite's queue service in memory (`--inMemoryPersistence --disableTelemetry`) on
 * 127.0.0.1 and a free port. Account `devstoreaccount1`, key {@link AZURITE_KEY}.
 *
 * @returns the running emulator; its `url` is the service root, the account URL is
 *   `${url}/devstoreaccount1`
 */
export function startAzurite(): Promise<Emulator> {
  return launch(
    "azurite",
    [
      AZURITE_QUEUE,
      "--queueHost",
      "127.0.0.1",
      "--queuePort",
      "0",
      "--inMemoryPersistence",
      "--disableTelemetry",
      "--silent",
      "--loose",
    ],
    /listens on (http:\/\/127\.0\.0\.1:\d+)/,
  );
}
