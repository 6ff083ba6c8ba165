/**
 * A filesystem producer the fault suite kills (SIGKILL) mid-write: publishes `{ run, n, pad }`
 * for n = 0, 1, ... into the folder, printing `OK n` once each publish resolved.
 *
 * argv: folder, queue, run, pad bytes.
 */
import process from "node:process";
import { Connection } from "../../../mod.ts";
import { FilesystemTransport } from "../../../transports/filesystem/mod.ts";

const [folder, queue, run, pad] = process.argv.slice(2);
const conn = new Connection("filesystem://", {
  transport: FilesystemTransport,
  transportOptions: {
    dataFolderIn: `${folder}/q`,
    dataFolderOut: `${folder}/q`,
    processedFolder: `${folder}/processed`,
    controlFolder: `${folder}/control`,
  },
});
const producer = conn.producer({ routingKey: queue });
const filler = "x".repeat(Number(pad));
for (let n = 0;; n++) {
  await producer.publish({ run, n, pad: filler });
  process.stdout.write(`OK ${n}\n`);
}
