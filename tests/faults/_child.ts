/**
 * A child process of the fault suite: a script under `tests/faults/_children/` run by this
 * runtime's own binary (the suite runs on Deno), read line by line, and killed with SIGKILL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** A running child script. */
export class Child {
  readonly #child: ChildProcess;
  readonly #listeners: ((line: string) => void)[] = [];
  /** Everything it wrote to stderr (in failure messages). */
  stderr = "";
  /** Resolves when it exited. */
  readonly exited: Promise<void>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    let rest = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) for (const listener of this.#listeners) listener(line);
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  /**
   * Starts `tests/faults/_children/<script>` with the arguments.
   *
   * @param script the file name
   * @param args its arguments
   */
  static start(script: string, args: string[]): Child {
    const path = fileURLToPath(new URL(`./_children/${script}`, import.meta.url));
    const child = spawn(process.execPath, ["run", "-A", "--no-check", path, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new Child(child);
  }

  /** Its process id. */
  get pid(): number {
    return this.#child.pid!;
  }

  /** Calls `listener` with each line it prints. */
  onLine(listener: (line: string) => void): void {
    this.#listeners.push(listener);
  }

  /** Resolves with the first line that matches (rejects if it exits first). */
  waitFor(test: (line: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      this.onLine((line) => test(line) && resolve(line));
      void this.exited.then(() =>
        reject(new Error(`the child exited before the line it waited for:\n${this.stderr}`))
      );
    });
  }

  /** SIGKILL, and waits for the exit. */
  async kill(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill("SIGKILL");
    }
    await this.exited;
  }
}
