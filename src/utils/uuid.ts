/**
 * Identifiers: random UUIDs (Kombu's `kombu.utils.uuid`) and stable object ids (Kombu's
 * `kombu.common.oid_from`).
 *
 * @module
 */

/**
 * Makes a random UUID (version 4), as Kombu's `uuid()`.
 *
 * @returns a UUID such as `"0f1c...-..."`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uuid } from "./uuid.ts";
 * assert.match(uuid(), /^[0-9a-f-]{36}$/);
 * ```
 */
export function uuid(): string {
  return crypto.randomUUID();
}

/** The RFC 4122 namespace for ISO OIDs, which Kombu uses for `oid_from`. */
export const NAMESPACE_OID = "6ba7b812-9dad-11d1-80b4-00c04fd430c8";

function uuidBytes(text: string): Uint8Array {
  const hex = text.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`Cannot parse UUID "${text}"`);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function formatUuid(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20, 32)
  }`;
}

/**
 * Makes a name-based UUID, version 5 (SHA-1, RFC 4122 section 4.3), as Python's `uuid.uuid5`.
 *
 * @param namespace the namespace UUID
 * @param name the name
 * @returns the UUID, identical to Python's `str(uuid5(namespace, name))`
 * @throws {RangeError} when the namespace is not a UUID
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NAMESPACE_OID, uuid5 } from "./uuid.ts";
 * assert.equal(await uuid5(NAMESPACE_OID, "x"), await uuid5(NAMESPACE_OID, "x"));
 * ```
 */
export async function uuid5(namespace: string, name: string): Promise<string> {
  const ns = uuidBytes(namespace);
  const text = new TextEncoder().encode(name);
  const input = new Uint8Array(ns.length + text.length);
  input.set(ns);
  input.set(text, ns.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", input)).slice(0, 16);
  digest[6] = (digest[6]! & 0x0f) | 0x50;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  return formatUuid(digest);
}

let cachedNodeId: string | undefined;

/**
 * A random id of this process (of this module instance), like Kombu's `get_node_id()`. Made on
 * first use: Cloudflare Workers refuse random values at module scope.
 */
function nodeId(): string {
  return cachedNodeId ??= crypto.randomUUID().replace(/-/g, "");
}

function processId(): number {
  try {
    const pid = (globalThis as { process?: { pid?: unknown } }).process?.pid;
    if (typeof pid === "number") return pid;
    const denoPid = (globalThis as { Deno?: { pid?: unknown } }).Deno?.pid;
    if (typeof denoPid === "number") return denoPid;
  } catch {
    // some sandboxes throw on access; the node id alone still separates processes
  }
  return 0;
}

const instanceIds = new WeakMap<object, number>();
const oids = new WeakMap<object, Promise<string>>();
let nextInstanceId = 1;

/**
 * Gives an object a stable id that differs between objects and processes (Kombu's `oid_from`).
 * pidbox uses it as the routing key of a mailbox's reply queue.
 *
 * Kombu hashes `"<node>-<pid>-<thread>-<id(obj)>"` with `uuid3` (MD5). Web Crypto has no MD5,
 * so this is a `uuid5` (SHA-1) of `"<node>-<pid>-0-<instance>"` in the same namespace: the
 * node is a random id made once per process, the instance a counter kept per object. Only
 * uniqueness and stability matter to peers; they never recompute the value.
 *
 * @param instance the object
 * @returns the same UUID for the same object, every time
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { oidFrom } from "./uuid.ts";
 * const a = {}, b = {};
 * assert.equal(await oidFrom(a), await oidFrom(a));
 * assert.notEqual(await oidFrom(a), await oidFrom(b));
 * ```
 */
export function oidFrom(instance: object): Promise<string> {
  let oid = oids.get(instance);
  if (oid === undefined) {
    let id = instanceIds.get(instance);
    if (id === undefined) {
      id = nextInstanceId++;
      instanceIds.set(instance, id);
    }
    oid = uuid5(NAMESPACE_OID, `${nodeId()}-${processId().toString(16)}-0-${id.toString(16)}`);
    oids.set(instance, oid);
  }
  return oid;
}

const UUIDS_PER_BATCH = 256;
const HEX_DIGITS = new TextEncoder().encode("0123456789abcdef");
/** UUIDs decoded together into one string; a kept tag keeps at most this group alive. */
const UUIDS_PER_GROUP = 8;
const uuidDecoder = new TextDecoder();
const batch = new Uint8Array(UUIDS_PER_BATCH * 36);
let nextInBatch = UUIDS_PER_BATCH;
let group = "";

/** Formats the next batch of UUIDs as ASCII, from one `getRandomValues` call. */
function refillBatch(): void {
  const random = crypto.getRandomValues(new Uint8Array(UUIDS_PER_BATCH * 16));
  const text = batch;
  let at = 0;
  for (let u = 0; u < UUIDS_PER_BATCH; u++) {
    const r = u * 16;
    random[r + 6] = (random[r + 6] & 0x0f) | 0x40; // version 4
    random[r + 8] = (random[r + 8] & 0x3f) | 0x80; // RFC 4122 variant
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) text[at++] = 0x2d; // "-"
      const byte = random[r + i];
      text[at++] = HEX_DIGITS[byte >> 4];
      text[at++] = HEX_DIGITS[byte & 15];
    }
  }
  nextInBatch = 0;
}

/**
 * A random (version 4) UUID, like `crypto.randomUUID()`, from a batch of 256 that one
 * `crypto.getRandomValues` call fills and formats: the virtual base tags every published message
 * with one, as Kombu does. Eight at a time are decoded into one flat string and each is a slice
 * of it: concatenating hex pairs made a tree of string pieces per UUID, and slicing one string
 * per batch would let a single kept tag hold all 256 in memory (here at most 8).
 *
 * @returns a lowercase UUID string
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fastUuid4 } from "./uuid.ts";
 * assert.match(fastUuid4(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
 * ```
 */
export function fastUuid4(): string {
  if (nextInBatch === UUIDS_PER_BATCH) refillBatch();
  const n = nextInBatch++;
  const inGroup = n % UUIDS_PER_GROUP;
  if (inGroup === 0) {
    group = uuidDecoder.decode(batch.subarray(n * 36, (n + UUIDS_PER_GROUP) * 36));
  }
  return group.slice(inGroup * 36, inGroup * 36 + 36);
}
