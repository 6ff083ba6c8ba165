/**
 * Runs every benchmark in bench/ (or those named on the command line) one after another, so
 * their figures come from one run on one machine. Each prints a markdown table; BENCHMARKS.md
 * keeps the tables with this command.
 *
 * Usage: `deno task bench` or `deno run -A bench/run.ts [memory amqp redis http_queues]`.
 */
const here = new URL(".", import.meta.url).pathname;
const names = Deno.args.length ? Deno.args : [...Deno.readDirSync(here)]
  .filter((e) =>
    e.isFile && e.name.endsWith(".ts") && e.name !== "run.ts" && !e.name.startsWith("_")
  )
  .map((e) => e.name.replace(/\.ts$/, ""))
  .sort();
let failed = 0;
for (const name of names) {
  console.log(`\n## bench/${name}.ts`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${here}${name}.ts`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    failed++;
    console.log(`bench/${name}.ts exited with ${code}`);
  }
}
Deno.exit(failed ? 1 : 0);
