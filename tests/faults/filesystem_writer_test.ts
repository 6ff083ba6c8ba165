/**
 * A filesystem producer killed mid-write (SIGKILL of a child process, at a seeded random point):
 * every message whose publish resolved is consumed, none twice, no half-written file is ever
 * read, and the temporary file a killed writer may leave is removed by the next broker that
 * opens the folder.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Connection, Queue } from "../../mod.ts";
import { FilesystemTransport } from "../../transports/filesystem/mod.ts";
import { Child } from "./_child.ts";
import { consumeInto, Ledger, sleep } from "./_ledger.ts";

const COUNT = 400;

function connect(folder: string): Connection {
  return new Connection("filesystem://", {
    transport: FilesystemTransport,
    transportOptions: {
      dataFolderIn: join(folder, "q"),
      dataFolderOut: join(folder, "q"),
      processedFolder: join(folder, "processed"),
      controlFolder: join(folder, "control"),
      pollingInterval: 10,
    },
  });
}

const temps = (folder: string) =>
  readdirSync(join(folder, "q")).filter((n) => n.startsWith(".tmp-"));

describe("fault: a filesystem writer killed mid-write", () => {
  it("what it confirmed is consumed once; its leftover temporary file is removed", async () => {
    const folder = mkdtempSync(join(tmpdir(), "wk-faults-fsw-"));
    const ledger = new Ledger("filesystem writer killed", COUNT);
    const queue = new Queue(`writer-${ledger.run}`);
    // Large bodies, so that a kill often lands inside a write.
    const child = Child.start("fs_writer.ts", [folder, queue.name, ledger.run, "200000"]);
    const killAt = ledger.point(60, 5);
    ledger.note(`kill after ${killAt} confirmed publishes, writer pid ${child.pid}`);
    const confirmed = new Map<number, () => void>();
    child.onLine((line) => {
      const n = Number(/^OK (\d+)$/.exec(line)?.[1]);
      if (Number.isInteger(n)) confirmed.get(n)?.();
    });
    const conn = connect(folder);
    let stop: (() => Promise<void>) | undefined;
    try {
      await ledger.watch(30_000, async () => {
        let dead = false;
        void child.exited.then(() => (dead = true));
        // The child publishes by itself: the ledger's publish of n resolves on its `OK n`, and
        // rejects when it died before.
        for (let n = 0; n < COUNT && !dead; n++) {
          await ledger.publish(
            n,
            () =>
              new Promise<void>((resolve, reject) => {
                confirmed.set(n, resolve);
                void child.exited.then(() => reject(new Error("the writer was killed")));
              }),
          );
          if (n + 1 === killAt) {
            await sleep(ledger.point(5, 0));
            await child.kill();
          }
        }
        ledger.note(`temporary files after the kill: ${temps(folder).length}`);
        // A leftover of a dead writer, for sure: named as the writer's own, with its pid.
        writeFileSync(
          join(folder, "q", `.tmp-${child.pid}@${hostname()}-${crypto.randomUUID()}`),
          '{"body": "half',
        );
        stop = await consumeInto(ledger, conn, queue);
        assert.deepEqual(temps(folder), [], "the next broker removed the leftover temp files");
        await ledger.consumed(15_000);
        await sleep(100);
      });
      ledger.check({ delivered: ledger.confirmedCount });
      assert.ok(ledger.confirmedCount >= killAt - 1, "the writer published up to the kill");
    } finally {
      await child.kill();
      await stop?.();
      await conn.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
