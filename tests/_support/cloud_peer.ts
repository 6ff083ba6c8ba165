/**
 * Debian's Python Kombu 5.2.4 as a live peer on fauxqs and Azurite
 * (`tests/interop/python/cloud_kombu_peer.py`), with the two shims of `../shared/peers/` (a
 * folder beside the repository, read-only in CI; see its README). Without Kombu, its SDKs or the
 * shims the tests skip with the reason; in CI (`CI=true`) they fail.
 */
import assert from "node:assert/strict";
import type { Message } from "../../src/message.ts";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inCi } from "./brokers.ts";
import { AZURITE_ACCOUNT, AZURITE_KEY, type Emulator } from "./emulators.ts";
import { kombuSkipReason, PYTHON, runPython } from "./python.ts";

/** The shims' folder: `../shared/peers/` from the repository root. */
export const SHIMS: string = fileURLToPath(new URL("../../../shared/peers/", import.meta.url));
const PEER = fileURLToPath(new URL("../interop/python/cloud_kombu_peer.py", import.meta.url));

/**
 * Decides whether the live Kombu tests of one cloud queue run: `false`, or why not.
 *
 * @param kind which service
 * @throws {Error} in CI when Kombu, its SDK or the shims are missing
 */
export function cloudPeerSkipReason(kind: "sqs" | "azure"): string | false {
  const modules = kind === "sqs" ? ["kombu", "boto3"] : ["kombu", "azure.storage.queue"];
  const missing = kombuSkipReason(modules);
  if (missing) {
    return `${missing} (${kind === "sqs" ? "python3-boto3" : "python3-azure-storage"})`;
  }
  const shim = kind === "sqs" ? "sqs_json_model.py" : "kombu52_azure.py";
  if (existsSync(join(SHIMS, shim))) return false;
  const reason = `the Kombu 5.2 shim ${join(SHIMS, shim)} is missing ` +
    "(a copy of shared/peers/ beside the repository)";
  if (inCi) throw new Error(`${reason}; CI needs it`);
  return reason;
}

/** A decoded message as the peer reports it (Kombu's field names). */
export interface KombuMessage {
  payload: unknown;
  content_type: string;
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  routing_key: string;
  /** Kombu's `delivery_info["redelivered"]`. */
  redelivered: boolean;
  /** SQS's ApproximateReceiveCount when Kombu asked for it (5.2.4 does not). */
  receive_count: string | null;
}

/** Queue counts as Kombu's side sees them. */
export interface KombuCount {
  /** Messages that can be received. */
  visible: number;
  /** SQS: messages in flight (received, neither deleted nor visible again); Azure: null. */
  hidden: number | null;
}

/** One side of the interop: Kombu talking to a running emulator. */
export interface CloudPeer {
  /** The URL Kombu uses. */
  readonly url: string;
  /** Publishes a JSON message with headers and properties, then `"plain <&> text"`. */
  produce(queue: string): Promise<{ names: string[] }>;
  /**
   * Takes up to `n` messages, waiting up to `timeoutSeconds` for each, and acks them, or with
   * `crash` exits without ack or close (nothing given back, as a killed worker).
   */
  get(
    queue: string,
    n: number,
    timeoutSeconds: number,
    mode?: "ack" | "crash",
  ): Promise<KombuMessage[]>;
  /** Kombu's view of the queue's size. */
  count(queue: string): Promise<KombuCount>;
}

/**
 * A Kombu peer on fauxqs: botocore gets the JSON-protocol SQS model (written once per call into
 * a temporary folder given as `AWS_DATA_PATH`); Kombu creates queues with `visibilitySeconds`.
 *
 * @param sqs the running fauxqs
 * @param visibilitySeconds Kombu's `visibility_timeout` for the queues it creates
 */
export function sqsPeer(sqs: Emulator, visibilitySeconds: number): CloudPeer {
  const model = mkdtempSync(join(tmpdir(), "wakame-sqs-model-"));
  const made = spawnSync(PYTHON, [join(SHIMS, "sqs_json_model.py"), model], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`sqs_json_model.py failed: ${made.stderr}`);
  return peer("sqs", `sqs://interop:interop@127.0.0.1:${sqs.port}`, {
    AWS_DATA_PATH: model,
    PEER_VISIBILITY: String(visibilitySeconds),
  });
}

/**
 * A Kombu peer on Azurite: Kombu 5.2's URL form with the account key, its requests sent to
 * Azurite through the shim.
 *
 * @param azurite the running Azurite
 */
export function azurePeer(azurite: Emulator): CloudPeer {
  return peer(
    "azure",
    `azurestoragequeues://:${encodeURIComponent(AZURITE_KEY)}@${AZURITE_ACCOUNT}`,
    { INTEROP_AZURE_QUEUE_ENDPOINT: `${azurite.url}/${AZURITE_ACCOUNT}` },
  );
}

function peer(kind: "sqs" | "azure", url: string, env: Record<string, string>): CloudPeer {
  const run = async (queue: string, ...args: string[]) =>
    JSON.parse(
      await runPython(PEER, [kind, url, queue, ...args], 60_000, { ...env, PEER_SHIMS: SHIMS }),
    );
  return {
    url,
    produce: (queue) => run(queue, "produce"),
    get: (queue, n, timeoutSeconds, mode = "ack") =>
      run(queue, "get", String(n), String(timeoutSeconds), mode),
    count: (queue) => run(queue, "count"),
  };
}

/**
 * Reads the two messages the peer's `produce` publishes (JSON with headers and properties, then
 * text) through a SimpleQueue and checks every field crossed intact; acks both.
 *
 * @param simple wakame's SimpleQueue on the peer's queue
 * @param queue the queue's name (the routing key Kombu used)
 */
export async function takeKombuProduced(
  simple: { get(o: { timeout: number }): Promise<Message> },
  queue: string,
): Promise<void> {
  const first = await simple.get({ timeout: 5000 });
  assert.deepEqual(first.payload, { hello: "wörld", n: 1 });
  assert.equal(first.contentType, "application/json");
  assert.equal(first.headers["x-trace"], "t-1");
  assert.equal(first.correlationId, "corr-1");
  assert.equal(first.replyTo, "replies");
  assert.equal(first.properties.messageId, "mid-1");
  assert.equal(first.deliveryInfo.routingKey, queue);
  assert.equal(first.deliveryInfo.redelivered, false);
  await first.ack(); // SimpleQueue's prefetch is 1
  const second = await simple.get({ timeout: 5000 });
  assert.equal(second.payload, "plain <&> text");
  assert.equal(second.contentType, "text/plain");
  await second.ack();
}
