/**
 * What `wakame inspect` reads from Redis: Kombu's `_kombu.binding.*` sets, queue lists with
 * their priority sub-queues, the `unacked` hash with the age of each entry, and warnings when
 * keys were written with another `sep` or `global_keyprefix` than the URL's.
 *
 * @module
 */

import { resolveParams } from "../src/connection/params.ts";
import { RedisConnector, type RedisMode } from "../transports/redis/connector.ts";
import { type RedisLink, replyText } from "../transports/redis/driver.ts";
import { KeyLayout } from "../transports/redis/keys.ts";
import { readSettings } from "../transports/redis/options.ts";
import type { RespValue } from "../transports/redis/resp/types.ts";
import { kombuTopicMatches } from "../src/virtual/exchange_types.ts";
import type { InspectReport } from "./inspect_report.ts";

/** One member of a `_kombu.binding.<exchange>` set. */
interface RedisBinding {
  exchange: string;
  routingKey: string;
  pattern: string;
  queue: string;
}

/** The queues an entry published to `exchange` with `routingKey` was routed to. */
function routedTo(bindings: readonly RedisBinding[], exchange: string, routingKey: string) {
  if (exchange === "") return [routingKey];
  const queues = bindings.filter((b) => {
    if (b.exchange !== exchange) return false;
    if (b.pattern === "") return b.routingKey === routingKey;
    try {
      return kombuTopicMatches(b.routingKey, routingKey);
    } catch {
      return false;
    }
  }).map((b) => b.queue);
  return [...new Set(queues)];
}

const MODES: Record<string, RedisMode> = {
  redis: "tcp",
  rediss: "tls",
  "redis+socket": "socket",
  sentinel: "sentinel",
};

/** Whether the URL's transport is one of the Redis ones. */
export function isRedis(transport: string): boolean {
  return Object.hasOwn(MODES, transport);
}

function texts(value: RespValue): string[] {
  return Array.isArray(value) ? value.map((v) => replyText(v) ?? "") : [];
}

async function scan(link: RedisLink, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  let rounds = 0;
  do {
    const reply = await link.send(["SCAN", cursor, "MATCH", match, "COUNT", 1000]);
    const [next, found] = Array.isArray(reply) ? reply : ["0", []];
    cursor = replyText(next) ?? "0";
    keys.push(...texts(found));
  } while (cursor !== "0" && ++rounds < 10_000);
  return keys.sort();
}

function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/**
 * Reads the Redis state of a connection URL.
 *
 * @param url the Redis URL (with its transport options in the query string)
 * @param transport its scheme
 * @param named queues named on the command line
 * @returns the report
 */
export async function inspectRedis(
  url: string,
  transport: string,
  named: readonly string[],
): Promise<InspectReport> {
  const { params } = await resolveParams(url, {}, new AbortController().signal);
  const settings = readSettings(params.transportOptions, params.queryOptions);
  const connector = new RedisConnector(params, settings, MODES[transport]);
  const layout = new KeyLayout(settings, connector.db);
  const link = await connector.open();
  const report: InspectReport = { queues: [], exchanges: [], bindings: [], notes: [] };
  try {
    const bindingKeys = await scan(link, `${layout.prefix}_kombu.binding.*`);
    const queues = new Set(named);
    const bindings: RedisBinding[] = [];
    for (const key of bindingKeys) {
      const exchange = key.slice(layout.bindingKey("").length);
      const members = texts(await link.send(["SMEMBERS", key]));
      let type = "direct";
      for (const member of members) {
        const parts = member.split(settings.sep);
        if (parts.length !== 3) {
          report.notes.push(
            `warning: binding "${printable(member)}" of exchange "${exchange}" does not split ` +
              `into routing key, pattern and queue with sep "${printable(settings.sep)}": ` +
              `was it written with another sep?`,
          );
          continue;
        }
        const [routingKey, pattern, queue] = parts;
        if (pattern !== "") type = "topic";
        report.bindings.push({ exchange, routingKey, queue });
        bindings.push({ exchange, routingKey, pattern, queue });
        queues.add(queue);
      }
      report.exchanges.push({ name: exchange, type: members.length ? type : "?" });
    }
    // Keys of Kombu's layout under another global_keyprefix than the URL's.
    const elsewhere = (await scan(link, "*_kombu.binding.*"))
      .filter((key) => !key.startsWith(layout.prefix + "_kombu.binding."))
      .map((key) => key.slice(0, key.indexOf("_kombu.binding.")));
    for (const prefix of new Set(elsewhere)) {
      report.notes.push(
        `warning: bindings found under key prefix "${printable(prefix)}", not ` +
          `"${printable(layout.prefix)}": set ?global_keyprefix=${encodeURIComponent(prefix)}`,
      );
    }
    // Priority sub-queues written with the default sep while the URL names another.
    const defaultSep = "\x06\x16";
    if (settings.sep !== defaultSep) {
      for (const queue of queues) {
        const stray = await scan(link, `${layout.prefix}${queue}${defaultSep}*`);
        if (stray.length > 0) {
          report.notes.push(
            `warning: "${queue}" has priority lists with the default sep "\\x06\\x16" while ` +
              `the URL's sep is "${printable(settings.sep)}"`,
          );
        }
      }
    }
    // Kombu's `unacked` values are `[message, exchange, routing_key]`: the queues are found
    // through the bindings, as Kombu's restore does.
    const now = Date.now() / 1000;
    let hidden = 0;
    const index = texts(await link.send(["ZRANGE", layout.unackedIndex, 0, -1, "WITHSCORES"]));
    for (let i = 0; i + 1 < index.length; i += 2) {
      const tag = index[i];
      const raw = replyText(await link.send(["HGET", layout.unacked, tag]));
      let queue = "?";
      let routed: string[] = [];
      try {
        const [, exchange, routingKey] = JSON.parse(raw ?? "[]") as [unknown, string, string];
        routed = routedTo(bindings, exchange ?? "", routingKey ?? "");
        queue = routed.length > 0
          ? routed.join(",")
          : exchange
          ? `${exchange}/${routingKey}`
          : routingKey;
      } catch {
        // an entry another tool wrote: shown without its queue
      }
      if (named.length > 0 && !routed.some((q) => named.includes(q))) {
        hidden++;
        continue;
      }
      const age = Math.max(0, now - Number(index[i + 1]));
      report.unacked ??= [];
      report.unacked.push({ tag, queue, ageSeconds: age });
    }
    if (hidden > 0) {
      report.notes.push(
        `note: ${hidden} unacked entr${hidden === 1 ? "y" : "ies"} of other queues ` +
          `not shown (name no queue to see all)`,
      );
    }
    for (const queue of [...queues].sort()) {
      const subQueues: { priority: number; depth: number }[] = [];
      let depth = 0;
      for (const step of layout.steps) {
        const n = Number(await link.send(["LLEN", layout.queueKey(queue, step)]));
        depth += n;
        if (n > 0 && step !== 0) subQueues.push({ priority: step, depth: n });
      }
      if (subQueues.length > 0) {
        const zero = depth - subQueues.reduce((sum, s) => sum + s.depth, 0);
        subQueues.unshift({ priority: 0, depth: zero });
      }
      report.queues.push({ name: queue, depth, consumers: undefined, subQueues });
    }
  } finally {
    await link.close();
  }
  return report;
}
