/**
 * The filesystem transport's temporary files: a writer writes `.tmp-<pid>@<host>-<uuid>` and
 * renames it into place, so readers never see half a message. A writer killed between the two
 * leaves its temporary file behind; {@link removeLeftoverTemps} (run when a broker opens its
 * folders) removes those of dead writers on this host, and any older than an hour (a write
 * never takes that long; such a file is also what an older wakame, without the pid, left).
 *
 * @module
 */

import { readdir, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";

const TEMP = /^\.tmp-(?:(\d+)@(.*)-)?[0-9a-fA-F-]{36}$/;

/** A temporary file left this long is abandoned, whoever wrote it. */
const ABANDONED_MS = 60 * 60 * 1000;

let host: string | undefined;

function thisHost(): string {
  host ??= hostname().replace(/[^\w.-]/g, "_");
  return host;
}

/** This process as a writer: `<pid>@<host>`. */
export function writerId(): string {
  return `${process.pid}@${thisHost()}`;
}

/** A new temporary file's path in `folder`, naming this process as its writer. */
export function tempPath(folder: string): string {
  return join(folder, `.tmp-${writerId()}-${crypto.randomUUID()}`);
}

/**
 * Whether the process `<pid>@<host>` is surely gone: on this host and no such process (another
 * host's processes cannot be asked).
 */
export function deadWriter(pid: number, host: string): boolean {
  return host === thisHost() && !alive(pid);
}

/** False only when the process surely does not exist (ESRCH). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string })?.code !== "ESRCH";
  }
}

/**
 * Removes the temporary files of writers that died before their rename: those whose process is
 * gone (same host), and any older than an hour.
 *
 * @param folder a folder writers write into
 * @returns the names removed
 */
export async function removeLeftoverTemps(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const path = join(folder, name);
    let abandoned = m[1] !== undefined && deadWriter(Number(m[1]), m[2]);
    if (!abandoned) {
      try {
        abandoned = Date.now() - (await stat(path)).mtimeMs > ABANDONED_MS;
      } catch {
        continue; // renamed or removed meanwhile
      }
    }
    if (abandoned) {
      await rm(path, { force: true });
      removed.push(name);
    }
  }
  return removed;
}
