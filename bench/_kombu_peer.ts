/**
 * Python Kombu as the same-run peer of a benchmark: runs `bench/python/kombu_publish_consume.py`
 * with Debian's python3-kombu.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import process from "node:process";

/** msg/s of publishing N messages, consuming them, and both. */
export interface KombuResult {
  publish: number;
  consume: number;
  total: number;
}

/**
 * Publishes then consumes `n` small JSON messages with Python Kombu on `url`.
 *
 * @param n how many messages
 * @param url the Kombu URL
 * @param options consumer prefetch (0: no limit), Redis `global_keyprefix`, and other transport
 *   options (snake_case, as Kombu reads them)
 * @returns the rates, or a "not measured: ..." reason when Python Kombu is missing or failed
 */
export function kombuPublishConsume(
  n: number,
  url: string,
  options: { prefetch?: number; keyPrefix?: string; transportOptions?: object } = {},
): KombuResult | string {
  const script = new URL("./python/kombu_publish_consume.py", import.meta.url).pathname;
  const args = [script, String(n), url, String(options.prefetch ?? 0)];
  if (options.keyPrefix !== undefined) args.push(options.keyPrefix);
  const env = {
    ...process.env,
    KOMBU_TRANSPORT_OPTIONS: JSON.stringify(options.transportOptions ?? {}),
  };
  const out = spawnSync("/usr/bin/python3", args, { encoding: "utf8", timeout: 600_000, env });
  if (out.status !== 0) {
    return `not measured: ${(out.stderr || "python3-kombu missing").trim().split("\n").pop()}`;
  }
  return JSON.parse(out.stdout) as KombuResult;
}
