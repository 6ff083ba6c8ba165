/**
 * Which nodes a pidbox request is for: the named `destination`, else the hostnames matching
 * `pattern` with the named `matcher` (`glob`, `pcre`), else every node (Kombu's
 * `Node.handle_message` checks).
 *
 * @module
 */

import { getLogger } from "../logger.ts";
import type { MatcherRegistry } from "../utils/matcher.ts";
import type { PidboxRequest } from "./wire.ts";

const log = getLogger("pidbox");

/**
 * Checks a hostname against a request's destination or pattern.
 *
 * @param hostname the node's name
 * @param request the request's `destination`, `pattern` and `matcher`
 * @param matchers the matcher registry that knows `matcher`
 * @returns true when the node should run the request (a pattern that cannot be matched says no)
 */
export function matchesDestination(
  hostname: string,
  request: Pick<PidboxRequest, "destination" | "pattern" | "matcher">,
  matchers: MatcherRegistry,
): boolean {
  const { destination, pattern, matcher } = request;
  if (Array.isArray(destination) && destination.length > 0) return destination.includes(hostname);
  if (typeof pattern === "string" && pattern !== "") {
    try {
      return matchers.match(hostname, pattern, typeof matcher === "string" ? matcher : null);
    } catch (error) {
      log.warn(`Cannot match "${hostname}" against pattern "${pattern}":`, error);
      return false;
    }
  }
  return true;
}
