/**
 * The Lua scripts that make the Redis transport lose nothing.
 *
 * Python Kombu pops a message with BRPOP and records it in `unacked` in a second round trip; a
 * consumer that dies in between loses the message. Here {@link FETCH} pops and records in one
 * atomic step on the server: a message is always either in its list or in `unacked` +
 * `unacked_index`, in the very layout Python Kombu's restore reads
 * (`HSET unacked <tag> '[<envelope>, "<exchange>", "<routing key>"]'`,
 * `ZADD unacked_index <time> <tag>`). Waiting for messages needs no blocking pop at all (see
 * `watcher.ts`), so no message ever sits in a reply that a dead consumer never read.
 *
 * Scripts run with EVALSHA and fall back to EVAL when the server does not know them (after a
 * restart or SCRIPT FLUSH).
 *
 * @module
 */

import { ChannelError } from "../../src/errors.ts";
import type { RedisLink } from "./driver.ts";
import { type RespArg, RespErrorReply, type RespValue } from "./resp/types.ts";

/**
 * Pops up to `max` messages from the list keys and records each in `unacked` and
 * `unacked_index` in the same step.
 *
 * KEYS: unacked, unacked_index, then the list keys step-major (every queue at step 0, then every
 * queue at the next step...). ARGV: max, now (Unix seconds, float), number of queues, `1` to
 * record (ack emulation) or `0`, and the most to take from one queue (default max). Within a
 * step, queues take turns one message at a time.
 * Returns a flat array of triples: key index (0-based among the list keys), envelope, and the
 * delivery tag it was recorded under (empty when not recorded), so that the caller can remove the
 * record of an envelope it cannot decode.
 */
export const FETCH = `
local max = tonumber(ARGV[1])
local now = ARGV[2]
local nq = tonumber(ARGV[3])
local record = ARGV[4] == '1'
local per = tonumber(ARGV[5]) or max
local taken = {}
local find, sub = string.find, string.sub

-- The JSON string literal (quotes included) of a key that occurs exactly once in the text as
-- "key": "...", or nil. Kombu and wakame write envelopes with Python's separators, so this finds
-- properties.delivery_tag and delivery_info's exchange and routing_key without decoding the JSON;
-- anything unusual (a header of the same name, another spacing) falls back to cjson.
local function literal(text, key)
  local marker = '"' .. key .. '": "'
  local first, last = find(text, marker, 1, true)
  if not first or find(text, marker, last + 1, true) then return nil end
  local at = last + 1
  while true do
    local q = find(text, '["\\\\]', at)
    if not q then return nil end
    if sub(text, q, q) == '"' then return sub(text, last, q) end
    at = q + 2
  end
end

local function describe(payload)
  local tag = literal(payload, 'delivery_tag')
  local exchange = literal(payload, 'exchange')
  local routing_key = literal(payload, 'routing_key')
  if tag and exchange and routing_key and not find(tag, '\\\\', 1, true) then
    return sub(tag, 2, -2), exchange, routing_key
  end
  local ok, message = pcall(cjson.decode, payload)
  if not ok or type(message) ~= 'table' or type(message.properties) ~= 'table' then return nil end
  local props = message.properties
  local value = props.delivery_tag
  if type(value) == 'number' then value = tostring(value) end
  if type(value) ~= 'string' then return nil end
  local ex, rk = '', ''
  local info = props.delivery_info
  if type(info) == 'table' then
    if type(info.exchange) == 'string' then ex = info.exchange end
    if type(info.routing_key) == 'string' then rk = info.routing_key end
  end
  return value, cjson.encode(ex), cjson.encode(rk)
end

local out = {}
local got = 0
local steps = (#KEYS - 2) / nq
for s = 0, steps - 1 do
  local active = true
  while active and got < max do
    active = false
    for q = 1, nq do
      if got >= max then break end
      local index = 2 + s * nq + q
      local payload = nil
      if (taken[q] or 0) < per then payload = redis.call('RPOP', KEYS[index]) end
      if payload then
        active = true
        got = got + 1
        taken[q] = (taken[q] or 0) + 1
        local recorded = ''
        if record then
          local tag, exchange, routing_key = describe(payload)
          if tag then
            redis.call('HSET', KEYS[1], tag, '[' .. payload .. ', ' .. exchange .. ', ' .. routing_key .. ']')
            redis.call('ZADD', KEYS[2], now, tag)
            recorded = tag
          end
        end
        out[#out + 1] = index - 3
        out[#out + 1] = payload
        out[#out + 1] = recorded
      end
    end
  end
end
return out
`;

/**
 * Gives one unacknowledged message back, only if it is still recorded (so an ack, a sweep of
 * another process and this restore never both win).
 *
 * KEYS: unacked, unacked_index, then the destination lists. ARGV: tag, `L` (LPUSH, the back of
 * the queue: Kombu's reject with requeue) or `R` (RPUSH, the front: Kombu's restore), the
 * envelope to push, `1` to push even when the tag is not recorded (fanout deliveries, which
 * Kombu never records either). Returns 1 when pushed.
 */
export const RESTORE = `
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if removed == 1 or ARGV[4] == '1' then
  for i = 3, #KEYS do
    if ARGV[2] == 'L' then
      redis.call('LPUSH', KEYS[i], ARGV[3])
    else
      redis.call('RPUSH', KEYS[i], ARGV[3])
    end
  end
  return 1
end
return 0
`;

/** Releases the sweep lock only when this process still holds it. KEYS: lock; ARGV: token. */
export const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A script run by its SHA1, loaded with EVAL when the server does not have it. */
export class Script {
  readonly #source: string;
  #sha: string | undefined;
  #shaPromise: Promise<string> | undefined;
  readonly #name: string;

  /**
   * @param name a short name for error messages
   * @param source the Lua text
   */
  constructor(name: string, source: string) {
    this.#name = name;
    this.#source = source;
  }

  /** Computes the SHA1 (once). */
  prepare(): Promise<string> {
    this.#shaPromise ??= sha1Hex(this.#source).then((sha) => (this.#sha = sha));
    return this.#shaPromise;
  }

  /**
   * Runs the script.
   *
   * @param link where
   * @param keys the KEYS
   * @param args the ARGV
   * @returns its reply
   * @throws {ChannelError} when the script fails on the server
   * @throws {ConnectionError} when the link is lost
   */
  async run(
    link: RedisLink,
    keys: readonly RespArg[],
    args: readonly RespArg[],
  ): Promise<RespValue> {
    const sha = this.#sha ?? await this.prepare();
    let reply = await link.send(["EVALSHA", sha, keys.length, ...keys, ...args]);
    if (reply instanceof RespErrorReply && reply.code === "NOSCRIPT") {
      reply = await link.send(["EVAL", this.#source, keys.length, ...keys, ...args]);
    }
    if (reply instanceof RespErrorReply) {
      throw new ChannelError(`Cannot run Redis script "${this.#name}": ${reply.message}`, {
        cause: reply,
      });
    }
    return reply;
  }
}
