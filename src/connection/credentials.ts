/**
 * A password that changes: `new Connection(url, { password: () => fetchToken() })`. The function
 * is called at every connect and reconnect (and by a transport each time it opens another socket
 * later, such as Redis's subscriber link), so rotating passwords and short-lived tokens (Redis
 * and RabbitMQ OAuth 2 tokens, cloud IAM auth tokens) work. Its value is never shown:
 * `toString()`, `asUri()` and `info()` do not call it (`info()` shows `**`).
 *
 * @module
 */

import { ConfigurationError, ConnectionError, KombuError } from "../errors.ts";
import type { ConnectionParams } from "../transport.ts";
import { maskUrl } from "../url.ts";

/** Gives the password for the next connect (a rotating password or a fresh token). */
export type PasswordProvider = () => string | Promise<string>;

/**
 * Asks a provider for the password.
 *
 * @param provider the function
 * @param url the URL it is for (masked in errors)
 * @returns the password
 * @throws {ConfigurationError} when the function gives something else than a string
 * @throws {ConnectionError} when it fails (recoverable: a reconnect asks again)
 */
export async function providedPassword(provider: PasswordProvider, url: string): Promise<string> {
  let value: unknown;
  try {
    value = await provider();
  } catch (error) {
    if (error instanceof KombuError) throw error;
    throw new ConnectionError(
      `Cannot get the password for ${maskUrl(url)}: the password function failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
  if (typeof value !== "string") {
    throw new ConfigurationError(
      `Cannot get the password for ${maskUrl(url)}: the password function gave ${
        value === null ? "null" : typeof value
      }, not a string`,
    );
  }
  return value;
}

/**
 * The parameters of one connect with the password of this moment: a provider is called now, and
 * handed on as `params.passwordProvider` for the sockets a transport opens later.
 *
 * @param params the resolved parameters
 * @param password the connection's `password` option
 * @returns the parameters to connect with
 * @throws {ConnectionError} when the provider fails
 * @throws {ConfigurationError} when it gives something else than a string
 */
export async function withCurrentPassword(
  params: ConnectionParams,
  password: string | PasswordProvider | undefined,
): Promise<ConnectionParams> {
  if (typeof password !== "function") return params;
  const ask = (): Promise<string> => providedPassword(password, params.url);
  return { ...params, password: await ask(), passwordProvider: ask };
}

/**
 * The password to open one more socket with: the provider's current one where there is a
 * provider, else the one the connection started with.
 *
 * @param params the connection's parameters
 * @returns the password, if any
 * @throws {ConnectionError} when the provider fails
 */
export async function currentPassword(params: ConnectionParams): Promise<string | undefined> {
  return params.passwordProvider !== undefined ? await params.passwordProvider() : params.password;
}
