import assert from "node:assert/strict";
import { createServer, type Server, type Socket as NetSocket } from "node:net";
import { after, before, describe, it } from "node:test";
import { connectSocket } from "../../../src/runtime/mod.ts";
import { PyroBackend } from "../../../transports/pyro/backend.ts";
import {
  lookupPyroName,
  PyroCommunicationError,
  PyroConnection,
  PyroRemoteError,
  readPyroUri,
} from "../../../transports/pyro/client.ts";
import {
  decodePyroHeader,
  encodePyroMessage,
  FLAGS_EXCEPTION,
  MSG_CONNECT,
  MSG_CONNECTOK,
  MSG_RESULT,
} from "../../../transports/pyro/protocol.ts";
import { serpentDumps, serpentLoads, type SerpentValue } from "../../../transports/pyro/serpent.ts";
import type { StoredMessage } from "../../../src/virtual/backend.ts";

type Handler = (object: string, method: string, args: SerpentValue[]) => SerpentValue;

/** A fake Pyro daemon: answers the handshake, then calls through `handler` (throw = exception). */
class FakeDaemon {
  server!: Server;
  port = 0;
  readonly sockets = new Set<NetSocket>();
  calls: string[] = [];
  handler: Handler;
  constructor(handler: Handler) {
    this.handler = handler;
  }

  async start(): Promise<this> {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      let buffer = new Uint8Array(0);
      socket.on("data", (chunk: Uint8Array) => {
        buffer = new Uint8Array([...buffer, ...chunk]);
        while (buffer.length >= 24) {
          const h = decodePyroHeader(buffer);
          const end = 24 + h.annotationsSize + h.dataSize;
          if (buffer.length < end) return;
          const payload = serpentLoads(buffer.subarray(24 + h.annotationsSize, end));
          buffer = buffer.slice(end);
          if (h.type === MSG_CONNECT) {
            socket.write(encodePyroMessage(MSG_CONNECTOK, 0, h.seq, serpentDumps("hello")));
            continue;
          }
          const [object, method, args] = payload as [string, string, SerpentValue[]];
          this.calls.push(method);
          try {
            const result = this.handler(object, method, args);
            if (result === "HANG") return;
            if (result === "HANGUP") return void socket.destroy();
            socket.write(encodePyroMessage(MSG_RESULT, 0, h.seq, serpentDumps(result)));
          } catch (error) {
            const exception = {
              __class__: (error as Error).message,
              __exception__: true,
              args: ["no"],
              attributes: {},
            };
            socket.write(
              encodePyroMessage(MSG_RESULT, FLAGS_EXCEPTION, h.seq, serpentDumps(exception)),
            );
          }
        }
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** KombuBroker's methods over a Map, raising as the Python daemon does. */
function brokerHandler(queues: Map<string, SerpentValue[]>): Handler {
  return (_object, method, [queue, message]) => {
    const name = String(queue);
    const q = queues.get(name);
    switch (method) {
      case "new_queue":
        if (!q) queues.set(name, []);
        return null;
      case "put":
        if (!q) throw new Error("builtins.KeyError");
        q.push(message);
        return null;
      case "get":
        if (!q) throw new Error("builtins.KeyError");
        if (!q.length) throw new Error("_queue.Empty");
        return q.shift()!;
      case "size":
        if (!q) throw new Error("builtins.KeyError");
        return q.length;
      case "has_queue":
        return queues.has(name);
      case "delete":
        if (!queues.delete(name)) throw new Error("builtins.KeyError");
        return null;
    }
    throw new Error("builtins.AttributeError");
  };
}

const options = { socketFactory: connectSocket, timeout: 2000 };
const message = (n: number): StoredMessage => ({
  body: `m${n}`,
  properties: { deliveryMode: 2, priority: 0, headers: { n } },
  exchange: "",
  routingKey: "q",
  tag: `tag-${n}`,
  redelivered: false,
});

describe("Pyro client against a fake daemon", () => {
  const queues = new Map<string, SerpentValue[]>();
  let broker: FakeDaemon;
  let ns: FakeDaemon;
  const uri = () => ({
    __class__: "Pyro4.core.URI",
    state: ["PYRO", "obj_broker", null, "127.0.0.1", broker.port],
  });

  before(async () => {
    broker = await new FakeDaemon(brokerHandler(queues)).start();
    ns = await new FakeDaemon((object, method, [name]) => {
      assert.equal(object, "Pyro.NameServer");
      assert.equal(method, "lookup");
      if (name !== "kombu.broker") throw new Error("Pyro4.errors.NamingError");
      return uri();
    }).start();
  });
  after(async () => {
    await broker.stop();
    await ns.stop();
  });

  it("looks the broker up and calls it; a remote exception keeps its Python class", async () => {
    const at = await lookupPyroName({ host: "127.0.0.1", port: ns.port }, "kombu.broker", options);
    assert.deepEqual(at, { objectId: "obj_broker", host: "127.0.0.1", port: broker.port });
    const link = await PyroConnection.open(at, options);
    try {
      assert.equal(await link.call("new_queue", "a"), null);
      const empty = await link.call("get", "a").catch((e) => e);
      assert.ok(empty instanceof PyroRemoteError);
      assert.equal(empty.className, "_queue.Empty");
      assert.equal(link.broken, false, "a remote exception leaves the link usable");
      assert.equal(await link.call("size", "a"), 0);
    } finally {
      await link.close();
    }
    await assert.rejects(
      lookupPyroName({ host: "127.0.0.1", port: ns.port }, "other", options),
      (e) => e instanceof PyroRemoteError && e.className === "Pyro4.errors.NamingError",
    );
  });

  it("breaks the link when the daemon hangs up or stays silent", async () => {
    const at = { objectId: "x", host: "127.0.0.1", port: broker.port };
    const saved = broker.handler;
    try {
      broker.handler = (_o, method) => method === "silent" ? "HANG" : "HANGUP";
      const link = await PyroConnection.open(at, { ...options, timeout: 200 });
      await assert.rejects(link.call("silent"), /unanswered after 200 ms/);
      assert.equal(link.broken, true);
      await assert.rejects(link.call("size", "a"), PyroCommunicationError);
      const other = await PyroConnection.open(at, options);
      await assert.rejects(other.call("bye"), /closed the connection/);
      assert.equal(other.broken, true);
      await other.close();
      await link.close();
    } finally {
      broker.handler = saved;
    }
  });

  it("reads PYRO: URIs as text and as serpent's dict", () => {
    assert.deepEqual(readPyroUri("PYRO:obj_1@[::1]:9999"), {
      objectId: "obj_1",
      host: "::1",
      port: 9999,
    });
    assert.throws(() => readPyroUri({ state: ["PYRO", "o", "/tmp/sock", null, 0] }), /TCP/);
  });

  it("the store finds a restarted daemon through the name server by itself", async () => {
    const backend = new PyroBackend({
      nameServerHost: "127.0.0.1",
      nameServerPort: ns.port,
      brokerName: "kombu.broker",
      requestTimeout: 2000,
    }, options);
    try {
      await backend.put("r", message(1));
      assert.equal(await backend.size("r"), 1);
      await broker.stop();
      broker = await new FakeDaemon(brokerHandler(queues)).start();
      // The old link is dead: the call finds it closed and is made again on a fresh lookup.
      const got = await backend.get("r");
      assert.equal(got?.tag, "tag-1");
      assert.equal(new TextDecoder().decode(got?.body as Uint8Array), "m1");
      assert.deepEqual(got?.properties.headers, { n: 1 });
      assert.equal(await backend.get("r"), undefined, "Empty is no message");
      assert.equal(await backend.get("never"), undefined, "KeyError is no message");
      await backend.put("r", message(2));
      await backend.put("r", message(3));
      assert.equal(await backend.purge("r"), 2);
      assert.equal(await backend.exists("r"), true);
      await backend.delete("r");
      await backend.delete("r");
      assert.equal(await backend.exists("r"), false);
      assert.equal(await backend.size("r"), 0);
      // A daemon that lost its queues answers KeyError to a put: the queue is made again.
      await backend.put("s", message(4));
      queues.clear();
      const before = broker.calls.length;
      await backend.put("s", message(5));
      assert.deepEqual(broker.calls.slice(before), ["put", "new_queue", "put"]);
      assert.equal((await backend.get("s"))?.tag, "tag-5");
    } finally {
      await backend.close();
    }
  });
});
