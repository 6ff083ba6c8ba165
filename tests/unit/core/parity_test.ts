/**
 * Kombu's API that users call, on memory:// (Kombu's own test expectations where it has them):
 * `Queue.get` returning a decoded `Message`, ...
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { Queue } from "../../../src/entity.ts";
import { ContentDisallowedError, NotBoundError } from "../../../src/errors.ts";
import { Message } from "../../../src/message.ts";
import { uniqueVhost } from "./_fakes.ts";

function memory(): Connection {
  return new Connection(`memory:///${uniqueVhost("parity")}`);
}

describe("Queue.get (Kombu's Queue.get returns a Message)", () => {
  it("returns a decoded Message, and undefined when empty", async () => {
    await using conn = memory();
    const queue = new Queue("get-decoded");
    await conn.producer().publish({ a: 1 }, { routingKey: queue.name, declare: [queue] });
    const bound = queue.bind(await conn.defaultChannel());
    const message = await bound.get();
    assert.ok(message instanceof Message);
    assert.deepEqual(message.payload, { a: 1 });
    assert.equal(message.deliveryInfo.routingKey, "get-decoded");
    await message.ack();
    assert.equal(await bound.get(), undefined);
  });

  it("checks accept: a refused type still comes back, its decode() throws", async () => {
    await using conn = memory();
    const queue = new Queue("get-accept");
    await conn.producer().publish("hi", {
      routingKey: queue.name,
      declare: [queue],
      serializer: "text",
    });
    await conn.producer().publish("hi", {
      routingKey: queue.name,
      serializer: "text",
    });
    const bound = queue.bind(await conn.defaultChannel());
    const refused = await bound.get({ accept: ["json"] });
    assert.ok(refused);
    await assert.rejects(refused.decode(), ContentDisallowedError);
    await refused.reject();
    const allowed = await bound.get({ accept: ["json", "text/plain"] });
    assert.equal(allowed?.payload, "hi");
    await allowed?.ack();
  });

  it("rejects with NotBoundError while unbound", async () => {
    await assert.rejects(new Queue("q").get(), NotBoundError);
  });
});
