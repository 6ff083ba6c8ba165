/**
 * Runs the whole suite: static checks once, then every `*_test.ts` under tests/ on Deno, Bun,
 * the machine's Node (with tsx) and Node 24 from npm (native type stripping). Two stages run
 * once instead of once per runtime: the package's tests (tests/package/, which drive every
 * runtime themselves from the packed tarball) and the accounting fault suite (tests/faults/,
 * under Deno only, capped at `WAKAME_FAULTS_LIMIT_MS`, 5 min by default; `--only faults` runs it
 * alone, and `WAKAME_FAULT_SEED` replays a failed run's fault points).
 *
 * Usage: `deno task test` (or `deno run -A tests/run.ts [--only deno,bun,node,node24,package]
 * [--no-static] [filter...]`). Prints one summary line per runtime and a last line
 * `N passed, N failed, N skipped`; exits non-zero when anything failed.
 */

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const bin = (name: string) => `${root}/node_modules/.bin/${name}`;

/**
 * Node's test runner: TAP for the summary; no test runs past 2 minutes. Not
 * `--test-force-exit`: Node 24.9 with it ends a file at a random point between two synchronous
 * tests and reports success, so tests vanish; a file that hangs is stopped by RUN_LIMIT_MS and
 * counted as a failure instead.
 */
const NODE_TEST_FLAGS = ["--test", "--test-reporter=tap", "--test-timeout=120000"];

/** Milliseconds from an environment variable, or the default. */
function envMs(name: string, fallback: number): number {
  const value = Number(Deno.env.get(name));
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * Longest time one runtime's run may take, from its start, before its process group is killed
 * and the run counted as failed (`WAKAME_TEST_RUN_LIMIT_MS`).
 */
const RUN_LIMIT_MS = envMs("WAKAME_TEST_RUN_LIMIT_MS", 10 * 60 * 1000);

/**
 * Longest silence: a run that prints nothing for this long is hung (one file stuck in a callback
 * that never settles) and is stopped the same way (`WAKAME_TEST_IDLE_LIMIT_MS`). Longer than
 * Node's and Bun's per-test timeouts, so those report a slow test first.
 */
const IDLE_LIMIT_MS = envMs("WAKAME_TEST_IDLE_LIMIT_MS", 3 * 60 * 1000);

/** Longest time the fault suite's stage may take (`WAKAME_FAULTS_LIMIT_MS`). */
const FAULTS_LIMIT_MS = envMs("WAKAME_FAULTS_LIMIT_MS", 5 * 60 * 1000);

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

interface Outcome extends Counts {
  name: string;
  code: number;
  seconds: number;
  /**
   * Why the run failed whatever it reported: "stopped: ..." when a cap expired (naming the file
   * that was running), or "ran no test".
   */
  why?: string;
  /** Skips the tests announced (tests/_support/skips.ts): "kind file: reason" to how many. */
  named: Map<string, number>;
}

/** Collects the `WAKAME-SKIP <env|capability> <file>: <reason>` lines, one per skipped test. */
function namedSkips(text: string): Map<string, number> {
  const named = new Map<string, number>();
  for (const m of text.matchAll(/^(?:# )?WAKAME-SKIP ((?:env|capability) .+)$/gm)) {
    named.set(m[1], (named.get(m[1]) ?? 0) + 1);
  }
  return named;
}

function parseArgs(args: string[]): { only?: string[]; staticChecks: boolean; filters: string[] } {
  const out = {
    only: undefined as string[] | undefined,
    staticChecks: true,
    filters: [] as string[],
  };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--only") out.only = args[++i].split(",");
    else if (args[i] === "--no-static") out.staticChecks = false;
    else out.filters.push(args[i]);
  }
  return out;
}

async function findTests(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      if (
        entry.name.startsWith("_") || entry.name === "fixtures" || entry.name === "python" ||
        // The package's tests drive every runtime themselves from the packed tarball, and the
        // fault suite runs under Deno only: each runs once, in its own stage (below), not once
        // per runtime.
        path === `${root}/tests/package` || path === `${root}/tests/faults`
      ) {
        continue;
      }
      found.push(...await findTests(path));
    } else if (entry.name.endsWith("_test.ts")) {
      found.push(path);
    }
  }
  return found.sort();
}

/** The machine's own Node: the first `node` on PATH outside node_modules. */
async function systemNode(): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir || dir.includes("node_modules")) continue;
    try {
      const path = `${dir}/node`;
      const info = await Deno.stat(path);
      if (info.isFile || info.isSymlink) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function run(
  name: string,
  cmd: string,
  args: string[],
  parse: (text: string, code: number) => Counts,
  { mustRun = false, limitMs = RUN_LIMIT_MS }: { mustRun?: boolean; limitMs?: number } = {},
): Promise<Outcome> {
  const started = performance.now();
  console.log(
    `\n=== ${name}: ${[cmd.replace(root + "/", ""), ...args.slice(0, 4)].join(" ")}${
      args.length > 4 ? " ..." : ""
    }`,
  );
  // Detached: the child leads its own process group, so a stop also ends what it started
  // (Node's per-file processes, a test's redis-server) and nothing keeps the pipes open.
  const child = new Deno.Command(cmd, {
    args,
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", FORCE_COLOR: "0" },
    detached: true,
  }).spawn();
  const decoder = new TextDecoder();
  let text = "";
  let lastOutput = performance.now();
  const pump = async (stream: ReadableStream<Uint8Array>, sink: (s: string) => void) => {
    for await (const chunk of stream) {
      const s = decoder.decode(chunk, { stream: true });
      text += s;
      lastOutput = performance.now();
      sink(s);
    }
  };
  const write = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s));
  const pumps = Promise.all([pump(child.stdout, write), pump(child.stderr, write)]);

  let stopped: string | undefined;
  const stop = (why: string) => {
    if (stopped) return;
    const file = runningFile(child.pid, text);
    stopped = `${why}${file ? ` while running ${file}` : ""}`;
    console.log(`\n${name}: ${stopped}; stopping it`);
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  const limit = setTimeout(
    () => stop(`still running after ${minutes(limitMs)}`),
    limitMs,
  );
  const idle = setInterval(() => {
    if (performance.now() - lastOutput > IDLE_LIMIT_MS) {
      stop(`no output for ${minutes(IDLE_LIMIT_MS)}`);
    }
  }, Math.min(1000, IDLE_LIMIT_MS / 4));
  const { code } = await child.status;
  clearTimeout(limit);
  clearInterval(idle);
  // A process the child left behind may still hold the pipes: give the output a moment, no more.
  let grace: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([pumps, new Promise((done) => grace = setTimeout(done, 2000))]);
  clearTimeout(grace);
  // deno-lint-ignore no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "");
  const counts = parse(plain, code);
  let why = stopped && `stopped: ${stopped}`;
  // A runtime that ran no test checked nothing, whatever its exit code (one that lost all its
  // files, or whose output the parser no longer reads, looked green once).
  if (!why && mustRun && counts.passed + counts.failed === 0) {
    why = `ran no test (${counts.skipped} skipped)`;
    console.log(`\n${name}: ${why}`);
  }
  if (why) counts.failed++;
  else if (code !== 0 && counts.failed === 0) counts.failed = 1;
  return {
    name,
    code: why ? code || 1 : code,
    seconds: (performance.now() - started) / 1000,
    why,
    named: namedSkips(plain),
    ...counts,
  };
}

const minutes = (ms: number): string =>
  ms >= 60_000 ? `${+(ms / 60_000).toFixed(1)} min` : `${+(ms / 1000).toFixed(1)} s`;

/**
 * The test file a stuck run is in. Node runs each file in its own process, whose command line
 * names it; Deno and Bun announce each file before its tests, so the last one announced.
 */
function runningFile(group: number, output: string): string | undefined {
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
        // Fields after the command name: state, ppid, pgrp.
        const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
        if (pgrp !== group) continue;
        const argv = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
        const files = argv.filter((a) => a.endsWith("_test.ts"));
        if (files.length === 1) return files[0].replace(`${root}/`, "");
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc here
  }
  const announced = [...output.matchAll(/(tests\/[\w./-]+_test\.ts)/g)];
  return announced.at(-1)?.[1];
}

const num = (text: string, re: RegExp): number => {
  let total = 0;
  for (const m of text.matchAll(re)) total += Number(m[1]);
  return total;
};

function parseDeno(text: string): Counts {
  // Every test and step prints "name ... ok|FAILED|ignored"; a group (a describe, or a test
  // with steps) prints its own verdict after its steps, which are indented deeper. A verdict
  // is a group's when a deeper verdict came after the last verdict at its own depth, whatever
  // lines (a step's or a hook's "------- output -------" block) stand between them.
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  /** Depths that have seen a deeper verdict since their own last one. */
  const hasSteps = new Set<number>();
  for (const line of text.split("\n")) {
    // Each file starts afresh (one that died inside a group left it open).
    if (/^running \d+ tests? from /.test(line)) hasSteps.clear();
    const m = /^(\s*)\S.* \.\.\. (ok|FAILED|ignored)\b/.exec(line);
    if (!m) continue;
    const depth = m[1].length;
    const group = hasSteps.has(depth);
    for (const d of hasSteps) if (d >= depth) hasSteps.delete(d);
    for (let d = 0; d < depth; d++) hasSteps.add(d);
    if (group) continue;
    if (m[2] === "ok") counts.passed++;
    else if (m[2] === "FAILED") counts.failed++;
    else counts.skipped++;
  }
  return counts;
}

function parseBun(text: string): Counts {
  return {
    passed: num(text, /^\s*(\d+) pass$/gm),
    failed: num(text, /^\s*(\d+) fail$/gm),
    skipped: num(text, /^\s*(\d+) skip$/gm) + num(text, /^\s*(\d+) todo$/gm),
  };
}

function parseNode(text: string): Counts {
  return {
    passed: num(text, /^[#ℹ] pass (\d+)$/gm),
    failed: num(text, /^[#ℹ] fail (\d+)$/gm) + num(text, /^[#ℹ] cancelled (\d+)$/gm),
    skipped: num(text, /^[#ℹ] skipped (\d+)$/gm) + num(text, /^[#ℹ] todo (\d+)$/gm),
  };
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function nodeVersion(path: string): Promise<string> {
  const out = await new Deno.Command(path, { args: ["--version"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

const options = parseArgs(Deno.args);
const all = await findTests(`${root}/tests`);
// A filter that is the path of a test file runs that file even where the search does not look
// (the runner's own fixtures under tests/fixtures/); the fault suite's files run in its stage.
const named = options.filters.filter((x) =>
  x.endsWith("_test.ts") && exists(`${root}/${x}`) && !x.startsWith("tests/faults/")
).map((x) => `${root}/${x}`);
const files = options.filters.length
  ? [...new Set([...all.filter((f) => options.filters.some((x) => f.includes(x))), ...named])]
  : all;
const relative = files.map((f) => f.replace(`${root}/`, ""));
const faultTests = (await findTests(`${root}/tests/faults`)).filter((f) =>
  !options.filters.length || options.filters.some((x) => f.includes(x))
).map((f) => f.replace(`${root}/`, ""));
const wants = (runtime: string) => !options.only || options.only.includes(runtime);
console.log(
  `wakame test suite: ${relative.length + faultTests.length} test files; CI=${
    Deno.env.get("CI") ?? ""
  }`,
);

const outcomes: Outcome[] = [];
if (options.staticChecks && !options.filters.length) {
  const deno = bin("deno");
  // A static check is one result: passed when it exits 0.
  const quiet = (_text: string, code: number): Counts => ({
    passed: code === 0 ? 1 : 0,
    failed: code === 0 ? 0 : 1,
    skipped: 0,
  });
  outcomes.push(
    await run("deno check", deno, [
      "check",
      "mod.ts",
      "tests/run.ts",
      "tools",
      "bench",
      "examples",
      ...relative,
      ...faultTests,
    ], quiet),
  );
  outcomes.push(await run("deno lint", deno, ["lint"], quiet));
  outcomes.push(await run("deno fmt --check", deno, ["fmt", "--check"], quiet));
  // Every export of deno.json, as JSR documents them.
  const entryPoints = Object.values(
    JSON.parse(await Deno.readTextFile(`${root}/deno.json`)).exports as Record<string, string>,
  );
  outcomes.push(await run("deno doc --lint", deno, ["doc", "--lint", ...entryPoints], quiet));
  // JSR publishing: no errors, and no warning but the one the design asks for (src/_import.ts
  // loads transports and optional packages by computed specifiers, so that neither bundlers nor
  // Deno's graph pull them in, and resolves an optional codec's .wasm file the same way; JSR says
  // it cannot analyse those, by design).
  outcomes.push(
    await run("deno publish --dry-run", deno, ["publish", "--dry-run", "--allow-dirty"], (
      text,
      code,
    ) => {
      const warnings = [...text.matchAll(/warning\[([\w-]+)\][^\n]*\n[^\n]*-->\s*(\S+)/g)]
        .map((m) => `${m[1]} ${m[2].replace(/^.*?\/(src|transports|testing)\//, "$1/")}`)
        .filter((w) =>
          !/^unanalyzable-(dynamic-import|import-meta-resolve) src\/_import\.ts:/.test(w)
        );
      if (warnings.length) console.log(`unexpected publish warnings:\n  ${warnings.join("\n  ")}`);
      const good = code === 0 && warnings.length === 0 && /Dry run complete/.test(text);
      return { passed: good ? 1 : 0, failed: good ? 0 : 1, skipped: 0 };
    }),
  );
  // Every @example of the core runs (STYLE.md: examples run on memory:// under deno test --doc).
  // The transports' broker-free helpers have runnable examples too.
  const docFiles = [
    "mod.ts",
    "src",
    "transports/memory/mod.ts",
    "transports/filesystem/mod.ts",
    "transports/amqp/acks.ts",
    "transports/amqp/codec/frame.ts",
    "transports/redis/resp/encoder.ts",
    "transports/redis/resp/parser.ts",
    "transports/sqs/names.ts",
    "transports/azure_storage_queues/names.ts",
    "celery/mod.ts",
  ];
  outcomes.push(
    await run("deno test --doc", deno, ["test", "-A", "--doc", ...docFiles], parseDeno),
  );
}
const packageTests = (await findTests(`${root}/tests/package`)).filter((f) =>
  !options.filters.length || options.filters.some((x) => f.includes(x))
).map((f) => f.replace(`${root}/`, ""));
if (packageTests.length && wants("package")) {
  // Build and pack once; the package's tests install the tarball into fresh projects and run
  // it on Node 20, Node 24, Bun, tsc and workerd.
  const deno = bin("deno");
  let tarball = "";
  outcomes.push(
    await run("npm package (build and pack)", deno, ["run", "-A", "tools/build_npm.ts"], (
      text,
      code,
    ) => {
      tarball = text.trim().split("\n").at(-1) ?? "";
      return { passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1, skipped: 0 };
    }),
  );
  if (tarball.endsWith(".tgz")) {
    Deno.env.set("WAKAME_TARBALL", tarball);
    outcomes.push(
      await run(
        "npm package (installed)",
        deno,
        ["test", "-A", "--no-check", ...packageTests],
        parseDeno,
      ),
    );
  }
}
if (faultTests.length && (wants("deno") || wants("faults"))) {
  // The accounting fault suite: brokers killed, paused, cut and restarted under load, each run
  // checked against a ledger. Deno only (the transports' fault handling is runtime-neutral; the
  // unit tests cover the runtimes' sockets), once, with its own cap.
  outcomes.push(
    await run(
      "faults (deno)",
      bin("deno"),
      ["test", "-A", "--no-check", ...faultTests],
      parseDeno,
      {
        mustRun: true,
        limitMs: FAULTS_LIMIT_MS,
      },
    ),
  );
}
if (relative.length) {
  if (wants("deno")) {
    outcomes.push(
      await run("deno", bin("deno"), ["test", "-A", "--no-check", ...relative], parseDeno, {
        mustRun: true,
      }),
    );
  }
  if (wants("bun")) {
    outcomes.push(
      await run(
        "bun",
        bin("bun"),
        ["test", "--timeout", "60000", ...relative.map((f) => `./${f}`)],
        parseBun,
        { mustRun: true },
      ),
    );
  }
  const node20 = await systemNode();
  if (wants("node")) {
    if (node20) {
      const version = await nodeVersion(node20);
      outcomes.push(
        await run(
          `node ${version} (tsx)`,
          node20,
          [
            "--import",
            "tsx",
            ...NODE_TEST_FLAGS,
            ...relative,
          ],
          parseNode,
          { mustRun: true },
        ),
      );
    } else {
      console.log("No Node on PATH outside node_modules: skipping the system-Node run");
    }
  }
  if (wants("node24")) {
    const node24 = `${root}/node_modules/node24/bin/node`;
    const version = await nodeVersion(node24);
    outcomes.push(
      await run(
        `node ${version} (type stripping)`,
        node24,
        [...NODE_TEST_FLAGS, ...relative],
        parseNode,
        { mustRun: true },
      ),
    );
  }
}

console.log("\n=== summary");
const total: Counts = { passed: 0, failed: 0, skipped: 0 };
for (const o of outcomes) {
  console.log(
    `${
      o.code === 0 ? "ok  " : "FAIL"
    } ${o.name}: ${o.passed} passed, ${o.failed} failed, ${o.skipped} skipped (${
      o.seconds.toFixed(1)
    } s)${o.why ? `; ${o.why}` : ""}`,
  );
  total.passed += o.passed;
  total.failed += o.failed;
  total.skipped += o.skipped;
}
// Every skip, named: environment skips (a missing tool; CI fails on those instead) apart from
// capability skips (absent by design); "other" is whatever skipped without saying why.
const kinds = { env: 0, capability: 0 };
const reasons = new Map<string, string[]>();
for (const o of outcomes) {
  for (const [line, n] of o.named) {
    kinds[line.startsWith("env ") ? "env" : "capability"] += n;
    // "node20", "node24": the two Node runs apart.
    const runtime = o.name.replace(/^node v(\d+).*/, "node$1").split(" ")[0];
    reasons.set(line, [...reasons.get(line) ?? [], `${runtime} ×${n}`]);
  }
}
for (const [line, where] of reasons) console.log(`  skipped ${line} (${where.join(", ")})`);
const other = Math.max(0, total.skipped - kinds.env - kinds.capability);
console.log(
  `skips: ${kinds.env} environment, ${kinds.capability} capability, ${other} other`,
);
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
Deno.exit(outcomes.some((o) => o.code !== 0) ? 1 : 0);
