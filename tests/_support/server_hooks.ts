/** A private server for one `describe` block: started before its tests, stopped after. */
import { after, before } from "node:test";
import type { Skip } from "./skips.ts";

/**
 * Registers (inside a `describe`) hooks that start a server with `start()` unless the suite
 * is skipped, and stop it afterwards; returns the running server's getter.
 */
export function serverFor<S extends { stop(): unknown }>(
  skip: Skip,
  start: () => Promise<S>,
): () => S {
  let server: S | undefined;
  before(async () => {
    if (skip.reason) return;
    server = await start();
  });
  after(() => server?.stop());
  return () => {
    if (!server) throw new Error("the server is not running (did its suite start?)");
    return server;
  };
}
