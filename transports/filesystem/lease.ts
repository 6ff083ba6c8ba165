/**
 * The filesystem transport's hold on delivered messages: a consumer claims a message file by
 * moving it into its own folder `<processedFolder>/unacked-<pid>@<host>/`, and removes it (or,
 * with `storeProcessed`, moves it to `processedFolder`) only at the ack. A requeue or a restore
 * writes it back to the queue folder. A consumer that dies holding messages leaves them in its
 * folder; the next broker that opens the folders on this host puts them back, marked redelivered
 * ({@link restoreAbandoned}). Kombu's filesystem transport deletes a message when it is read, so
 * a crashed Kombu consumer loses what it held; this one does not.
 *
 * @module
 */

import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { decodeEnvelope, encodeEnvelope } from "../../src/envelope.ts";
import type { Lease, ReleaseOptions, StoredMessage } from "../../src/virtual/backend.ts";
import { deadWriter, tempPath, writerId } from "./temp_files.ts";

/** Where a held message's file is. */
interface Claim {
  /** Its file name in the queue folder. */
  name: string;
  /** Where it is now. */
  path: string;
}

const HOLDER = /^unacked-(\d+)@(.+)$/;

/** Folders this process made: any other one named after its pid is a previous process's. */
const made = new Set<string>();

/** The folders a lease works with. */
export interface LeaseFolders {
  /** Where consumers read (released messages go back there). */
  dataFolderIn: string;
  /** Where the holders' folders live, and acked messages with `storeProcessed`. */
  processedFolder: string;
  /** Keep acked messages in `processedFolder`. */
  storeProcessed: boolean;
}

/** Writes `text` as `folder/name` through a temporary file. */
async function writeAtomically(folder: string, name: string, text: string): Promise<void> {
  const temp = tempPath(folder);
  await writeFile(temp, text);
  await rename(temp, join(folder, name));
}

/** The hold of this process's consumers. */
export class FileLease implements Lease {
  readonly #o: LeaseFolders;
  readonly #folder: string;

  constructor(folders: LeaseFolders) {
    this.#o = folders;
    this.#folder = join(folders.processedFolder, `unacked-${writerId()}`);
  }

  /**
   * Claims the file `name` of the queue folder: moves it into this process's folder.
   *
   * @returns where it is now, or `undefined` when another consumer took it first
   */
  async claim(name: string): Promise<string | undefined> {
    if (!made.has(this.#folder)) {
      await mkdir(this.#folder, { recursive: true });
      made.add(this.#folder);
    }
    const path = join(this.#folder, name);
    try {
      await rename(join(this.#o.dataFolderIn, name), path);
      return path;
    } catch (error) {
      if ((error as { code?: string })?.code === "ENOENT") return undefined;
      throw error;
    }
  }

  /** Remembers where a claimed message's file is. */
  hold(message: StoredMessage, name: string, path: string): StoredMessage {
    message.backendData = { name, path } satisfies Claim;
    return message;
  }

  async settle(_queue: string, message: StoredMessage, outcome: "ack" | "reject"): Promise<void> {
    const claim = message.backendData as Claim | undefined;
    if (!claim) return;
    if (outcome === "ack" && this.#o.storeProcessed) {
      await rename(claim.path, join(this.#o.processedFolder, claim.name));
    } else {
      await rm(claim.path, { force: true });
    }
  }

  async release(queue: string, message: StoredMessage, options: ReleaseOptions): Promise<void> {
    const claim = message.backendData as Claim | undefined;
    // To the front: under its own name, whose stamp sorts it where it was; to the back: anew.
    const name = claim && options.position === "front"
      ? claim.name
      : `${Date.now()}0000_${crypto.randomUUID()}.${queue}.msg`;
    await writeAtomically(this.#o.dataFolderIn, name, encodeEnvelope(message));
    if (claim) await rm(claim.path, { force: true });
  }
}

/**
 * Puts back what dead consumers on this host held: every `unacked-<pid>@<host>` folder whose
 * process is gone (or that carries this process's pid but was not made by it: a restarted
 * process that got the same pid), each message marked redelivered, under its own name.
 *
 * @returns how many messages were put back
 */
export async function restoreAbandoned(folders: LeaseFolders): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir(folders.processedFolder);
  } catch {
    return 0;
  }
  let restored = 0;
  for (const entry of entries) {
    const m = HOLDER.exec(entry);
    if (!m) continue;
    const folder = join(folders.processedFolder, entry);
    const pid = Number(m[1]);
    const ours = pid === process.pid;
    if (ours ? made.has(folder) : !deadWriter(pid, m[2])) continue;
    for (const name of await readdir(folder)) {
      const path = join(folder, name);
      try {
        const message = decodeEnvelope(await readFile(path, "utf8"));
        message.redelivered = true;
        await writeAtomically(folders.dataFolderIn, name, encodeEnvelope(message));
        await rm(path, { force: true });
      } catch {
        // Unreadable: back as it is; the consumer sets it apart as corrupt.
        await rename(path, join(folders.dataFolderIn, name)).catch(() => {});
      }
      restored++;
    }
    await rmdir(folder).catch(() => {});
  }
  return restored;
}
