import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Connection } from "../../src/connection.ts";
import { Queue } from "../../src/entity.ts";
import { KombuError, LimitExceededError } from "../../src/errors.ts";
import {
  ChannelPool,
  ConnectionPool,
  connections,
  getLimit,
  PoolGroup,
  ProducerPool,
  producers,
  registerGroup,
  reset,
  ResourcePool,
  setLimit,
} from "../../src/pools.ts";
import { uuid } from "../../src/utils/uuid.ts";
import { bodyText } from "../../mod.ts";

interface Res {
  id: number;
  broken?: boolean;
}

function counting(limit: number, extra: { failCreate?: () => boolean } = {}) {
  let made = 0;
  const disposed: number[] = [];
  const pool = new ResourcePool<Res>({
    limit,
    name: "test",
    create: () => {
      if (extra.failCreate?.()) throw new Error("cannot create");
      return { id: ++made };
    },
    dispose: (r) => void disposed.push(r.id),
    isUsable: (r) => !r.broken,
  });
  return { pool, disposed, made: () => made };
}

describe("ResourcePool", () => {
  it("reuses released resources, last in first out", async () => {
    const { pool, made } = counting(3);
    const a = await pool.acquire();
    const b = await pool.acquire();
    assert.deepEqual([a.resource.id, b.resource.id], [1, 2]);
    await a.release();
    await b.release();
    assert.equal(pool.idle, 2);
    const c = await pool.acquire();
    assert.equal(c.resource.id, 2);
    assert.equal(made(), 2);
    assert.equal(pool.inUse, 1);
  });

  it("fails at once at the limit with timeout 0 (Kombu's block=False)", async () => {
    const { pool } = counting(1);
    await pool.acquire();
    await assert.rejects(pool.acquire({ timeout: 0 }), LimitExceededError);
  });

  it("fails after the timeout at the limit", async () => {
    const { pool } = counting(1);
    await pool.acquire();
    await assert.rejects(pool.acquire({ timeout: 5 }), (e: unknown) => {
      assert.ok(e instanceof LimitExceededError);
      assert.match(e.message, /Cannot acquire from pool "test": limit of 1 reached, waited 5 ms/);
      return true;
    });
    assert.equal(pool.waiting, 0);
  });

  it("hands a released resource to the first waiter", async () => {
    const { pool, made } = counting(1);
    const first = await pool.acquire();
    const order: number[] = [];
    const w1 = pool.acquire().then((l) => (order.push(1), l));
    const w2 = pool.acquire().then((l) => (order.push(2), l));
    assert.equal(pool.waiting, 2);
    await first.release();
    const l1 = await w1;
    assert.equal(l1.resource, first.resource);
    await l1.release();
    const l2 = await w2;
    assert.deepEqual(order, [1, 2]);
    assert.equal(l2.resource.id, 1);
    assert.equal(made(), 1);
  });

  it("stops waiting on abort", async () => {
    const { pool } = counting(1);
    await pool.acquire();
    const controller = new AbortController();
    const waiting = pool.acquire({ signal: controller.signal });
    controller.abort(new Error("stop"));
    await assert.rejects(waiting, /stop/);
    assert.equal(pool.waiting, 0);
    await assert.rejects(pool.acquire({ signal: AbortSignal.abort(new Error("early")) }), /early/);
  });

  it("never hands out a discarded (broken) resource again", async () => {
    const { pool, disposed, made } = counting(1);
    const a = await pool.acquire();
    const waiter = pool.acquire();
    await a.discard();
    assert.deepEqual(disposed, [1]);
    const b = await waiter;
    assert.equal(b.resource.id, 2);
    assert.equal(made(), 2);
  });

  it("replaces an idle resource that is no longer usable", async () => {
    const { pool, disposed } = counting(2);
    const a = await pool.acquire();
    a.resource.broken = true;
    await a.release();
    const b = await pool.acquire();
    assert.equal(b.resource.id, 2);
    assert.deepEqual(disposed, [1]);
  });

  it("release is idempotent and works with await using", async () => {
    const { pool } = counting(1);
    {
      await using lease = await pool.acquire();
      assert.equal(lease.released, false);
      await lease.release();
      assert.equal(lease.released, true);
    }
    assert.equal(pool.idle, 1);
    assert.equal(pool.inUse, 0);
    {
      await using _lease = await pool.acquire();
      assert.equal(pool.inUse, 1);
    }
    assert.equal(pool.inUse, 0);
  });

  it("without a limit makes a resource per acquire and disposes on release", async () => {
    const { pool, disposed, made } = counting(0);
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    assert.equal(made(), 3);
    for (const l of leases) await l.release();
    assert.deepEqual(disposed.sort(), [1, 2, 3]);
    assert.equal(pool.idle, 0);
  });

  it("preloads up to the limit", async () => {
    const { pool, made } = counting(3);
    assert.equal(await pool.preload(5), 3);
    assert.equal(pool.idle, 3);
    assert.equal(made(), 3);
    assert.equal(await pool.preload(), 0);
  });

  it("shrinks: refuses while in use unless forced, disposes the coldest idle first", async () => {
    const { pool, disposed } = counting(4);
    await pool.preload();
    const held = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    await assert.rejects(pool.setLimit(2), KombuError);
    assert.equal(pool.getLimit(), 4);
    await held[0]!.release(); // idle now: 1 (coldest), then id of held[0]
    await pool.setLimit(2, { force: true });
    assert.equal(pool.limit, 2);
    assert.deepEqual(disposed, [1, 4]);
    await held[1]!.release();
    await held[2]!.release();
    assert.equal(pool.idle, 2);
  });

  it("grows: waiting acquires get new resources", async () => {
    const { pool, made } = counting(1);
    await pool.acquire();
    const waiter = pool.acquire();
    await pool.setLimit(2);
    const lease = await waiter;
    assert.equal(lease.resource.id, 2);
    assert.equal(made(), 2);
  });

  it("a failed create frees its slot", async () => {
    let fail = true;
    const { pool } = counting(1, { failCreate: () => fail });
    await assert.rejects(pool.acquire(), /cannot create/);
    fail = false;
    const lease = await pool.acquire({ timeout: 0 });
    assert.equal(lease.resource.id, 1);
  });

  it("close disposes idle now, in-use on release, and fails waiters", async () => {
    const { pool, disposed } = counting(3);
    const a = await pool.acquire();
    const b = await pool.acquire();
    const c = await pool.acquire();
    await c.release();
    const waiter = pool.acquire(); // takes c's resource
    const d = await waiter;
    assert.equal(d.resource, c.resource);
    await b.release();
    const blocked = (async () => {
      await pool.acquire(); // takes b's resource
      return pool.acquire(); // waits: all three in use
    })();
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(pool.waiting, 1);
    await pool.close();
    await assert.rejects(blocked, KombuError);
    assert.deepEqual(disposed, []);
    await a.release();
    await d.release();
    assert.deepEqual(disposed, [1, 3]);
    await assert.rejects(pool.acquire(), /closed/);

    const second = counting(2);
    await second.pool.preload();
    await second.pool.close();
    assert.deepEqual(second.disposed.sort(), [1, 2]);
  });

  it("keeps the limit under concurrent acquire/release", async () => {
    const { pool } = counting(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const lease = await pool.acquire();
        active++;
        peak = Math.max(peak, active);
        await Promise.resolve();
        active--;
        if (i % 7 === 0) await lease.discard();
        else await lease.release();
      }),
    );
    assert.ok(peak <= 3, `peak ${peak}`);
    assert.equal(pool.inUse, 0);
  });

  it("keeps its invariants under any sequence of operations (property)", async () => {
    type Op =
      | { op: "acquire" }
      | { op: "release"; pick: number }
      | { op: "discard"; pick: number }
      | { op: "break"; pick: number }
      | { op: "limit"; to: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.constant<Op>({ op: "acquire" }),
      fc.nat().map((pick): Op => ({ op: "release", pick })),
      fc.nat().map((pick): Op => ({ op: "discard", pick })),
      fc.nat().map((pick): Op => ({ op: "break", pick })),
      fc.integer({ min: 0, max: 4 }).map((to): Op => ({ op: "limit", to })),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 40 }), async (
        limit,
        ops,
      ) => {
        const { pool, disposed } = counting(limit);
        const held: Array<Awaited<ReturnType<typeof pool.acquire>>> = [];
        const seen = new Set<Res>();
        for (const o of ops) {
          if (o.op === "acquire") {
            const full = pool.limit > 0 && pool.inUse >= pool.limit;
            try {
              const lease = await pool.acquire({ timeout: 0 });
              assert.ok(!full, "acquired past the limit");
              assert.ok(!disposed.includes(lease.resource.id), "handed out a disposed resource");
              assert.ok(!lease.resource.broken, "handed out a broken resource");
              assert.ok(!held.some((h) => h.resource === lease.resource), "handed out twice");
              held.push(lease);
              seen.add(lease.resource);
            } catch (error) {
              assert.ok(error instanceof LimitExceededError, String(error));
              assert.ok(full, "refused below the limit");
            }
          } else if (o.op === "limit") {
            await pool.setLimit(o.to, { force: true });
          } else if (held.length > 0) {
            const [lease] = held.splice(o.pick % held.length, 1);
            if (o.op === "break") lease!.resource.broken = true;
            if (o.op === "discard") await lease!.discard();
            else await lease!.release();
          }
          assert.equal(pool.inUse, held.length);
          if (pool.limit > 0) {
            assert.ok(pool.idle + pool.inUse <= Math.max(pool.limit, held.length));
          } else assert.equal(pool.idle, 0);
        }
        for (const lease of held) await lease.release();
        await pool.close();
        // Every resource ever made is disposed once the pool is closed and all came back.
        assert.equal(new Set(disposed).size, disposed.length, "disposed twice");
        for (const r of seen) assert.ok(disposed.includes(r.id), `resource ${r.id} leaked`);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects a bad limit", () => {
    assert.throws(() => new ResourcePool({ create: () => 1, limit: -1 }), RangeError);
    assert.throws(() => new ResourcePool({ create: () => 1, limit: 1.5 }), RangeError);
  });
});

describe("ConnectionPool, ChannelPool, ProducerPool on memory://", () => {
  it("ConnectionPool clones the template and reuses connections", async () => {
    const template = new Connection("memory://");
    const pool = new ConnectionPool(template, { limit: 2 });
    try {
      const a = await pool.acquireChannel();
      assert.notEqual(a.resource, template);
      assert.ok(a.channel.isOpen);
      assert.ok(a.resource.connected);
      const conn = a.resource;
      await a.release();
      const b = await pool.acquire();
      assert.equal(b.resource, conn);
      const c = await pool.acquire();
      await assert.rejects(pool.acquire({ timeout: 0 }), LimitExceededError);
      await c.discard(); // closed, never handed out again
      assert.equal(c.resource.connected, false);
      const d = await pool.acquire();
      assert.notEqual(d.resource, c.resource);
      await b.release();
      await d.release();
    } finally {
      await pool.close();
    }
  });

  it("ChannelPool replaces channels found closed", async () => {
    await using conn = new Connection("memory://");
    const pool = new ChannelPool(conn, { limit: 2 });
    try {
      const a = await pool.acquire();
      const channel = a.resource;
      await channel.close();
      await a.release();
      const b = await pool.acquire();
      assert.notEqual(b.resource, channel);
      assert.ok(b.resource.isOpen);
      await b.release();
    } finally {
      await pool.close();
    }
  });

  it("ProducerPool publishes on pooled connections and gives them back", async () => {
    const connPool = new ConnectionPool(new Connection("memory://"), { limit: 1 });
    const pool = new ProducerPool(connPool, { limit: 2, producer: { serializer: "json" } });
    const name = `pp-${uuid()}`;
    try {
      {
        await using lease = await pool.acquire({ timeout: 1000 });
        await lease.resource.publish({ n: 1 }, { routingKey: name, declare: [new Queue(name)] });
        assert.equal(connPool.inUse, 1);
        assert.equal(pool.inUse, 1);
        // The only connection is out: a second producer waits for it, then times out.
        await assert.rejects(pool.acquire({ timeout: 10 }), LimitExceededError);
        assert.equal(pool.inUse, 1);
      }
      assert.equal(connPool.inUse, 0);
      assert.equal(pool.inUse, 0);
      const lease = await pool.acquire();
      const channel = await lease.resource.channel();
      const got = await channel.basicGet(name, { noAck: true });
      assert.deepEqual(JSON.parse(bodyText(got!.body)), { n: 1 });
      await lease.release();
      assert.equal(pool.getLimit(), 2);
      await pool.setLimit(3);
      assert.equal(pool.limit, 3);
    } finally {
      await pool.close();
      await connPool.close();
    }
  });
});

describe("global pool groups", () => {
  it("key pools by URL and follow the global limit", async () => {
    const previous = getLimit();
    try {
      const a = connections.get("memory://");
      assert.equal(connections.get("memory://"), a);
      assert.notEqual(connections.get("memory:///other"), a);
      assert.equal(a.limit, previous);
      const p = producers.get("memory://");
      assert.equal(p.connections, a);
      await setLimit(3);
      assert.equal(getLimit(), 3);
      assert.equal(a.limit, 3);
      assert.equal(p.limit, 3);
      {
        await using lease = await p.acquire({ timeout: 1000 });
        await lease.resource.publish("x", { routingKey: `g-${uuid()}` });
      }
      assert.equal(a.idle, 1);
    } finally {
      await setLimit(previous);
      await reset();
    }
    assert.equal(connections.size, 0);
    assert.equal(producers.size, 0);
  });

  it("a custom group makes pools with its own limit; setLimit resizes registered groups only", async () => {
    const group = new PoolGroup((conn, limit) => new ChannelPool(conn, { limit }), 4);
    const registered = registerGroup(
      new PoolGroup((conn, limit) => new ChannelPool(conn, { limit })),
    );
    const conn = new Connection("memory://");
    const previous = getLimit();
    try {
      const pool = group.get(conn);
      assert.equal(pool.limit, 4);
      assert.equal(group.get(conn), pool);
      const other = registered.get(conn);
      assert.equal(other.limit, previous);
      await setLimit(previous + 1);
      assert.equal(other.limit, previous + 1);
      assert.equal(pool.limit, 4);
      await reset();
      assert.equal(registered.size, 0);
      assert.equal(group.size, 1);
    } finally {
      await setLimit(previous);
      await group.clear();
      await conn.close();
    }
  });
});
