/**
 * Prints the README's option tables from each transport's option declaration (the one place
 * options are written). `tests/unit/options/readme_options_test.ts` checks that README.md holds
 * exactly these tables.
 *
 * Usage: `deno run -A tools/options_table.ts` prints them; `--write` puts them into README.md.
 */
import { CONNECT_RETRY_OPTIONS } from "../src/options/common.ts";
import {
  declareOptions,
  kombuName,
  type OptionsDeclaration,
  type OptionSpec,
} from "../src/options/declare.ts";
import { VIRTUAL_OPTIONS } from "../src/virtual/options.ts";

/** A README section: its heading, a sentence, the declaration, and which options it shows. */
export interface OptionsSection {
  /** The heading (a transport, or a group). */
  title: string;
  /** One sentence under the heading. */
  intro: string;
  /** The declaration. */
  declaration: OptionsDeclaration;
  /** Leave out the virtual base's options (shown once in their own section). */
  omitVirtual: boolean;
}

/** The declarations shown in the README, in order. */
export async function optionSections(): Promise<OptionsSection[]> {
  const { CONNECTION_URL_OPTIONS } = await import("../src/connection/url_options.ts");
  const { FILESYSTEM_OPTIONS } = await import("../transports/filesystem/options.ts");
  const { REDIS_OPTIONS } = await import("../transports/redis/options.ts");
  const { SQS_OPTIONS } = await import("../transports/sqs/options.ts");
  const { AZURE_OPTIONS } = await import("../transports/azure_storage_queues/options.ts");
  const { AMQP_OPTIONS, AMQPLIB_OPTIONS } = await import("../transports/amqp/options.ts");
  const { SQL_OPTIONS } = await import("../transports/sql/options.ts");
  const { ETCD_OPTIONS } = await import("../transports/etcd/options.ts");
  const { ZOOKEEPER_OPTIONS } = await import("../transports/zookeeper/options.ts");
  const { PYRO_OPTIONS } = await import("../transports/pyro/options.ts");
  const virtual = declareOptions("virtual", VIRTUAL_OPTIONS);
  return [
    {
      title: "URL (every transport)",
      intro: "Read by the connection itself, from the URL's query only (Kombu's `Connection` " +
        "arguments; `ConnectionOptions` has the camelCase ones).",
      declaration: CONNECTION_URL_OPTIONS,
      omitVirtual: false,
    },
    {
      title:
        "virtual transports (memory, filesystem, redis, sqs, azurestoragequeues, sqla, etcd, zookeeper, pyro)",
      intro: "The virtual base's options; `memory://` has these only.",
      declaration: virtual,
      omitVirtual: false,
    },
    { title: "filesystem", intro: "", declaration: FILESYSTEM_OPTIONS, omitVirtual: true },
    { title: "redis", intro: "", declaration: REDIS_OPTIONS, omitVirtual: true },
    { title: "sqs", intro: "", declaration: SQS_OPTIONS, omitVirtual: true },
    { title: "azurestoragequeues", intro: "", declaration: AZURE_OPTIONS, omitVirtual: true },
    { title: "sqla", intro: "", declaration: SQL_OPTIONS, omitVirtual: true },
    { title: "etcd", intro: "", declaration: ETCD_OPTIONS, omitVirtual: true },
    { title: "zookeeper", intro: "", declaration: ZOOKEEPER_OPTIONS, omitVirtual: true },
    { title: "amqp", intro: "", declaration: AMQP_OPTIONS, omitVirtual: true },
    { title: "amqplib", intro: "", declaration: AMQPLIB_OPTIONS, omitVirtual: true },
    { title: "pyro", intro: "", declaration: PYRO_OPTIONS, omitVirtual: true },
  ];
}

function inherited(name: string, spec: OptionSpec): boolean {
  return (VIRTUAL_OPTIONS as Record<string, OptionSpec>)[name] === spec ||
    (CONNECT_RETRY_OPTIONS as Record<string, OptionSpec>)[name] === spec;
}

function unit(spec: OptionSpec): string {
  if (spec.kind !== "duration") return "";
  return (spec.unit ?? "s") === "s" ? "ms / s" : "ms / ms";
}

function defaultText(spec: OptionSpec): string {
  const value = spec.default;
  if (value === undefined) return "";
  if (typeof value === "string") {
    return value === "" ? '`""`' : `\`${JSON.stringify(value).slice(1, -1)}\``;
  }
  if (Array.isArray(value)) return value.length === 0 ? "`[]`" : `\`${value.join(", ")}\``;
  if (typeof value === "object") return "`{}`";
  if (
    typeof value === "number" && spec.kind === "duration" && value >= 1000 &&
    (spec.unit ?? "s") === "s"
  ) {
    return `${value} (${value / 1000} s)`;
  }
  return String(value);
}

function escape(text: string): string {
  return text.replaceAll("|", "\\|");
}

/**
 * The options a section's table shows: those not inherited from the virtual base (shown once)
 * when `omitVirtual` is set; ignored ones included.
 *
 * @param section the section
 * @returns `[name, spec]` pairs in declaration order
 */
export function shownOptions(section: OptionsSection): [string, OptionSpec][] {
  return Object.entries(section.declaration.options).filter(([name, spec]) =>
    !(section.omitVirtual && inherited(name, spec))
  );
}

/**
 * One section's markdown: a table of the options, then the ignored Kombu options in a line.
 *
 * @param section the section
 * @returns markdown
 */
export function optionsTable(section: OptionsSection): string {
  const rows: string[] = [];
  const ignored: string[] = [];
  for (const [name, spec] of shownOptions(section)) {
    const kombu = kombuName(name, spec);
    if (spec.ignored) {
      ignored.push(`\`${kombu}\``);
      continue;
    }
    const aliases = (spec.aliases ?? []).filter((a) => a !== kombu).map((a) => `\`${a}\``);
    const kombuCell = `\`${kombu}\`${spec.own ? " (wakame)" : ""}${
      aliases.length ? `, ${aliases.join(", ")}` : ""
    }`;
    const kind = spec.kind === "enum"
      ? (spec.values ?? []).map((v) => `\`${v}\``).join(" \\| ")
      : spec.kind;
    rows.push(
      `| \`${name}\` | ${kombuCell} | ${kind} | ${unit(spec)} | ${defaultText(spec)} | ${
        escape(spec.doc)
      } |`,
    );
  }
  const lines = [`### ${section.title}`, ""];
  if (section.intro) lines.push(section.intro, "");
  lines.push(
    "| option | Kombu name | kind | unit | default | meaning |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
  );
  if (ignored.length) {
    lines.push("", `Accepted and ignored (logged once): ${ignored.join(", ")}.`);
  }
  return lines.join("\n");
}

/** Every section, as the README holds them between its `options` markers. */
export async function optionsTables(): Promise<string> {
  return (await optionSections()).map(optionsTable).join("\n\n");
}

/**
 * README.md with its `options` block replaced by the generated tables.
 *
 * @param readme the README's text
 * @returns the new text
 */
export async function withOptionsTables(readme: string): Promise<string> {
  const block = /<!-- options:start -->\n[\s\S]*?<!-- options:end -->/;
  if (!block.test(readme)) throw new Error("README has no options markers");
  const tables = await optionsTables();
  return readme.replace(block, () => `<!-- options:start -->\n${tables}\n<!-- options:end -->`);
}

if (import.meta.main) {
  if (Deno.args.includes("--write")) {
    const readme = await Deno.readTextFile("README.md");
    await Deno.writeTextFile("README.md", await withOptionsTables(readme));
  } else console.log(await optionsTables());
}
