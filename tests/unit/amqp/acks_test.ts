/**
 * Ack coalescing against a model of the broker: whatever the order of deliveries, acks,
 * rejects, multiple acks and flushes, the frames written acknowledge exactly the deliveries the
 * application acked, never one it rejected or still holds, and never an unknown tag.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AckCoalescer } from "../../../transports/amqp/acks.ts";

type Op =
  | { kind: "deliver"; noAck: boolean }
  | { kind: "ack"; pick: number }
  | { kind: "reject"; pick: number }
  | { kind: "ackMultiple"; pick: number }
  | { kind: "flush" }
  | { kind: "recover" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("deliver" as const), noAck: fc.boolean() }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("ack" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reject" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("ackMultiple" as const), pick: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "flush" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "recover" as const }) },
);

/** The broker's view of one channel: tags delivered and still unacknowledged. */
class BrokerModel {
  unacked = new Set<number>();
  acked = new Set<number>();
  ack(tag: number, multiple: boolean): void {
    if (!this.unacked.has(tag)) {
      throw new Error(`PRECONDITION_FAILED - unknown delivery tag ${tag}`);
    }
    const tags = multiple ? [...this.unacked].filter((t) => t <= tag) : [tag];
    for (const t of tags) {
      this.unacked.delete(t);
      this.acked.add(t);
    }
  }
}

describe("AMQP ack coalescing", () => {
  it("acks exactly what the application acked, in fewer frames", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const broker = new BrokerModel();
        const acks = new AckCoalescer();
        const write = (tag: number, multiple: boolean) => broker.ack(tag, multiple);
        let nextTag = 1;
        const held: number[] = []; // delivered, needing an ack, not settled by the application
        const wanted = new Set<number>(); // acked by the application
        const flush = () => acks.flush(write);
        for (const o of ops) {
          switch (o.kind) {
            case "deliver": {
              const tag = nextTag++;
              acks.delivered(tag, o.noAck);
              if (!o.noAck) {
                broker.unacked.add(tag);
                held.push(tag);
              }
              break;
            }
            case "ack": {
              if (held.length === 0) break;
              const [tag] = held.splice(o.pick % held.length, 1);
              wanted.add(tag);
              if (acks.canDefer(tag)) acks.defer(tag);
              else {
                flush();
                write(tag, false);
                acks.settle(tag);
              }
              break;
            }
            case "reject": {
              if (held.length === 0) break;
              const [tag] = held.splice(o.pick % held.length, 1);
              flush(); // the channel writes waiting acks before any other frame
              broker.unacked.delete(tag); // basic.reject
              acks.settle(tag);
              break;
            }
            case "ackMultiple": {
              if (held.length === 0) break;
              const tag = held[o.pick % held.length];
              flush();
              write(tag, true);
              for (const t of held.filter((t) => t <= tag)) {
                held.splice(held.indexOf(t), 1);
                wanted.add(t);
              }
              acks.settleUpTo(tag);
              break;
            }
            case "flush":
              flush();
              break;
            case "recover": {
              flush();
              // basic.recover: the broker requeues what is unacked; old tags are void.
              broker.unacked.clear();
              held.length = 0;
              acks.voidAll();
              break;
            }
          }
        }
        flush();
        assert.deepStrictEqual(
          [...broker.acked].sort((a, b) => a - b),
          [...wanted].sort((a, b) => a - b),
        );
        for (const tag of held) assert.ok(broker.unacked.has(tag), `held tag ${tag} still unacked`);
      }),
      { numRuns: 1500 },
    );
  });

  it("voids the tags delivered before a recover, and only those", () => {
    const acks = new AckCoalescer();
    for (let tag = 1; tag <= 5; tag++) acks.delivered(tag, false);
    acks.voidAll();
    for (let tag = 6; tag <= 8; tag++) acks.delivered(tag, false);
    acks.defer(7);
    acks.defer(8);
    const frames: [number, boolean][] = [];
    acks.flush((tag, multiple) => frames.push([tag, multiple]));
    assert.deepStrictEqual(frames, [[7, false], [8, false]]); // 6 is still held
  });

  it("turns a turn of in-order acks into one frame", () => {
    const acks = new AckCoalescer();
    for (let tag = 1; tag <= 1000; tag++) acks.delivered(tag, false);
    for (let tag = 1000; tag >= 1; tag--) acks.defer(tag);
    const frames: [number, boolean][] = [];
    acks.flush((tag, multiple) => frames.push([tag, multiple]));
    assert.deepStrictEqual(frames, [[1000, true]]);
  });

  it("stops coalescing past the tracking limit and stays correct", () => {
    const acks = new AckCoalescer();
    const n = 70000;
    for (let tag = 1; tag <= n; tag++) acks.delivered(tag, false);
    for (let tag = 2; tag <= n; tag++) acks.settle(tag); // tag 1 held forever
    assert.equal(acks.canDefer(n), false);
    const frames: [number, boolean][] = [];
    acks.flush((tag, multiple) => frames.push([tag, multiple]));
    assert.deepStrictEqual(frames, []);
  });
});
