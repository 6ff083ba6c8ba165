/**
 * The cluster command link without a cluster: fake links that answer as Redis Cluster nodes
 * do (`-MOVED`, `-ASK`, `-TRYAGAIN`), so the order of what is sent where is checked exactly.
 * tests/faults/redis_cluster_test.ts runs the same code against six real nodes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClusterLink, readRedirection } from "../../../transports/redis/cluster_link.ts";
import type { RedisLink } from "../../../transports/redis/driver.ts";
import {
  type RespArg,
  RespErrorReply,
  type RespValue,
} from "../../../transports/redis/resp/types.ts";

/** A node: records what it was sent; `answer` decides each reply. */
class FakeNode implements RedisLink {
  onMessage: RedisLink["onMessage"];
  readonly sent: string[] = [];
  isOpen = true;
  readonly closed: Promise<Error | undefined> = new Promise(() => {});
  readonly answer: (command: string, node: FakeNode) => RespValue;
  constructor(answer: (command: string, node: FakeNode) => RespValue) {
    this.answer = answer;
  }
  send(args: readonly RespArg[]): Promise<RespValue> {
    const command = args.map(String).join(" ");
    this.sent.push(command);
    return Promise.resolve(this.answer(command, this));
  }
  close(): Promise<void> {
    this.isOpen = false;
    return Promise.resolve();
  }
}

function home(nodes: Record<string, FakeNode>, first: string) {
  let current = nodes[first];
  const moves: string[] = [];
  return {
    moves,
    home: {
      current: () => Promise.resolve(current),
      openNow: () => current,
      relocate(from: RedisLink, hostname: string, port: number) {
        if (from !== current) return false;
        moves.push(`${hostname}:${port}`);
        current = nodes[`${hostname}:${port}`];
        return true;
      },
      openAt: (hostname: string, port: number) => Promise.resolve(nodes[`${hostname}:${port}`]),
      isClosed: false,
    },
  };
}

describe("ClusterLink (Redis Cluster redirections)", () => {
  it("reads MOVED and ASK replies, and nothing else", () => {
    assert.deepStrictEqual(readRedirection(new RespErrorReply("MOVED 3999 127.0.0.1:6381")), {
      kind: "MOVED",
      slot: 3999,
      hostname: "127.0.0.1",
      port: 6381,
    });
    assert.deepStrictEqual(readRedirection(new RespErrorReply("ASK 12 :7000")), {
      kind: "ASK",
      slot: 12,
      hostname: "",
      port: 7000,
    });
    assert.equal(readRedirection(new RespErrorReply("ERR no")), undefined);
    assert.equal(readRedirection("MOVED 1 a:1"), undefined);
  });

  it("follows MOVED: moves once, sends again at the new owner", async () => {
    const a = new FakeNode((c) => c === "PING" ? "PONG" : new RespErrorReply("MOVED 5 b:2"));
    const b = new FakeNode(() => 1);
    const { home: h, moves } = home({ "a:1": a, "b:2": b }, "a:1");
    const link = new ClusterLink(h);
    const replies = await Promise.all([link.send(["LPUSH", "k", "x"]), link.send(["LLEN", "k"])]);
    assert.deepStrictEqual(replies, [1, 1]);
    assert.deepStrictEqual(moves, ["b:2"], "one move for two redirected commands");
    assert.deepStrictEqual(b.sent, ["LPUSH k x", "LLEN k"]);
  });

  it("follows ASK once: ASKING then the command at the target; the owner keeps the slot", async () => {
    let asked = false;
    const a = new FakeNode((c) => {
      if (!asked && c.startsWith("LPUSH")) {
        asked = true;
        return new RespErrorReply("ASK 5 b:2");
      }
      return "A";
    });
    const b = new FakeNode((c) => c === "ASKING" ? "OK" : "B");
    const { home: h, moves } = home({ "a:1": a, "b:2": b }, "a:1");
    const link = new ClusterLink(h);
    assert.equal(await link.send(["LPUSH", "k", "x"]), "B");
    assert.deepStrictEqual(b.sent, ["ASKING", "LPUSH k x"]);
    assert.equal(await link.send(["LLEN", "k"]), "A", "the next command goes to the owner");
    assert.deepStrictEqual(moves, []);
    await link.close();
  });

  it("sends a MULTI block again as a whole, ASKING in front", async () => {
    const a = new FakeNode((c) =>
      c === "MULTI"
        ? "OK"
        : c === "EXEC"
        ? new RespErrorReply("EXECABORT Transaction discarded")
        : new RespErrorReply("ASK 5 b:2")
    );
    const b = new FakeNode((c) =>
      c === "EXEC" ? [1, 1] : c === "ASKING" || c === "MULTI" ? "OK" : "QUEUED"
    );
    const { home: h } = home({ "a:1": a, "b:2": b }, "a:1");
    const link = new ClusterLink(h);
    const replies = await Promise.all([
      link.send(["MULTI"]),
      link.send(["LLEN", "q"]),
      link.send(["DEL", "q"]),
      link.send(["EXEC"]),
    ]);
    assert.deepStrictEqual(replies, ["OK", "QUEUED", "QUEUED", [1, 1]]);
    assert.deepStrictEqual(a.sent, ["MULTI", "LLEN q", "DEL q", "EXEC"]);
    assert.deepStrictEqual(b.sent, ["ASKING", "MULTI", "LLEN q", "DEL q", "EXEC"]);
    await link.close();
  });

  it("waits and retries TRYAGAIN until the keys are together", async () => {
    let tries = 0;
    const a = new FakeNode(() => ++tries < 3 ? new RespErrorReply("TRYAGAIN Multiple keys") : "OK");
    const { home: h } = home({ "a:1": a }, "a:1");
    const link = new ClusterLink(h);
    assert.equal(await link.send(["EVALSHA", "x", 2, "k1", "k2"]), "OK");
    assert.equal(tries, 3);
  });
});
