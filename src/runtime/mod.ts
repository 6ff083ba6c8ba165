/**
 * Picks the socket adapter of the current runtime and guards every connect.
 *
 * {@link connectSocket} is the default {@link SocketFactory}: on Deno it uses `Deno.connect`, on
 * Bun `Bun.connect`, on Cloudflare Workers `cloudflare:sockets`, elsewhere `node:net`. The
 * adapter is loaded with a dynamic `import()`, so an edge bundle never pulls `node:net`.
 * Every connect honours `timeout` and `signal`, and a failure is a `ConnectionError` whose
 * `cause` is the runtime's error. TLS is never dropped: an adapter that cannot honour the TLS
 * settings throws a `ConfigurationError` rather than connecting in plain text. TLS files
 * (`tls.caFile`, `certFile`, `keyFile`) are read here, before the adapter connects.
 *
 * A connection can bring its own factory instead (`transportOptions.socketFactory`, a
 * {@link SocketFactory}); wrap it with {@link guardSocketFactory} to get the same timeout,
 * signal and error handling.
 *
 * @example
 * ```ts ignore
 * import { connectSocket } from "./mod.ts";
 * const socket = await connectSocket({ hostname: "127.0.0.1", port: 5672, timeout: 1000 });
 * await socket.close();
 * ```
 *
 * @module
 */

import type { Socket, SocketFactory, SocketOptions } from "../socket.ts";
import { ConnectionError, KombuError } from "../errors.ts";
import { readTlsFiles } from "./_tls_files.ts";

export type { Socket, SocketFactory, SocketOptions } from "../socket.ts";

/** The runtimes wakame has a socket adapter for. */
export type RuntimeName = "deno" | "bun" | "cloudflare" | "node";

/**
 * Tells which runtime this code runs on, by the globals each one defines.
 *
 * @returns `deno` when `Deno` exists, `bun` when `Bun` exists, `cloudflare` when
 *   `navigator.userAgent` is `Cloudflare-Workers`, else `node`
 */
export function detectRuntime(): RuntimeName {
  const global = globalThis as {
    Deno?: unknown;
    Bun?: unknown;
    navigator?: { userAgent?: string };
  };
  if (global.Deno !== undefined) return "deno";
  if (global.Bun !== undefined) return "bun";
  if (global.navigator?.userAgent === "Cloudflare-Workers") return "cloudflare";
  return "node";
}

/**
 * Loads the raw adapter of a runtime (no timeout or error wrapping; see {@link connectSocket}).
 *
 * @param runtime the runtime whose adapter to load
 * @returns its connect function
 */
export async function loadAdapter(runtime: RuntimeName): Promise<SocketFactory> {
  switch (runtime) {
    case "deno":
      return (await import("./deno.ts")).connectDeno;
    case "bun":
      return (await import("./bun.ts")).connectBun;
    case "cloudflare":
      return (await import("./cloudflare.ts")).connectCloudflare;
    case "node":
      return (await import("./node.ts")).connectNode;
  }
}

function describe(options: SocketOptions): string {
  return options.path ?? `${options.hostname}:${options.port}`;
}

/**
 * Adds timeout, abort and error wrapping to any socket factory.
 *
 * A socket that opens after the deadline or the abort is closed at once. Errors that are
 * already wakame errors (a `ConfigurationError` for settings the adapter cannot honour) pass
 * through unchanged; every other failure becomes a `ConnectionError` with the original as
 * `cause`.
 *
 * @param factory the factory to guard (it receives a `signal` that fires on timeout or abort)
 * @returns a factory with the same options and guarantees as {@link connectSocket}
 */
export function guardSocketFactory(factory: SocketFactory): SocketFactory {
  return async (options: SocketOptions): Promise<Socket> => {
    const where = describe(options);
    const outer = options.signal;
    if (outer?.aborted) {
      throw new ConnectionError(`Cannot connect to ${where}: aborted`, { cause: outer.reason });
    }
    const controller = new AbortController();
    let reason: ConnectionError | undefined;
    const abort = (error: ConnectionError): void => {
      reason ??= error;
      controller.abort(error);
    };
    const onOuterAbort = (): void =>
      abort(new ConnectionError(`Cannot connect to ${where}: aborted`, { cause: outer?.reason }));
    outer?.addEventListener("abort", onOuterAbort, { once: true });
    const timeout = options.timeout;
    const timer = timeout !== undefined && timeout > 0 && Number.isFinite(timeout)
      ? setTimeout(
        () =>
          abort(new ConnectionError(`Cannot connect to ${where}: timed out after ${timeout} ms`)),
        timeout,
      )
      : undefined;
    const stopped = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(reason), { once: true });
    });
    stopped.catch(() => undefined);
    const attempt = factory({ ...options, signal: controller.signal });
    try {
      return await Promise.race([attempt, stopped]);
    } catch (error) {
      // A socket that still opens after we gave up must not leak.
      attempt.then((late) => late.close(), () => undefined);
      if (reason !== undefined) throw reason;
      if (error instanceof KombuError) throw error;
      const detail = error instanceof Error ? error.message : String(error);
      throw new ConnectionError(`Cannot connect to ${where}: ${detail}`, { cause: error });
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      outer?.removeEventListener("abort", onOuterAbort);
    }
  };
}

let adapter: Promise<SocketFactory> | undefined;

/**
 * Opens a socket with the current runtime's adapter (chosen by {@link detectRuntime}, loaded
 * once), honouring `timeout` (milliseconds) and `signal`.
 *
 * @param options where and how to connect
 * @returns the connected socket (after the TLS handshake, with TLS)
 * @throws {ConnectionError} when connecting fails, times out or is aborted; `cause` holds the
 *   runtime's error
 * @throws {ConfigurationError} when the TLS settings cannot be honoured on this runtime
 */
export const connectSocket: SocketFactory = guardSocketFactory(async (options) => {
  const runtime = detectRuntime();
  adapter ??= loadAdapter(runtime);
  // Workers cannot read files: their adapter refuses `caFile` & co. with a clear error.
  const tls = runtime === "cloudflare" ? options.tls : await readTlsFiles(options.tls);
  return (await adapter)({ ...options, tls });
});
