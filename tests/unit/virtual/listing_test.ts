/**
 * ListingCursor (src/virtual/listing.ts), the take loop of the etcd and ZooKeeper backends: one
 * listing serves several takes, items another consumer won are skipped, a used-up listing is
 * listed again once per take, and an empty fresh listing gives its index for a watch.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { StoredMessage } from "../../../src/virtual/backend.ts";
import { ListingCursor } from "../../../src/virtual/listing.ts";

function message(body: string): StoredMessage {
  return {
    body,
    properties: {},
    exchange: "",
    routingKey: "q",
    tag: body,
    redelivered: false,
  } as StoredMessage;
}

/** A store: queue contents, a list counter, and items another consumer already took. */
function store(items: string[], lostToOthers: Set<string> = new Set()) {
  const state = { items: [...items], lists: 0, index: 7 };
  const cursor = new ListingCursor<string>(
    (_queue) => {
      state.lists++;
      return Promise.resolve({ items: [...state.items], index: state.index });
    },
    (_queue, item) => {
      const i = state.items.indexOf(item);
      if (i < 0 || lostToOthers.has(item)) return Promise.resolve(undefined);
      state.items.splice(i, 1);
      return Promise.resolve(message(item));
    },
  );
  return { state, cursor };
}

const bodies = (messages: StoredMessage[]) => messages.map((m) => m.body);

describe("ListingCursor", () => {
  it("takes in listing order and lists once for several takes", async () => {
    const { state, cursor } = store(["a", "b", "c"]);
    assert.deepEqual(bodies((await cursor.take("q", 2)).messages), ["a", "b"]);
    assert.deepEqual(bodies((await cursor.take("q", 2)).messages), ["c"]);
    assert.equal(state.lists, 2, "the second take used the listing up and listed again once");
  });

  it("skips items another consumer won and fills up from a new listing", async () => {
    const { state, cursor } = store(["a", "b"], new Set(["a"]));
    state.items.push("c");
    const first = await cursor.take("q", 2);
    assert.deepEqual(bodies(first.messages), ["b", "c"]);
    assert.equal(first.index, undefined);
  });

  it("gives the index of an empty fresh listing, for a watch", async () => {
    const { cursor } = store([]);
    assert.deepEqual(await cursor.take("q", 5), { messages: [], index: 7 });
  });

  it("lists again after forget, and serves a listing given by set", async () => {
    const { state, cursor } = store(["a", "b"]);
    await cursor.take("q", 1);
    cursor.forget("q");
    assert.deepEqual(bodies((await cursor.take("q", 1)).messages), ["b"]);
    assert.equal(state.lists, 2);
    state.items.push("z", "y");
    cursor.set("q", ["y", "z"]);
    assert.deepEqual(bodies((await cursor.take("q", 2)).messages), ["y", "z"]);
    assert.equal(state.lists, 2);
  });
});
