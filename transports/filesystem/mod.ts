/**
 * The `filesystem://` transport (Kombu's `filesystem` transport): one file per message in shared
 * folders, readable and writable by Python Kombu on the same folders.
 *
 * URL: `filesystem://` with transport options (camelCase, or Kombu's snake_case names as in a
 * Celery `broker_transport_options`; in the URL query Kombu's names and units), declared in
 * {@link FILESYSTEM_OPTIONS}:
 * - `dataFolderIn` / `dataFolderOut` (default `data_in` / `data_out`; point both at one folder
 *   for a single-folder broker, or cross them for two peers)
 * - `processedFolder` (default `processed`), `storeProcessed` (default false: delete at the ack)
 * - `controlFolder` (default `control`): bindings in `<exchange>.exchange` files as in Kombu 5.3
 * - `pollingInterval` in ms (default 100; Kombu's `polling_interval` in seconds)
 *
 * Layout: `<ms>_<uuid4>.<queue>.msg` holding Kombu's JSON envelope. Writers write a temporary
 * `.tmp-<pid>@<host>-<uuid>` file and rename it, so readers never see half a message; opening a
 * broker removes the temporary files of writers that died before their rename. Queue names match
 * exactly (Kombu's substring match also took `x.a` for `a`). A corrupt file is moved to
 * `<dataFolderIn>/corrupt/` and never stops a consumer. A delivered message waits in
 * `<processedFolder>/unacked-<pid>@<host>/` until its ack; what a consumer that died held is put
 * back, marked redelivered, by the next broker that opens the folders on that host (Kombu
 * deletes a message when it reads it).
 *
 * Capabilities: direct, topic and fanout exchanges (bindings shared through the control folder),
 * redelivered flag, persistence. No priority, no TTL, no headers exchange (Kombu's binding files
 * cannot hold header arguments).
 *
 * @module
 */

import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeEnvelope, encodeEnvelope } from "../../src/envelope.ts";
import { ConnectionError } from "../../src/errors.ts";
import type { Capabilities, ConnectionParams, Transport } from "../../src/transport.ts";
import type {
  Binding,
  BindingStore,
  Lease,
  QueueBackend,
  StoredMessage,
} from "../../src/virtual/backend.ts";
import { sameBinding } from "../../src/virtual/state.ts";
import { type BackendContext, virtualTransport } from "../../src/virtual/transport.ts";
import { registerTransport } from "../../src/registry.ts";
import { FILESYSTEM_OPTIONS, type FilesystemOptions, filesystemOptions } from "./options.ts";
import { removeLeftoverTemps, tempPath } from "./temp_files.ts";
import { FileLease, restoreAbandoned } from "./lease.ts";

export { type FilesystemOptions, filesystemOptions } from "./options.ts";

/** What `filesystem://` can do. */
export const filesystemCapabilities: Capabilities = {
  exchangeTypes: ["direct", "topic", "fanout"],
  priority: "none",
  messageTtl: false,
  queueArguments: false,
  redeliveredFlag: true,
  confirms: false,
  mandatory: true,
  heartbeats: false,
  persistent: true,
  exclusive: false,
  exchangeBindings: false,
  crossProcess: true,
  fifo: true,
  queueEquivalence: false,
};

const MESSAGE_FILE = /^\d+_[0-9a-fA-F-]{36}\.(.+)\.msg$/;

let lastMs = 0;
let sequence = 0;

/**
 * Milliseconds since the epoch followed by a 4-digit sequence, so that files written by this
 * process in the same millisecond still sort in the order they were written.
 */
function stamp(): string {
  const now = Date.now();
  if (now === lastMs) sequence++;
  else {
    lastMs = now;
    sequence = 0;
  }
  return `${now}${String(sequence % 10000).padStart(4, "0")}`;
}

function isMissing(error: unknown): boolean {
  return (error as { code?: string })?.code === "ENOENT";
}

/** Bindings in `<controlFolder>/<exchange>.exchange`: a JSON array of [key, pattern, queue]. */
class FileBindingStore implements BindingStore {
  readonly #folder: string;

  constructor(folder: string) {
    this.#folder = folder;
  }

  #file(exchange: string): string {
    return join(this.#folder, `${exchange}.exchange`);
  }

  async #read(exchange: string): Promise<[string, string | null, string][]> {
    try {
      const rows = JSON.parse(await readFile(this.#file(exchange), "utf8"));
      return Array.isArray(rows) ? rows : [];
    } catch (error) {
      if (isMissing(error) || error instanceof SyntaxError) return [];
      throw error;
    }
  }

  async #write(exchange: string, rows: [string, string | null, string][]): Promise<void> {
    const temp = tempPath(this.#folder);
    await writeFile(temp, JSON.stringify(rows));
    await rename(temp, this.#file(exchange));
  }

  async add(exchange: string, binding: Binding): Promise<void> {
    const rows = await this.#read(exchange);
    const row: [string, string | null, string] = [
      binding.routingKey,
      binding.pattern || null,
      binding.queue,
    ];
    if (rows.some(([key, , queue]) => key === row[0] && queue === row[2])) return;
    rows.push(row);
    await this.#write(exchange, rows);
  }

  async remove(exchange: string, binding: Binding): Promise<void> {
    const rows = await this.#read(exchange);
    const kept = rows.filter(([key, , queue]) =>
      !sameBinding({ queue, routingKey: key }, {
        queue: binding.queue,
        routingKey: binding.routingKey,
      })
    );
    if (kept.length !== rows.length) await this.#write(exchange, kept);
  }

  async list(exchange: string): Promise<Binding[]> {
    return (await this.#read(exchange)).map(([routingKey, pattern, queue]) => ({
      routingKey: routingKey ?? "",
      queue,
      pattern: pattern ?? "",
    }));
  }

  async deleteExchange(exchange: string): Promise<void> {
    await rm(this.#file(exchange), { force: true });
  }
}

/** Messages as files in folders shared with Python Kombu. */
export class FilesystemBackend implements QueueBackend {
  /** Bindings, kept in Kombu 5.3's binding files beside the queues. */
  readonly bindings: BindingStore;
  /** Delivered messages held in this process's folder until the ack. */
  readonly lease: Lease;
  readonly #hold: FileLease;
  readonly #o: FilesystemOptions;
  readonly #context: Pick<BackendContext, "warn"> | undefined;

  /**
   * Opens the store over its folders.
   *
   * @param options the folders
   * @param context where to report corrupt files
   */
  constructor(options: FilesystemOptions, context?: Pick<BackendContext, "warn">) {
    this.#o = options;
    this.#context = context;
    this.bindings = new FileBindingStore(options.controlFolder);
    this.#hold = new FileLease(options);
    this.lease = this.#hold;
  }

  /**
   * Makes the folders, removes the temporary files writers that died left there, and puts back
   * what consumers that died held.
   */
  async open(): Promise<void> {
    const o = this.#o;
    for (const folder of [o.dataFolderIn, o.dataFolderOut, o.processedFolder, o.controlFolder]) {
      try {
        await mkdir(folder, { recursive: true });
      } catch (cause) {
        throw new ConnectionError(
          `Cannot open filesystem broker: cannot create folder "${folder}"`,
          {
            cause,
          },
        );
      }
    }
    for (const folder of new Set([o.dataFolderOut, o.controlFolder])) {
      const removed = await removeLeftoverTemps(folder);
      if (removed.length) {
        this.#context?.warn(
          `Removed ${removed.length} temporary file(s) of dead writers from "${folder}"`,
        );
      }
    }
    const restored = await restoreAbandoned(o);
    if (restored) {
      this.#context?.warn(`Restored ${restored} message(s) that dead consumers held`);
    }
  }

  /** Writes the message as a new file (temporary name, then rename). */
  async put(queue: string, message: StoredMessage): Promise<void> {
    const name = `${stamp()}_${crypto.randomUUID()}.${queue}.msg`;
    const temp = tempPath(this.#o.dataFolderOut);
    await writeFile(temp, encodeEnvelope(message));
    await rename(temp, join(this.#o.dataFolderOut, name));
  }

  async #files(queue: string): Promise<string[]> {
    const names = await readdir(this.#o.dataFolderIn);
    return names.filter((name) => MESSAGE_FILE.exec(name)?.[1] === queue).sort();
  }

  /** Claims the oldest file of the queue (moves it into the lease's folder), then reads it. */
  async get(queue: string): Promise<StoredMessage | undefined> {
    for (const name of await this.#files(queue)) {
      const claimed = await this.#hold.claim(name);
      if (claimed === undefined) continue; // another consumer took it
      const text = await readFile(claimed, "utf8");
      let message: StoredMessage;
      try {
        message = decodeEnvelope(text);
      } catch (error) {
        await this.#quarantine(claimed, name, error);
        continue;
      }
      return this.#hold.hold(message, name, claimed);
    }
    return undefined;
  }

  async #quarantine(path: string, name: string, error: unknown): Promise<void> {
    const folder = join(this.#o.dataFolderIn, "corrupt");
    await mkdir(folder, { recursive: true });
    await rename(path, join(folder, name));
    this.#context?.warn(`Moved corrupt message file "${name}" to "${folder}"`, error);
  }

  /** Deletes the queue's files. */
  async purge(queue: string): Promise<number> {
    let count = 0;
    for (const name of await this.#files(queue)) {
      try {
        await rm(join(this.#o.dataFolderIn, name));
        count++;
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    return count;
  }

  /** Counts the queue's files. */
  async size(queue: string): Promise<number> {
    return (await this.#files(queue)).length;
  }

  /** Deletes the queue's files (queues have no other existence here). */
  async delete(queue: string): Promise<void> {
    await this.purge(queue);
  }
}

/** The `filesystem://` transport. */
export const FilesystemTransport: Transport = virtualTransport({
  name: "filesystem",
  capabilities: filesystemCapabilities,
  pollingInterval: 100,
  options: FILESYSTEM_OPTIONS,
  scopeKey: (params: ConnectionParams) => {
    const o = filesystemOptions(params.transportOptions, params.queryOptions);
    return `filesystem|${o.controlFolder}|${o.dataFolderOut}`;
  },
  async openBackend(params, context) {
    const backend = new FilesystemBackend(
      filesystemOptions(params.transportOptions, params.queryOptions),
      context,
    );
    await backend.open();
    return backend;
  },
});

export default FilesystemTransport;

// Importing this module makes its URL schemes resolve to it (also in bundles, where the
// registry cannot load it by itself).
registerTransport(["filesystem"], FilesystemTransport);
