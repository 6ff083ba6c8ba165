import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { NAMESPACE_OID, oidFrom, uuid, uuid5 } from "../../../src/utils/uuid.ts";

describe("uuid", () => {
  it("makes distinct version 4 UUIDs", () => {
    const a = uuid();
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a, uuid());
  });

  it("uuid5 equals Python's uuid.uuid5", async () => {
    // Values printed by Python 3: str(uuid.uuid5(uuid.NAMESPACE_OID, name)).
    assert.equal(await uuid5(NAMESPACE_OID, "hello"), "4d71d03f-f19b-5d9e-8523-9628ba18063c");
    assert.equal(await uuid5(NAMESPACE_OID, "wakame-é"), "989faea0-8f06-5378-88cc-5685f580892e");
    await assert.rejects(uuid5("not-a-uuid", "x"), RangeError);
  });

  it("oidFrom is stable per object and differs between objects", async () => {
    const a = {};
    const b = {};
    const oa = await oidFrom(a);
    assert.equal(await oidFrom(a), oa);
    assert.notEqual(await oidFrom(b), oa);
    assert.match(oa, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/);
  });
});

describe("fastUuid4", () => {
  it("makes version 4 UUIDs that do not repeat across pool refills", async () => {
    const { fastUuid4 } = await import("../../../src/utils/uuid.ts");
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = fastUuid4();
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      seen.add(id);
    }
    assert.equal(seen.size, 2000);
  });

  it("draws every random digit from the whole hex range", async () => {
    const { fastUuid4 } = await import("../../../src/utils/uuid.ts");
    const digits = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) [...fastUuid4()].forEach((c, at) => digits[at].add(c));
    digits.forEach((seen, at) => {
      if ([8, 13, 18, 23].includes(at)) assert.deepEqual([...seen], ["-"]);
      else if (at === 14) assert.deepEqual([...seen], ["4"]);
      else if (at === 19) assert.deepEqual([...seen].sort(), ["8", "9", "a", "b"]);
      else assert.equal(seen.size, 16, `position ${at}: ${[...seen].sort().join("")}`);
    });
  });
});
