/**
 * Skips the runner counts and names. Bun does not report a skipped `describe`, and Node leaves
 * skipped suites out of `# skipped`, so a skip is made per test (`it`), and each skipped test
 * prints one line the runner collects:
 *
 * ```
 * WAKAME-SKIP env tests/unit/redis/sentinel_test.ts: redis-sentinel is not installed
 * ```
 *
 * Two kinds: `env`, something missing from the machine (a binary, a package, a service), which
 * fails under `CI=true` instead; and `capability`, something this runtime or transport lacks by
 * design (zstd on Node 20), expected everywhere.
 *
 * ```ts
 * const tools = envSkip(import.meta.url, haveBinary("redis-sentinel") ? false : "...");
 * describe("sentinel://", () => {
 *   before(async () => { if (tools.reason) return; ... });   // hooks still run: guard them
 *   it("finds the master", tools.options(), async () => { ... });
 * });
 * ```
 */
import { inCi } from "./brokers.ts";

/** What kind of skip: a missing tool on this machine, or a capability that is absent by design. */
export type SkipKind = "env" | "capability";

/** The prefix of the line the runner counts (tests/run.ts). */
export const SKIP_LINE = "WAKAME-SKIP";

/** A reason to skip some tests of one file, or `false` to run them. */
export class Skip {
  readonly kind: SkipKind;
  readonly file: string;
  readonly reason: string | false;

  constructor(kind: SkipKind, file: string, reason: string | false) {
    this.kind = kind;
    this.file = file;
    this.reason = reason;
  }

  /**
   * Options for one `it`: `{ skip: reason }`. When skipping, prints the line the runner counts,
   * one per test.
   *
   * @returns the test options
   */
  options(): { skip: string | false } {
    if (this.reason) console.log(`${SKIP_LINE} ${this.kind} ${this.file}: ${this.reason}`);
    return { skip: this.reason };
  }
}

/** The test file's path from the repository root, from its `import.meta.url`. */
function testPath(url: string): string {
  const path = decodeURIComponent(new URL(url).pathname);
  const at = path.lastIndexOf("/tests/");
  return at === -1 ? path : path.slice(at + 1);
}

/**
 * An environment skip: a tool or service missing from this machine. Under `CI=true` it throws
 * instead, so CI fails rather than skipping in silence.
 *
 * @param url the test file's `import.meta.url`
 * @param reason why to skip (what is missing and how to install it), or `false`
 * @returns the skip
 * @throws {Error} under CI=true when `reason` is set
 */
export function envSkip(url: string, reason: string | false): Skip {
  if (reason && inCi) throw new Error(`${reason}; CI needs it (.ci/run installs it)`);
  return new Skip("env", testPath(url), reason);
}

/**
 * A capability skip: the runtime or transport lacks a feature by design (a codec). Skipped under
 * CI too, and counted apart from environment skips.
 *
 * @param url the test file's `import.meta.url`
 * @param reason which capability is missing, or `false`
 * @returns the skip
 */
export function capabilitySkip(url: string, reason: string | false): Skip {
  return new Skip("capability", testPath(url), reason);
}

/**
 * A conformance suite's `onSkip` (testing/conformance.ts) that prints the line the runner counts
 * under this test file's name, as {@link Skip.options} does.
 *
 * @param url the test file's `import.meta.url`
 * @returns the callback
 */
export function skipReporter(url: string): (kind: SkipKind, reason: string) => void {
  const file = testPath(url);
  return (kind, reason) => console.log(`${SKIP_LINE} ${kind} ${file}: ${reason}`);
}
