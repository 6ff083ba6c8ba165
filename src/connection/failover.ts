/**
 * The order in which a connection tries its failover URLs (Kombu's `failover_strategies`).
 *
 * @module
 */

import type { FailoverStrategy } from "./options.ts";

function roundRobin(urls: readonly string[]): Iterator<string> {
  let i = 0;
  return { next: () => ({ value: urls[i++ % urls.length], done: false }) };
}

function shuffled(urls: readonly string[]): Iterator<string> {
  let order: string[] = [];
  return {
    next: () => {
      if (order.length === 0) {
        order = [...urls];
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(Math.random() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
      }
      return { value: order.shift()!, done: false };
    },
  };
}

/**
 * The endless sequence of URLs a connection tries.
 *
 * @param urls the URLs, in the order given
 * @param strategy `round-robin`, `shuffle` or a function
 * @returns an iterator that never ends
 */
export function failoverCycle(
  urls: readonly string[],
  strategy: "round-robin" | "shuffle" | FailoverStrategy = "round-robin",
): Iterator<string> {
  return strategy === "round-robin"
    ? roundRobin(urls)
    : strategy === "shuffle"
    ? shuffled(urls)
    : strategy(urls);
}
