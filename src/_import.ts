/**
 * Module loading that bundlers and Deno's module graph do not follow.
 *
 * wakame loads a transport's code, an optional npm package (amqplib, ioredis, yaml, msgpackr)
 * or a runtime's socket module only when it is used. A literal `import("...")` would defeat
 * that: esbuild inlines it into an edge bundle (and fails on `node:net`), and Deno downloads every
 * npm package it can see before the program starts. These helpers take the specifier as a value,
 * so only the code that runs decides what is loaded. A Worker bundle therefore holds only what its
 * own imports name; importing a transport's subpath (`@wakame/wakame/sqs`) registers it.
 *
 * @module
 */

import { ConfigurationError } from "./errors.ts";

/**
 * Imports a module by a specifier that tools must not resolve ahead of time.
 *
 * @param specifier any specifier the runtime resolves (`node:net`, `cloudflare:sockets`, a URL)
 * @returns the module namespace
 */
export function importHidden<T>(specifier: string): Promise<T> {
  return import(specifier) as Promise<T>;
}

/**
 * Resolves a specifier that tools must not resolve ahead of time (a package's data file, such
 * as a `.wasm` an optional codec reads).
 *
 * @param specifier a bare or `npm:` specifier
 * @returns the URL the runtime resolves it to
 * @throws {Error} when the runtime cannot resolve it
 */
export function resolveHidden(specifier: string): string {
  return import.meta.resolve(specifier);
}

/**
 * Imports a module of wakame itself by its path relative to the calling module, in the calling
 * module's own extension (`.ts` from source, `.js` from the npm build).
 *
 * @param path the module's path without extension, relative to `base` (`../transports/redis/mod`)
 * @param base the caller's `import.meta.url`
 * @returns the module namespace
 */
export function importSibling<T>(path: string, base: string): Promise<T> {
  const extension = /\.[cm]?[jt]sx?$/.exec(new URL(base).pathname)?.[0] ?? ".js";
  return importHidden<T>(new URL(`${path}${extension}`, base).href);
}

/** An optional npm package: what needs it, and the versions wakame is tested with. */
export interface OptionalPackage {
  /** The package's npm name (`ioredis`). */
  readonly name: string;
  /** The semver range wakame supports (`^5`); Deno falls back to `npm:<name>@<range>`. */
  readonly range: string;
  /** The export of the package to import (`wasm` for `node-liblzma/wasm`); the root when absent. */
  readonly subpath?: string;
  /** What the user asked for that needs it, for the error (`the ioredis Redis driver`). */
  readonly feature: string;
}

const loaded = new Map<string, Promise<unknown>>();

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return true;
  const text = error instanceof Error ? error.message : String(error);
  return /cannot find (module|package)|not found|could not resolve|failed to resolve|import map|not a dependency|unable to (load|resolve)/i
    .test(text);
}

async function importPackage(pkg: OptionalPackage): Promise<unknown> {
  try {
    return await importHidden(pkg.subpath ? `${pkg.name}/${pkg.subpath}` : pkg.name);
  } catch (error) {
    // Only a failure that names the package means it is missing: an error thrown while the
    // package itself loads (one of its own imports, its initialisation) is reported as such.
    if (!isModuleNotFound(error, pkg.name)) {
      throw new ConfigurationError(
        `Cannot load the package "${pkg.name}" for ${pkg.feature}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
    // Deno without an import map entry for the package: ask npm for it directly.
    if ((globalThis as { Deno?: unknown }).Deno !== undefined) {
      try {
        return await importHidden(
          `npm:${pkg.name}@${pkg.range}${pkg.subpath ? `/${pkg.subpath}` : ""}`,
        );
      } catch {
        // reported below with the install lines
      }
    }
    throw missingPackageError(pkg, error);
  }
}

/**
 * The error for an optional package that is not installed: what needs it and how to install it.
 *
 * @param pkg the package
 * @param cause the runtime's resolution error
 * @returns the error to throw
 */
export function missingPackageError(pkg: OptionalPackage, cause: unknown): ConfigurationError {
  return new ConfigurationError(
    `Cannot use ${pkg.feature}: the optional package "${pkg.name}" is not installed. ` +
      `Install it with \`npm install ${pkg.name}@${pkg.range}\` (Bun: \`bun add ${pkg.name}\`, ` +
      `Deno: \`deno add npm:${pkg.name}@${pkg.range}\`).`,
    { cause },
  );
}

/**
 * Whether an import failed because a module or package could not be found.
 *
 * @param error what the import threw
 * @param name when given, the failure must name this package
 * @returns true for a resolution failure
 */
export function isModuleNotFound(error: unknown, name?: string): boolean {
  if (!isNotFound(error)) return false;
  return name === undefined || String((error as Error)?.message ?? error).includes(name);
}

/**
 * Imports an optional npm package once, with a clear error when it is missing.
 *
 * @param pkg the package, its supported range and what needs it
 * @returns the module namespace
 * @throws {ConfigurationError} naming the package and the install command when it is missing
 */
export function importOptional<T>(pkg: OptionalPackage): Promise<T> {
  const key = pkg.subpath ? `${pkg.name}/${pkg.subpath}` : pkg.name;
  let pending = loaded.get(key);
  if (pending === undefined) {
    pending = importPackage(pkg);
    loaded.set(key, pending);
    // A failed load may succeed later (the user installs the package and retries).
    pending.catch(() => loaded.delete(key));
  }
  return pending as Promise<T>;
}
