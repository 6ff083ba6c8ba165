import assert from "node:assert/strict";
import { createServer, type Server, type Socket as NetSocket } from "node:net";
import { describe, it } from "node:test";
import { connectSocket } from "../../../src/runtime/mod.ts";
import { ZkClient } from "../../../transports/zookeeper/client.ts";
import { JuteReader, JuteWriter } from "../../../transports/zookeeper/jute.ts";
import { frame, FrameReader, ZooKeeperError } from "../../../transports/zookeeper/protocol.ts";

/** What the fake server saw in one handshake. */
interface Hello {
  timeout: number;
  sessionId: bigint;
  password: Uint8Array;
}

/**
 * A fake ZooKeeper: answers handshakes with session 0x42 (password 1..16); the first
 * connection answers nothing after it (a server gone silent), later ones answer pings and
 * `exists` with no node (-101).
 */
async function fakeServer(): Promise<{ server: Server; port: number; hellos: Hello[] }> {
  const hellos: Hello[] = [];
  const server = createServer((socket: NetSocket) => {
    const frames = new FrameReader();
    let greeted = false;
    const silent = hellos.length === 0;
    socket.on("data", (chunk: Uint8Array) => {
      for (const record of frames.push(new Uint8Array(chunk))) {
        const reader = new JuteReader(record);
        if (!greeted) {
          greeted = true;
          reader.int();
          reader.long();
          const timeout = reader.int();
          const sessionId = reader.long();
          const password = reader.buffer() ?? new Uint8Array();
          hellos.push({ timeout, sessionId, password });
          const answer = new JuteWriter().int(0).int(Math.min(timeout, 1500)).long(0x42n)
            .buffer(Uint8Array.from({ length: 16 }, (_, i) => i + 1)).bool(false).bytes();
          socket.write(frame(answer));
          continue;
        }
        if (silent) continue;
        const xid = reader.int();
        const type = reader.int();
        const err = type === 11 ? 0 : -101;
        socket.write(frame(new JuteWriter().int(xid).long(7n).int(err).bytes()));
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port, hellos };
}

describe("ZooKeeper client session", () => {
  it("reconnects when the server goes silent and resumes the same session", async () => {
    const { server, port, hellos } = await fakeServer();
    const warnings: string[] = [];
    const client = new ZkClient({
      hosts: [{ hostname: "127.0.0.1", port }],
      sessionTimeout: 1500,
      connectTimeout: 2000,
      socketFactory: connectSocket,
      warn: (message) => warnings.push(message),
    });
    try {
      await client.start();
      assert.equal(client.sessionId, 0x42n);
      // The silent first connection is given up after 2/3 of the session timeout; the call
      // waits for the next one, which answers.
      await assert.rejects(
        client.call({ op: "exists", path: "/nothing", watch: false }),
        (error) => error instanceof ZooKeeperError && (error.code === -101 || error.code === -4),
      );
      while (hellos.length < 2) await new Promise((r) => setTimeout(r, 50));
      await assert.rejects(
        client.call({ op: "exists", path: "/nothing", watch: false }),
        (error) => error instanceof ZooKeeperError && error.code === -101,
      );
      assert.equal(hellos[0].sessionId, 0n, "a new session first");
      assert.equal(hellos[1].sessionId, 0x42n, "then the same session resumed");
      assert.deepEqual(hellos[1].password, Uint8Array.from({ length: 16 }, (_, i) => i + 1));
      assert.ok(warnings.some((w) => /silent/.test(w)), warnings.join("; "));
    } finally {
      await client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
