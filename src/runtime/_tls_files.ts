/**
 * Reads the PEM files a {@link TlsOptions} names (`caFile`, `certFile`, `keyFile`: Kombu's
 * `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`) when a connection opens, on runtimes with file
 * access (Deno with `--allow-read`, Bun, Node).
 *
 * @module
 */

import { ConfigurationError } from "../errors.ts";
import { importHidden } from "../_import.ts";
import type { TlsOptions } from "../transport.ts";

type ReadFile = (path: string, encoding: "utf8") => Promise<string>;

/**
 * The TLS settings with the named files read into `ca`, `cert` and `key` (text given there
 * already wins); settings without files come back as they are.
 *
 * @param tls the connection's TLS settings
 * @returns the settings with PEM text instead of file names
 * @throws {ConfigurationError} when a file cannot be read, or the runtime has no file access
 */
export async function readTlsFiles<T extends boolean | TlsOptions | undefined>(
  tls: T,
): Promise<T> {
  if (typeof tls !== "object" || tls === null) return tls;
  const { caFile, certFile, keyFile, ...rest } = tls;
  if (caFile === undefined && certFile === undefined && keyFile === undefined) return tls;
  let readFile: ReadFile;
  try {
    readFile = (await importHidden<{ readFile: ReadFile }>("node:fs/promises")).readFile;
  } catch (cause) {
    throw new ConfigurationError(
      "Cannot read TLS files (ssl_ca_certs, ssl_certfile, ssl_keyfile) on this runtime: " +
        "give the PEM text in the `ssl` option (ca, cert, key) instead",
      { cause },
    );
  }
  const read = async (path: string, what: string): Promise<string> => {
    try {
      return await readFile(path, "utf8");
    } catch (cause) {
      throw new ConfigurationError(`Cannot read the TLS ${what} file "${path}"`, { cause });
    }
  };
  const out: TlsOptions = { ...rest };
  if (caFile !== undefined) out.ca ??= await read(caFile, "CA certificates (ssl_ca_certs)");
  if (certFile !== undefined) out.cert ??= await read(certFile, "certificate (ssl_certfile)");
  if (keyFile !== undefined) out.key ??= await read(keyFile, "key (ssl_keyfile)");
  return out as T;
}
