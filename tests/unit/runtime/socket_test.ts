/**
 * The runtime socket seam on the runtime running this file: the adapter picked is the
 * runtime's own, bytes round-trip with backpressure, ends and failures surface as they should,
 * and TLS verifies certificates and names by default.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import process from "node:process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connectSocket,
  detectRuntime,
  guardSocketFactory,
  loadAdapter,
} from "../../../src/runtime/mod.ts";
import type { RuntimeName } from "../../../src/runtime/mod.ts";
import type { Socket, SocketOptions } from "../../../src/socket.ts";
import { ConfigurationError, ConnectionError } from "../../../src/errors.ts";
import { NodeSocket } from "../../../src/runtime/node.ts";
import { BunSocket } from "../../../src/runtime/bun.ts";
import { DenoSocket } from "../../../src/runtime/deno.ts";
import { CloudflareSocket, connectCloudflareWith } from "../../../src/runtime/cloudflare.ts";
import type { CloudflareConnect } from "../../../src/runtime/cloudflare.ts";
import { makeTlsFixture, type TlsFixture } from "./_tls_fixture.ts";

/** The runtime as `process.versions` tells it (independent of the globals mod.ts looks at). */
const expectedRuntime: RuntimeName = process.versions.deno !== undefined
  ? "deno"
  : process.versions.bun !== undefined
  ? "bun"
  : "node";
const expectedClass = { deno: DenoSocket, bun: BunSocket, node: NodeSocket, cloudflare: null }[
  expectedRuntime
]!;

function listen(server: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options, () => resolve());
  });
}

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Reads a socket until the peer ends it. */
async function readAll(
  readable: ReadableStream<Uint8Array>,
  limit = Infinity,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = readable.getReader();
  while (size < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    size += value.byteLength;
  }
  reader.releaseLock();
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(out.subarray(at, Math.min(size, at + 65536)));
  }
  return out;
}

/** Writes `data` in pieces of `piece` bytes, awaiting each (backpressure), then half-closes. */
async function writeAll(socket: Socket, data: Uint8Array, piece: number): Promise<void> {
  const writer = socket.writable.getWriter();
  for (let at = 0; at < data.byteLength; at += piece) {
    await writer.write(data.subarray(at, Math.min(data.byteLength, at + piece)));
  }
  writer.releaseLock();
}

describe(`runtime sockets on ${expectedRuntime}`, () => {
  const echo = net.createServer((peer) => {
    peer.on("error", () => undefined);
    peer.pipe(peer);
  });
  let echoPort = 0;
  const opened: Socket[] = [];

  before(async () => {
    await listen(echo, { host: "127.0.0.1", port: 0 });
    echoPort = portOf(echo);
  });
  after(async () => {
    for (const socket of opened) await socket.close();
    await closeServer(echo);
  });

  async function open(options: Partial<SocketOptions> = {}): Promise<Socket> {
    const socket = await connectSocket({ hostname: "127.0.0.1", port: echoPort, ...options });
    opened.push(socket);
    return socket;
  }

  it("picks this runtime's own adapter", async () => {
    assert.equal(detectRuntime(), expectedRuntime);
    const socket = await open();
    assert.ok(socket instanceof expectedClass, `expected ${expectedClass.name}`);
    const raw = await (await loadAdapter(expectedRuntime))({
      hostname: "127.0.0.1",
      port: echoPort,
    });
    opened.push(raw);
    assert.ok(raw instanceof expectedClass);
  });

  it("round-trips 1 MB through an echo server in small and large writes", async () => {
    for (const piece of [16 * 1024, 1024 * 1024]) {
      const socket = await open();
      const data = randomBytes(1024 * 1024);
      const [, echoed] = await Promise.all([
        writeAll(socket, data, piece),
        readAll(socket.readable, data.byteLength),
      ]);
      assert.equal(echoed.byteLength, data.byteLength);
      assert.deepEqual(echoed, data);
      await socket.close();
    }
  });

  it("keeps bytes intact when the reader lags behind (socket paused and resumed)", async () => {
    const socket = await open();
    const data = randomBytes(4 * 1024 * 1024);
    const writing = writeAll(socket, data, 256 * 1024);
    const reader = socket.readable.getReader();
    const parts: Uint8Array[] = [];
    let size = 0;
    while (size < data.byteLength) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
      // Yield to the event loop now and then so the queue fills and the socket pauses.
      if (parts.length % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await writing;
    reader.releaseLock();
    const echoed = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      echoed.set(part, at);
      at += part.byteLength;
    }
    assert.deepEqual(echoed, data);
    await socket.close();
  });

  it("ends readable when the peer closes", async () => {
    const server = net.createServer((peer) => peer.end("bye"));
    await listen(server, { host: "127.0.0.1", port: 0 });
    try {
      const socket = await connectSocket({ hostname: "127.0.0.1", port: portOf(server) });
      const received = await readAll(socket.readable);
      assert.equal(new TextDecoder().decode(received), "bye");
      await socket.close();
    } finally {
      await closeServer(server);
    }
  });

  it("ends readable (no error) on a local close, and close() twice is fine", async () => {
    const socket = await open();
    const reader = socket.readable.getReader();
    const pending = reader.read();
    await socket.close();
    await socket.close();
    const result = await pending;
    assert.equal(result.done, true);
  });

  it("rejects with ConnectionError when nothing listens", async () => {
    const probe = net.createServer();
    await listen(probe, { host: "127.0.0.1", port: 0 });
    const port = portOf(probe);
    await closeServer(probe);
    await assert.rejects(
      connectSocket({ hostname: "127.0.0.1", port }),
      (error: unknown) => {
        assert.ok(error instanceof ConnectionError);
        assert.match(error.message, new RegExp(`^Cannot connect to 127\\.0\\.0\\.1:${port}: `));
        assert.ok(error.cause !== undefined);
        return true;
      },
    );
  });

  it("rejects at once on an aborted signal and never connects", async () => {
    const before = await new Promise<number>((resolve) =>
      echo.getConnections((_, count) => resolve(count))
    );
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assert.rejects(
      connectSocket({ hostname: "127.0.0.1", port: echoPort, signal: controller.signal }),
      (error: unknown) => {
        assert.ok(error instanceof ConnectionError);
        assert.equal(error.message, `Cannot connect to 127.0.0.1:${echoPort}: aborted`);
        assert.equal((error.cause as Error).message, "stop");
        return true;
      },
    );
    const afterwards = await new Promise<number>((resolve) =>
      echo.getConnections((_, count) => resolve(count))
    );
    assert.equal(afterwards, before);
  });

  // A real black hole needs a peer that drops SYNs (firewall rules, a routable but dead
  // address); neither exists on 127.0.0.1 without privileges. The deadline is checked on the
  // guard every adapter goes through, with a factory that only finishes when it is aborted.
  it("times out with the documented message and aborts the attempt", async () => {
    let sawAbort = false;
    const guarded = guardSocketFactory(({ signal }) =>
      new Promise<Socket>((_, reject) => {
        signal?.addEventListener("abort", () => {
          sawAbort = true;
          reject(new Error("aborted by guard"));
        });
      })
    );
    await assert.rejects(
      guarded({ hostname: "127.0.0.1", port: 5672, timeout: 20 }),
      (error: unknown) => {
        assert.ok(error instanceof ConnectionError);
        assert.equal(error.message, "Cannot connect to 127.0.0.1:5672: timed out after 20 ms");
        return true;
      },
    );
    assert.equal(sawAbort, true);
  });

  it("closes a socket that opens after the caller gave up", async () => {
    let closedLate!: () => void;
    const lateClose = new Promise<void>((resolve) => (closedLate = resolve));
    const guarded = guardSocketFactory(({ signal }) =>
      new Promise<Socket>((resolve) => {
        signal?.addEventListener("abort", () =>
          resolve({
            readable: new ReadableStream(),
            writable: new WritableStream(),
            close: () => {
              closedLate();
              return Promise.resolve();
            },
          }));
      })
    );
    const controller = new AbortController();
    const attempt = guarded({ hostname: "127.0.0.1", port: 1, signal: controller.signal });
    controller.abort();
    await assert.rejects(attempt, ConnectionError);
    await lateClose;
  });

  it("passes wakame errors through and wraps others", async () => {
    const refusing = guardSocketFactory(() => Promise.reject(new ConfigurationError("no TLS")));
    await assert.rejects(refusing({ hostname: "h", port: 1 }), ConfigurationError);
    const failing = guardSocketFactory(() => Promise.reject(new TypeError("boom")));
    await assert.rejects(failing({ hostname: "h", port: 1 }), (error: unknown) => {
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.message, "Cannot connect to h:1: boom");
      assert.ok(error.cause instanceof TypeError);
      return true;
    });
  });

  it("connects over a unix socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wakame-unix-"));
    const path = join(dir, "echo.sock");
    const server = net.createServer((peer) => peer.pipe(peer));
    await listen(server, { path });
    try {
      const socket = await connectSocket({ hostname: "", port: 0, path });
      const data = randomBytes(64 * 1024);
      const [, echoed] = await Promise.all([
        writeAll(socket, data, 8192),
        readAll(socket.readable, data.byteLength),
      ]);
      assert.deepEqual(echoed, data);
      await socket.close();
    } finally {
      await closeServer(server);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("TLS", () => {
    let fixture: TlsFixture;
    let server: tls.Server;
    let port = 0;
    let ca = "";

    before(async () => {
      fixture = makeTlsFixture();
      ca = fixture.ca;
      server = tls.createServer({ key: fixture.key, cert: fixture.cert }, (peer) => {
        peer.on("error", () => undefined);
        peer.pipe(peer);
      });
      server.on("tlsClientError", () => undefined);
      await listen(server, { host: "127.0.0.1", port: 0 });
      port = portOf(server);
    });
    after(async () => {
      await closeServer(server);
      fixture.cleanup();
    });

    it("refuses an unknown certificate by default", async () => {
      await assert.rejects(
        connectSocket({ hostname: "127.0.0.1", port, tls: true }),
        ConnectionError,
      );
    });

    it("connects and round-trips with tls.ca", async () => {
      const socket = await connectSocket({ hostname: "127.0.0.1", port, tls: { ca } });
      assert.ok(socket instanceof expectedClass);
      const data = randomBytes(256 * 1024);
      const [, echoed] = await Promise.all([
        writeAll(socket, data, 16 * 1024),
        readAll(socket.readable, data.byteLength),
      ]);
      assert.deepEqual(echoed, data);
      await socket.close();
    });

    it("checks tls.serverName against the certificate", async () => {
      const good = await connectSocket({
        hostname: "127.0.0.1",
        port,
        tls: { ca, serverName: "wakame.test" },
      });
      await good.close();
      await assert.rejects(
        connectSocket({ hostname: "127.0.0.1", port, tls: { ca, serverName: "other.test" } }),
        ConnectionError,
      );
    });

    it("skips verification only when told (or refuses where the runtime cannot)", async () => {
      const attempt = connectSocket({
        hostname: "127.0.0.1",
        port,
        tls: { rejectUnauthorized: false },
      });
      if (expectedRuntime === "deno") {
        await assert.rejects(attempt, ConfigurationError);
      } else {
        const socket = await attempt;
        await socket.close();
      }
    });
  });
});

describe("cloudflare adapter (with a stand-in for cloudflare:sockets)", () => {
  /** A fake `connect` over node:net with the cloudflare:sockets shape. */
  function fakeConnect(calls: { secureTransport: string }[]): CloudflareConnect {
    return (address, options) => {
      calls.push({ secureTransport: options.secureTransport });
      const opening = loadAdapter("node").then((connect) =>
        connect({ hostname: address.hostname, port: address.port })
      );
      let inner: Socket | undefined;
      const readable = new ReadableStream<Uint8Array>({
        async pull(controller) {
          inner ??= await opening;
          const reader = inner.readable.getReader();
          const { done, value } = await reader.read();
          reader.releaseLock();
          if (done) controller.close();
          else controller.enqueue(value);
        },
      }, { highWaterMark: 0 });
      const writable = new WritableStream<Uint8Array>({
        async write(chunk) {
          inner ??= await opening;
          const writer = inner.writable.getWriter();
          await writer.write(chunk);
          writer.releaseLock();
        },
      });
      return {
        readable,
        writable,
        opened: opening,
        close: async () => {
          await (await opening).close();
        },
      };
    };
  }

  it("connects, refuses TLS settings Workers cannot honour, and never drops TLS", async () => {
    const server = net.createServer((peer) => peer.end("hi"));
    await listen(server, { host: "127.0.0.1", port: 0 });
    const calls: { secureTransport: string }[] = [];
    try {
      const socket = await connectCloudflareWith(fakeConnect(calls), {
        hostname: "127.0.0.1",
        port: portOf(server),
      });
      assert.ok(socket instanceof CloudflareSocket);
      assert.equal(new TextDecoder().decode(await readAll(socket.readable)), "hi");
      await socket.close();
      await socket.close();
      assert.deepEqual(calls, [{ secureTransport: "off" }]);
      for (const tls of [{ ca: "x" }, { cert: "c", key: "k" }, { rejectUnauthorized: false }]) {
        await assert.rejects(
          connectCloudflareWith(fakeConnect(calls), { hostname: "h", port: 1, tls }),
          ConfigurationError,
        );
      }
      await assert.rejects(
        connectCloudflareWith(fakeConnect(calls), { hostname: "", port: 0, path: "/x" }),
        ConfigurationError,
      );
      assert.equal(calls.length, 1, "refused settings must not open a socket");
    } finally {
      await closeServer(server);
    }
  });
});
