/**
 * Builds the npm package from the same source as the JSR package and packs it.
 *
 * `deno.json` is the one source of the name, version, license and subpath exports; the npm-only
 * fields (description, peers, engines) are in `tools/npm_package.json`. TypeScript's own compiler
 * turns every module into one `.js` and one `.d.ts` beside it (`rewriteRelativeImportExtensions`
 * turns `./x.ts` into `./x.js`): no bundling, so each subpath stays its own module graph and a
 * consumer's bundler keeps only what it imports. Type checking is Deno's job (`deno check`); the
 * build emits without it (`noCheck`), since the source uses `Deno` and `Bun` globals the npm
 * consumer never sees.
 *
 * Usage: `deno run -A tools/build_npm.ts [--no-pack]`. Writes `dist/npm/` and, unless
 * `--no-pack`, `dist/<name>-<version>.tgz`; prints the tarball's path last.
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const out = `${root}/dist/npm`;

interface DenoConfig {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string>;
}

const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`)) as DenoConfig;
const template = JSON.parse(
  await Deno.readTextFile(`${root}/tools/npm_package.json`),
) as Record<string, unknown>;

async function run(cmd: string, args: string[], cwd = root): Promise<string> {
  const result = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(result.stdout);
  if (!result.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed:\n${text}${new TextDecoder().decode(result.stderr)}`,
    );
  }
  return text;
}

/** `./transports/sqs/mod.ts` -> `./transports/sqs/mod` */
const stem = (path: string): string => path.replace(/\.ts$/, "");

await Deno.remove(out, { recursive: true }).catch(() => undefined);
await Deno.mkdir(`${root}/.tmp`, { recursive: true });

const tsconfig = {
  compilerOptions: {
    target: "es2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    lib: ["es2023", "dom", "dom.iterable", "esnext.disposable"],
    types: [],
    declaration: true,
    noCheck: true,
    skipLibCheck: true,
    rewriteRelativeImportExtensions: true,
    verbatimModuleSyntax: true,
    strict: true,
    rootDir: root,
    outDir: out,
    newLine: "lf",
  },
  // Every module, not only what the exports reach statically: the registry loads transports by
  // computed specifiers and the Redis connector its ioredis driver.
  include: [
    `${root}/mod.ts`,
    `${root}/src/**/*.ts`,
    `${root}/transports/**/*.ts`,
    `${root}/testing/**/*.ts`,
    `${root}/celery/**/*.ts`,
    `${root}/cli/**/*.ts`,
  ],
  exclude: [`${root}/**/*_test.ts`],
};
const tsconfigPath = `${root}/.tmp/tsconfig.npm.json`;
await Deno.writeTextFile(tsconfigPath, JSON.stringify(tsconfig, null, 2));
await run(`${root}/node_modules/.bin/tsc`, ["-p", tsconfigPath]);

const exports: Record<string, unknown> = {};
const sideEffects: string[] = [];
for (const [subpath, file] of Object.entries(config.exports)) {
  exports[subpath] = { types: `${stem(file)}.d.ts`, default: `${stem(file)}.js` };
  // A transport's module registers its URL schemes when imported.
  if (file.startsWith("./transports/")) sideEffects.push(`${stem(file)}.js`);
}
exports["./package.json"] = "./package.json";

const pkg = {
  name: config.name,
  version: config.version,
  license: config.license,
  ...template,
  type: "module",
  exports,
  sideEffects,
};
await Deno.writeTextFile(`${out}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
for (const file of ["README.md", "LICENSE"]) {
  await Deno.copyFile(`${root}/${file}`, `${out}/${file}`);
}

if (!Deno.args.includes("--no-pack")) {
  const packed = JSON.parse(
    await run("npm", ["pack", "--json", "--pack-destination", `${root}/dist`], out),
  ) as { filename: string }[];
  console.log(`${root}/dist/${packed[0].filename}`);
}
