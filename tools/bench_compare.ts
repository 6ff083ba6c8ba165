/**
 * Runs benchmarks of two checkouts of wakame in turn (before, after, before, after ...), so a
 * change's cost is measured in one run on one machine, not assumed. Each round prints both
 * tables under their labels; quote medians across rounds, and the spread.
 *
 * Usage:
 *   git worktree add ../wakame-before <commit>   (with node_modules linked or installed there)
 *   deno run -A tools/bench_compare.ts --base ../wakame-before [--rounds 3] memory redis "amqp --only w"
 *
 * Each benchmark is a file of `bench/` with its arguments, run as `deno run -A bench/<file>.ts`
 * in each checkout.
 */
const args = [...Deno.args];
const take = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  return value;
};
const base = take("--base");
const rounds = Number(take("--rounds") ?? 3);
if (!base || args.length === 0 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(
    "usage: deno run -A tools/bench_compare.ts --base DIR [--rounds N] BENCH [BENCH ...]",
  );
  Deno.exit(2);
}
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const git = (dir: string): string =>
  new TextDecoder().decode(
    new Deno.Command("git", { args: ["-C", dir, "rev-parse", "--short", "HEAD"], stdout: "piped" })
      .outputSync().stdout,
  ).trim();
const trees = [
  { label: `before (${git(base)})`, dir: base },
  { label: `after (${git(here)}${isDirty(here) ? " + working tree" : ""})`, dir: here },
];

function isDirty(dir: string): boolean {
  const out =
    new Deno.Command("git", { args: ["-C", dir, "status", "--porcelain"], stdout: "piped" })
      .outputSync().stdout;
  return out.length > 0;
}

let failed = 0;
for (const bench of args) {
  const [name, ...rest] = bench.split(/\s+/);
  for (let round = 1; round <= rounds; round++) {
    for (const tree of trees) {
      console.log(`\n### bench/${name}.ts ${rest.join(" ")}: ${tree.label}, round ${round}`);
      const { code } = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${tree.dir}/bench/${name}.ts`, ...rest],
        cwd: tree.dir,
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      if (code !== 0) {
        failed++;
        console.log(`bench/${name}.ts in ${tree.dir} exited with ${code}`);
      }
    }
  }
}
Deno.exit(failed ? 1 : 0);
