/**
 * The Pyro transport, wire-compatible with Python Kombu's (`kombu.transport.pyro`): Kombu's
 * broker daemon (`python3 -m kombu.transport.pyro`, Pyro4), found through a Pyro4 name server,
 * spoken to in Pyro4's binary protocol (version 48, serpent payloads) over wakame's socket seam,
 * so it runs on Deno, Bun and Node.
 *
 * URL: `pyro://host/kombu.broker` (Kombu's form): the name server at `host` (port 9090, or the
 * URL's; Kombu always uses 9090), the broker registered there under the path (`kombu.broker`
 * when empty).
 *
 * Options (`transportOptions`, see {@link PyroTransportOptions}): `requestTimeout` (ms, default
 * 10 000), `socketFactory`, and the virtual base's `pollingInterval`, `topicRules`,
 * `queueOrderStrategy`. Kombu's Pyro transport has none of its own.
 *
 * Layout (as Kombu): the daemon's `KombuBroker` keeps a Python `Queue` per queue name; a
 * message is Kombu's envelope dict, put with `put(queue, message)` after `new_queue(queue)` and
 * taken with `get(queue)` (`queue.Empty` when there is none). Nothing is persistent: the daemon
 * keeps messages in its memory only.
 *
 * Acknowledgement: the daemon has no lease. As in Kombu, a taken message exists only in the
 * consumer's memory until it is acknowledged; a rejected-with-requeue or unacknowledged one goes
 * back with `put` when the channel closes, a consumer killed with messages in hand loses them.
 *
 * Recovery: a restarted daemon (it registers again with the name server, on a new port) is
 * looked up again on the next call; calls made while it is away fail and a consumer polls on.
 *
 * Capabilities: direct, topic, fanout and headers exchanges with bindings in the process (as in
 * Kombu's virtual transports); FIFO per queue. No priority, TTL, confirms, persistence or
 * fanout to other processes.
 *
 * @example
 * ```ts ignore
 * import { Connection } from "@wakame/wakame";
 * import "@wakame/wakame/pyro";
 * await using connection = new Connection("pyro://127.0.0.1/kombu.broker");
 * const queue = await connection.simpleQueue("tasks");
 * await queue.put({ hello: "pyro" });
 * ```
 *
 * @module
 */

import { ConnectionError } from "../../src/errors.ts";
import { connectSocket } from "../../src/runtime/mod.ts";
import type { Capabilities, ConnectionParams, Transport } from "../../src/transport.ts";
import type { QueueBackend } from "../../src/virtual/backend.ts";
import { virtualTransport } from "../../src/virtual/transport.ts";
import { registerTransport } from "../../src/registry.ts";
import { PyroBackend } from "./backend.ts";
import { PYRO_DEFAULT_PORT, PYRO_OPTIONS, readPyroSettings } from "./options.ts";

export { PyroBackend } from "./backend.ts";
export {
  lookupPyroName,
  PYRO_NAME_SERVER,
  PyroCommunicationError,
  PyroConnection,
  type PyroConnectOptions,
  type PyroLocation,
  PyroRemoteError,
  readPyroUri,
} from "./client.ts";
export {
  PYRO_DEFAULT_BROKER_NAME,
  PYRO_DEFAULT_PORT,
  type PyroSettings,
  type PyroTransportOptions,
  readPyroSettings,
} from "./options.ts";
export {
  PyTuple,
  SERPENT_HEADER,
  serpentBytes,
  serpentDumps,
  SerpentError,
  serpentLoads,
  type SerpentValue,
} from "./serpent.ts";
export {
  decodePyroAnnotations,
  decodePyroHeader,
  encodePyroMessage,
  PYRO_HEADER_SIZE,
  PYRO_PROTOCOL_VERSION,
  type PyroHeader,
  PyroProtocolError,
} from "./protocol.ts";

/** What `pyro://` can do. */
export const pyroCapabilities: Capabilities = {
  exchangeTypes: ["direct", "topic", "fanout", "headers"],
  priority: "none",
  messageTtl: false,
  queueArguments: false,
  redeliveredFlag: true,
  confirms: false,
  mandatory: true,
  heartbeats: false,
  persistent: false,
  exclusive: false,
  exchangeBindings: false,
  crossProcess: false,
  fifo: true,
  queueEquivalence: false,
};

/**
 * Opens the Pyro store of one connection: looks the broker up and connects.
 *
 * @param params URL and options
 * @returns the store
 * @throws {ConfigurationError} for invalid options
 * @throws {ConnectionError} when the name server or the broker cannot be reached
 */
export async function openPyroBackend(params: ConnectionParams): Promise<QueueBackend> {
  const settings = readPyroSettings(params);
  const backend = new PyroBackend(settings, {
    socketFactory: settings.socketFactory ?? connectSocket,
    timeout: settings.requestTimeout,
  });
  try {
    await backend.connection();
  } catch (error) {
    throw new ConnectionError(
      `Cannot reach Kombu's Pyro broker "${settings.brokerName}" through the name server at ` +
        `${settings.nameServerHost}:${settings.nameServerPort}`,
      { cause: error },
    );
  }
  return backend;
}

/** The `pyro://` transport. */
export const PyroTransport: Transport = virtualTransport({
  name: "pyro",
  capabilities: pyroCapabilities,
  defaultPort: PYRO_DEFAULT_PORT,
  options: PYRO_OPTIONS,
  openBackend: openPyroBackend,
});

// Importing this module makes its URL scheme resolve to it (also in bundles, where the
// registry cannot load it by itself).
registerTransport(["pyro"], PyroTransport);
