/**
 * Progress of long work: a live bar on a terminal (cli-progress, on standard error), plain lines
 * at each quarter when standard error is piped, so logs stay readable.
 *
 * @module
 */

import process from "node:process";
import cliProgress from "cli-progress";
import { isTerminal, note } from "./_common.ts";

/** A progress report of one phase. */
export interface Progress {
  /** Counts `n` more units done. */
  increment(n?: number): void;
  /** Ends the report (the bar stays on screen). */
  stop(): void;
}

interface Bar {
  start(total: number, value: number, payload?: Record<string, unknown>): void;
  increment(n?: number): void;
  stop(): void;
}

interface BarModule {
  SingleBar: new (options: Record<string, unknown>, preset?: unknown) => Bar;
  Presets: { shades_classic: unknown };
}

/**
 * Starts reporting the progress of a phase.
 *
 * @param label what is being done, such as `publish`
 * @param total how many units the phase has
 * @param options `quiet` shows nothing
 * @returns the report
 */
export function progress(
  label: string,
  total: number,
  options: { quiet?: boolean } = {},
): Progress {
  if (options.quiet || total <= 0) return { increment() {}, stop() {} };
  if (isTerminal()) {
    const module = cliProgress as unknown as BarModule;
    const bar = new module.SingleBar({
      format: `${label.padEnd(8)} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    }, module.Presets.shades_classic);
    bar.start(total, 0);
    return { increment: (n = 1) => bar.increment(n), stop: () => bar.stop() };
  }
  let done = 0;
  let shown = 0;
  return {
    increment(n = 1) {
      done += n;
      const quarter = Math.min(4, Math.floor((done * 4) / total));
      if (quarter > shown) {
        shown = quarter;
        note(`${label}: ${Math.min(done, total)}/${total} (${Math.floor((done * 100) / total)}%)`);
      }
    },
    stop() {},
  };
}
