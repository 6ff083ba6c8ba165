import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { JuteReader, JuteWriter } from "../../../transports/zookeeper/jute.ts";
import {
  CREATE_MODE,
  encodeConnect,
  encodeRequest,
  frame,
  FrameReader,
  readAnswer,
  readReplyHeader,
  ZooKeeperError,
} from "../../../transports/zookeeper/protocol.ts";
import {
  entryPrefix,
  entryPrefixOf,
  queuePath,
  vhostPath,
} from "../../../transports/zookeeper/paths.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const utf8 = new TextEncoder();
/** Our request without its header (xid, op code), to compare with kazoo's bodies. */
const body = (bytes: Uint8Array) => hex(bytes.subarray(8));

// Recorded from kazoo 2.9 (Debian's python3-kazoo): `kazoo.protocol.serialization`'s
// `Connect(0, 0, 10000, 0, b"\0" * 16, False)`, `Create("/q/entry-009-", b"hi",
// OPEN_ACL_UNSAFE, 2)`, `Delete("/q/entry-009-0000000001", 3)`, `GetData("/q/x", False)` and
// `GetChildren2("/q", True)`, each `.serialize().hex()`.
const KAZOO = {
  connect:
    "0000000000000000000000000000271000000000000000000000001000000000000000000000000000000000" +
    "00",
  create: "0000000d2f712f656e7472792d3030392d000000026869000000010000001f00000005776f726c64000000" +
    "06616e796f6e6500000002",
  delete: "000000172f712f656e7472792d3030392d3030303030303030303100000003",
  getData: "000000042f712f7800",
  getChildren2: "000000022f7101",
};

describe("ZooKeeper requests, byte for byte as kazoo's", () => {
  it("encodes the handshake", () => {
    const bytes = encodeConnect({
      lastZxidSeen: 0n,
      timeout: 10_000,
      sessionId: 0n,
      password: new Uint8Array(16),
    });
    assert.equal(hex(bytes), KAZOO.connect);
  });

  it("encodes create, delete, getData and getChildren2", () => {
    const create = encodeRequest(7, {
      op: "create",
      path: "/q/entry-009-",
      data: utf8.encode("hi"),
      mode: CREATE_MODE.sequential,
    });
    assert.equal(hex(create.subarray(0, 8)), "0000000700000001", "xid 7, op create");
    assert.equal(body(create), KAZOO.create);
    assert.equal(
      body(encodeRequest(1, { op: "delete", path: "/q/entry-009-0000000001", version: 3 })),
      KAZOO.delete,
    );
    assert.equal(
      body(encodeRequest(1, { op: "getData", path: "/q/x", watch: false })),
      KAZOO.getData,
    );
    assert.equal(
      body(encodeRequest(1, { op: "getChildren", path: "/q", watch: true })),
      KAZOO.getChildren2,
    );
  });

  it("encodes a transaction as kazoo's Transaction: a multi header before each op", () => {
    const multi = encodeRequest(1, {
      op: "multi",
      ops: [
        { op: "delete", path: "/q/entry-009-0000000001", version: 3 },
        { op: "create", path: "/q/entry-009-", data: utf8.encode("hi"), mode: 2 },
      ],
    });
    const header = (type: number, done: boolean) =>
      hex(new JuteWriter().int(type).bool(done).int(-1).bytes());
    assert.equal(
      body(multi),
      header(2, false) + KAZOO.delete + header(1, false) + KAZOO.create + header(-1, true),
    );
  });
});

describe("ZooKeeper answers", () => {
  const answer = (build: (w: JuteWriter) => void) => {
    const writer = new JuteWriter().int(5).long(99n).int(0);
    build(writer);
    const reader = new JuteReader(writer.bytes());
    assert.deepEqual(readReplyHeader(reader), { xid: 5, zxid: 99n, err: 0 });
    return reader;
  };
  const multi = {
    op: "multi" as const,
    ops: [
      { op: "delete" as const, path: "/q/e", version: 0 },
      { op: "create" as const, path: "/u/r", data: new Uint8Array(), mode: 0 },
    ],
  };

  it("reads a transaction that succeeded", () => {
    const reader = answer((w) =>
      w.int(2).bool(false).int(0).int(1).bool(false).int(0)
        .ustring("/u/r").int(-1).bool(true).int(-1)
    );
    assert.deepEqual(readAnswer(multi, reader), { op: "multi" });
  });

  it("reads a failed transaction from its results (the header says 0)", () => {
    // The delete failed (no node); the create was cancelled with it (-2).
    const reader = answer((w) =>
      w.int(-1).bool(false).int(-101).int(-101).int(-1).bool(false)
        .int(-2).int(-2).int(-1).bool(true).int(-1)
    );
    assert.throws(
      () => readAnswer(multi, reader),
      (error) => error instanceof ZooKeeperError && error.code === -101,
    );
  });

  it("reads children and their Stat", () => {
    const reader = answer((w) => {
      w.int(2).ustring("entry-009-0000000001").ustring("entry-000-0000000002");
      w.long(1n).long(2n).long(3n).long(4n).int(5).int(6).int(7).long(0n).int(0).int(2).long(9n);
    });
    const read = readAnswer({ op: "getChildren", path: "/q", watch: false }, reader);
    assert.equal(read.op, "getChildren");
    if (read.op !== "getChildren") return;
    assert.deepEqual(read.children, ["entry-009-0000000001", "entry-000-0000000002"]);
    assert.equal(read.stat.numChildren, 2);
    assert.equal(read.stat.version, 5);
    assert.equal(reader.remaining, 0);
  });
});

describe("jute and frames (properties)", () => {
  it("reads back what it writes", () => {
    fc.assert(fc.property(
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.boolean(),
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ unit: "grapheme", maxLength: 50 }),
      (i, l, b, bytes, text) => {
        const reader = new JuteReader(
          new JuteWriter().int(i).long(l).bool(b).buffer(bytes).ustring(text).bytes(),
        );
        assert.equal(reader.int(), i);
        assert.equal(reader.long(), l);
        assert.equal(reader.bool(), b);
        assert.deepEqual(reader.buffer(), bytes);
        assert.equal(reader.ustring(), text);
        assert.equal(reader.remaining, 0);
      },
    ));
  });

  it("cuts a stream into the same records, however it is chunked", () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
      (records, cuts) => {
        const stream = records.map(frame).reduce((a, b) => {
          const out = new Uint8Array(a.length + b.length);
          out.set(a);
          out.set(b, a.length);
          return out;
        });
        const reader = new FrameReader();
        const got: Uint8Array[] = [];
        let offset = 0;
        for (let i = 0; offset < stream.length; i++) {
          const size = cuts[i % cuts.length];
          got.push(...reader.push(stream.subarray(offset, offset + size)));
          offset += size;
        }
        assert.deepEqual(got, records);
      },
    ));
  });

  it("refuses reading past a record's end", () => {
    assert.throws(() => new JuteReader(new Uint8Array(3)).int(), /4 byte\(s\) wanted/);
  });
});

describe("Kombu's ZooKeeper names", () => {
  it("names entries by reversed priority, clamped to 0..9", () => {
    assert.equal(entryPrefix(undefined), "entry-009-");
    assert.equal(entryPrefix(0), "entry-009-");
    assert.equal(entryPrefix(3), "entry-006-");
    assert.equal(entryPrefix(9), "entry-000-");
    assert.equal(entryPrefix(200), "entry-000-");
    assert.equal(entryPrefix(-4), "entry-009-");
    assert.equal(entryPrefixOf("1a2b.entry-006-0000000012"), "entry-006-");
  });

  it("places queues under the virtual host as Kombu's os.path.join does", () => {
    assert.equal(vhostPath("/"), "/");
    assert.equal(vhostPath("orders/"), "/orders");
    assert.equal(queuePath("/", "celery"), "/celery");
    assert.equal(queuePath("/orders", "celery"), "/orders/celery");
    assert.throws(() => queuePath("/", "a/b"), /Cannot use queue/);
  });
});
