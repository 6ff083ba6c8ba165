/**
 * A filesystem consumer process killed (SIGKILL) while it holds unacknowledged messages: they
 * wait in its own folder (`<processed>/unacked-<pid>@<host>/`), and the next broker that opens
 * the folders puts them back once, flagged redelivered; what it acked never comes back.
 * (Kombu's filesystem transport deletes a message when it reads it: a crashed consumer loses it.)
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Connection, Queue } from "../../mod.ts";
import { FilesystemTransport } from "../../transports/filesystem/mod.ts";
import { Child } from "./_child.ts";
import { consumeInto, Ledger, sleep } from "./_ledger.ts";

const COUNT = 60;
const PREFETCH = 8;

describe("fault: a filesystem consumer killed holding messages", () => {
  it("the next broker puts back what it held, once, flagged redelivered", async () => {
    const folder = mkdtempSync(join(tmpdir(), "wk-faults-fsc-"));
    const options = {
      dataFolderIn: join(folder, "q"),
      dataFolderOut: join(folder, "q"),
      processedFolder: join(folder, "processed"),
      controlFolder: join(folder, "control"),
      pollingInterval: 10,
    };
    const connect = () =>
      new Connection("filesystem://", {
        transport: FilesystemTransport,
        transportOptions: options,
      });
    const ledger = new Ledger("filesystem consumer killed", COUNT);
    const queue = new Queue(`held-${ledger.run}`);
    const ackFirst = ledger.point(COUNT - 2 * PREFETCH, 0);
    ledger.note(`the consumer acks ${ackFirst}, then holds`);
    const producerConn = connect();
    const child = Child.start("holder.ts", [
      "filesystem://",
      JSON.stringify(options),
      queue.name,
      String(ackFirst),
      String(PREFETCH),
    ]);
    child.onLine((line) => {
      const m = /^GOT (\d+) (true|false)$/.exec(line);
      if (m) ledger.delivered(ledger.body(Number(m[1])), m[2] === "true");
    });
    const held = () =>
      readdirSync(options.processedFolder).filter((n) => n.startsWith("unacked-"))
        .flatMap((d) => readdirSync(join(options.processedFolder, d))).length;
    let consumerConn: Connection | undefined;
    let stop: (() => Promise<void>) | undefined;
    let heldAtKill = 0;
    try {
      await ledger.watch(30_000, async () => {
        const producer = producerConn.producer({ routingKey: queue.name });
        await ledger.publishAll((body) => producer.publish(body, { declare: [queue] }));
        await child.waitFor((line) => line.startsWith("HELD "));
        await sleep(200); // let its prefetch fill
        await child.kill();
        heldAtKill = held();
        ledger.note(`killed holding ${heldAtKill}`);
        assert.ok(heldAtKill >= 1, "the killed consumer held messages in its folder");
        consumerConn = connect();
        stop = await consumeInto(ledger, consumerConn, queue);
        await ledger.consumed(15_000, { all: true });
        await sleep(300); // a second restore would show
      });
      ledger.check({ delivered: COUNT, exactlyOnce: true });
      const flagged = Array.from({ length: COUNT }, (_, n) => ledger.redeliveries(n))
        .filter((r) => r > 0).length;
      assert.equal(flagged, heldAtKill, "each restored message came back flagged redelivered");
      await stop?.();
      stop = undefined;
      assert.equal(held(), 0, "nothing is held any more");
    } finally {
      await child.kill();
      await stop?.();
      await producerConn.close();
      await consumerConn?.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
