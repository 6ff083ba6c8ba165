import assert from "node:assert/strict";
import { createServer, type Server, type Socket as NetSocket } from "node:net";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { ConnectionError, ProtocolError, TimeoutError } from "../../../src/errors.ts";
import { connectSocket } from "../../../src/runtime/mod.ts";
import type { Socket, SocketFactory } from "../../../src/socket.ts";
import { RespConnection } from "../../../transports/redis/resp/client.ts";
import { RespParser } from "../../../transports/redis/resp/parser.ts";
import { RespErrorReply, type RespValue } from "../../../transports/redis/resp/types.ts";
import { brokerSkipReason } from "../../_support/brokers.ts";
import { envSkip } from "../../_support/skips.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** An in-memory socket: the test plays the server and counts the client's writes. */
function fakeSocket() {
  let toClient!: ReadableStreamDefaultController<Uint8Array>;
  const writes: Uint8Array[] = [];
  const commands: string[][] = [];
  const parser = new RespParser();
  const socket: Socket = {
    readable: new ReadableStream<Uint8Array>({ start: (c) => void (toClient = c) }),
    writable: new WritableStream<Uint8Array>({
      write(chunk) {
        writes.push(chunk);
        parser.feed(chunk, (v) => commands.push((v as Uint8Array[]).map((b) => dec.decode(b))));
      },
    }),
    close: () => {
      try {
        toClient.close();
      } catch {
        // already closed
      }
      return Promise.resolve();
    },
  };
  const factory: SocketFactory = () => Promise.resolve(socket);
  return {
    factory,
    writes,
    commands,
    reply: (text: string | Uint8Array) =>
      toClient.enqueue(typeof text === "string" ? enc.encode(text) : text),
  };
}

function connect(fake: ReturnType<typeof fakeSocket>, extra: object = {}) {
  return RespConnection.connect({
    hostname: "fake",
    port: 1,
    socketFactory: fake.factory,
    ...extra,
  });
}

describe("RESP connection (fake socket)", () => {
  it("sends the commands of one tick in one write and matches replies in order", async () => {
    const fake = fakeSocket();
    const redis = await connect(fake);
    const replies = Promise.all([
      redis.send(["SET", "a", "1"]),
      redis.send(["GET", "a"]),
      redis.send(["INCR", "n"]),
    ]);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(fake.writes.length, 1);
    assert.deepStrictEqual(fake.commands, [["SET", "a", "1"], ["GET", "a"], ["INCR", "n"]]);
    fake.reply("+OK\r\n$1\r\n1\r\n:7\r\n");
    const [set, get, incr] = await replies;
    assert.equal(set, "OK");
    assert.equal(dec.decode(get as Uint8Array), "1");
    assert.equal(incr, 7);
    await redis.close();
  });

  it("never hands a reply to the wrong command, however replies are chunked", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (values, cuts) => {
          const fake = fakeSocket();
          const redis = await connect(fake);
          const pending = values.map((v) => redis.send(["ECHO", v]));
          const bytes = enc.encode(
            values.map((v) => `$${enc.encode(v).length}\r\n${v}\r\n`).join(""),
          );
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) =>
            a - b
          );
          let at = 0;
          for (const p of [...points, bytes.length]) {
            fake.reply(bytes.slice(at, p));
            at = p;
          }
          const got = await Promise.all(pending);
          assert.deepStrictEqual(got.map((g) => dec.decode(g as Uint8Array)), values);
          await redis.close();
        },
      ),
      { numRuns: 100 },
    );
  });

  it("destroys the connection on a malformed reply and rejects every command in flight", async () => {
    const fake = fakeSocket();
    const redis = await connect(fake);
    const a = redis.send(["GET", "a"]);
    const b = redis.send(["GET", "b"]);
    const c = redis.send(["GET", "c"]);
    fake.reply("$1\r\nx\r\n?garbage\r\n");
    assert.equal(dec.decode(await a as Uint8Array), "x");
    await assert.rejects(b, ProtocolError);
    await assert.rejects(c, ProtocolError);
    assert.ok((await redis.closed) instanceof ProtocolError);
    assert.equal(redis.isOpen, false);
    await assert.rejects(redis.send(["PING"]), ProtocolError);
  });

  it("treats a reply nobody asked for as a protocol error", async () => {
    const fake = fakeSocket();
    const redis = await connect(fake);
    fake.reply("+surprise\r\n");
    assert.ok((await redis.closed) instanceof ProtocolError);
  });

  it("times out a command, destroying the connection so no late reply can be misread", async () => {
    const fake = fakeSocket();
    const redis = await connect(fake, { commandTimeout: 50 });
    const slow = redis.send(["GET", "a"]);
    const next = redis.send(["GET", "b"]);
    await assert.rejects(slow, TimeoutError);
    await assert.rejects(next, TimeoutError);
    assert.equal(redis.isOpen, false);
  });

  it("rejects commands in flight with a ConnectionError when the server hangs up", async () => {
    const fake = fakeSocket();
    const redis = await connect(fake);
    const pending = redis.send(["GET", "a"]);
    await new Promise((r) => setTimeout(r, 0));
    await fake.factory({ hostname: "", port: 0 }).then((s) => s.close());
    await assert.rejects(pending, ConnectionError);
  });

  it("authenticates with user and password, selects the database, names itself", async () => {
    const fake = fakeSocket();
    const connecting = connect(fake, {
      username: "app",
      password: "s3cret",
      db: 4,
      clientName: "wk-test",
    });
    await new Promise((r) => setTimeout(r, 0));
    assert.deepStrictEqual(fake.commands, [
      ["AUTH", "app", "s3cret"],
      ["CLIENT", "SETNAME", "wk-test"],
      ["SELECT", "4"],
    ]);
    fake.reply("+OK\r\n+OK\r\n+OK\r\n");
    const redis = await connecting;
    await redis.close();
  });

  it("sends the password alone when there is no user name", async () => {
    const fake = fakeSocket();
    const connecting = connect(fake, { password: "pw" });
    await new Promise((r) => setTimeout(r, 0));
    assert.deepStrictEqual(fake.commands, [["AUTH", "pw"]]);
    fake.reply("+OK\r\n");
    await (await connecting).close();
  });

  it("refuses bad credentials with a ConnectionError (403) that does not hold the password", async () => {
    const fake = fakeSocket();
    const connecting = connect(fake, { username: "app", password: "hunter2" });
    await new Promise((r) => setTimeout(r, 0));
    fake.reply("-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    const error = await connecting.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.replyCode, 403);
    assert.ok(!error.message.includes("hunter2"));
  });

  it("speaks RESP3 after HELLO 3 and routes pushes apart from replies", async () => {
    const fake = fakeSocket();
    const pushes: RespValue[][] = [];
    const connecting = connect(fake, {
      protocol: 3,
      password: "pw",
      onPush: (p: RespValue[]) => pushes.push(p),
    });
    await new Promise((r) => setTimeout(r, 0));
    assert.deepStrictEqual(fake.commands, [["HELLO", "3", "AUTH", "default", "pw"]]);
    fake.reply("%1\r\n+proto\r\n:3\r\n");
    const redis = await connecting;
    const got = redis.send(["GET", "k"]);
    fake.reply(">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n_\r\n");
    assert.equal(await got, null);
    assert.equal(pushes.length, 1);
    await redis.close();
  });

  it("collects one confirmation per channel of a SUBSCRIBE and delivers messages apart", async () => {
    const fake = fakeSocket();
    const redis = await connect(fake);
    const messages: RespValue[][] = [];
    redis.onPush = (p) => messages.push(p);
    const sub = redis.send(["SUBSCRIBE", "a", "b"]);
    fake.reply("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    fake.reply("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n");
    fake.reply("*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
    const confirmations = await sub;
    assert.ok(Array.isArray(confirmations) && confirmations.length === 2);
    assert.equal(messages.length, 1);
    assert.equal(dec.decode(messages[0]![2] as Uint8Array), "hi");
    await redis.close();
  });
});

/** A real TCP server on loopback that answers with bytes chosen by the test. */
function rawServer(onData: (socket: NetSocket, data: string) => void): Promise<[Server, number]> {
  return new Promise((resolve) => {
    const server = createServer((socket) => {
      socket.on("data", (d) => onData(socket, d.toString("latin1")));
      socket.on("error", () => {});
    });
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve([server, typeof address === "object" && address ? address.port : 0]);
    });
  });
}

describe("RESP connection (fake server on 127.0.0.1)", () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  it("rejects every command in flight with a ProtocolError on a malformed reply", async () => {
    const [server, port] = await rawServer((socket) => socket.write(":1\r\n$abc\r\n"));
    servers.push(server);
    const redis = await RespConnection.connect({
      hostname: "127.0.0.1",
      port,
      socketFactory: connectSocket,
    });
    const replies = [1, 2, 3].map((i) => redis.send(["GET", `k${i}`]).then((v) => v, (e) => e));
    const [first, second, third] = await Promise.all(replies);
    assert.equal(first, 1);
    assert.ok(second instanceof ProtocolError);
    assert.ok(third instanceof ProtocolError);
    assert.ok((await redis.closed) instanceof ProtocolError);
  });

  it("fails a bulk string past the limit before its bytes arrive", async () => {
    const [server, port] = await rawServer((socket) => socket.write("$999999999999\r\n"));
    servers.push(server);
    const redis = await RespConnection.connect({
      hostname: "127.0.0.1",
      port,
      socketFactory: connectSocket,
    });
    await assert.rejects(redis.send(["GET", "huge"]), ProtocolError);
  });
});

const skip = envSkip(import.meta.url, await brokerSkipReason("Redis", "127.0.0.1", 6379));

describe("RESP connection (local Redis)", () => {
  const open = (extra: object = {}) =>
    RespConnection.connect({
      hostname: "127.0.0.1",
      port: 6379,
      socketFactory: connectSocket,
      ...extra,
    });

  it("logs in as an ACL user and selects the database of the vhost", skip.options(), async () => {
    const admin = await open();
    const user = `wk-acl-${crypto.randomUUID().slice(0, 8)}`;
    assert.equal(await admin.send(["ACL", "SETUSER", user, "on", ">pw-123", "~*", "+@all"]), "OK");
    try {
      const redis = await open({ username: user, password: "pw-123", db: 5, clientName: user });
      const info = await redis.send(["CLIENT", "INFO"]);
      const text = typeof info === "string" ? info : dec.decode(info as Uint8Array);
      assert.match(text, / db=5 /);
      assert.match(text, new RegExp(` user=${user} `));
      assert.match(text, new RegExp(` name=${user} `));
      await redis.close();
      const refused = await open({ username: user, password: "wrong" }).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(refused instanceof ConnectionError && refused.replyCode === 403);
    } finally {
      await admin.send(["ACL", "DELUSER", user]);
      await admin.close();
    }
  });

  it("speaks RESP3 with a real server (HELLO 3)", skip.options(), async () => {
    const redis = await open({ protocol: 3 });
    const key = `wk-resp3-${crypto.randomUUID()}`;
    await redis.send(["HSET", key, "f", "v"]);
    const all = await redis.send(["HGETALL", key]);
    assert.ok(all instanceof Map);
    assert.equal(dec.decode(all.get("f") as Uint8Array), "v");
    assert.ok((await redis.send(["DEL", key])) === 1);
    await redis.close();
  });

  it("returns error replies as values, not as a broken connection", skip.options(), async () => {
    const redis = await open();
    const key = `wk-err-${crypto.randomUUID()}`;
    await redis.send(["SET", key, "x"]);
    const [wrong, ok] = await Promise.all([
      redis.send(["LPUSH", key, "y"]),
      redis.send(["DEL", key]),
    ]);
    assert.ok(wrong instanceof RespErrorReply && wrong.code === "WRONGTYPE");
    assert.equal(ok, 1);
    await redis.close();
  });
});
