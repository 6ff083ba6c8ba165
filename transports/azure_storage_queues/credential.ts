/**
 * Microsoft Entra ID (OAuth 2) tokens for Azure Storage Queues. wakame has no Azure SDK: the
 * application hands in a token credential in the `@azure/core-auth` `TokenCredential` shape,
 * so `new DefaultAzureCredential()` or `new ManagedIdentityCredential()` from `@azure/identity`
 * plugs in directly (`transportOptions: { credential }`). Kombu's URL forms
 * `azurestoragequeues://DefaultAzureCredential@<account URL>` and
 * `azurestoragequeues://ManagedIdentityCredential@<account URL>` name the account; the token
 * comes from that credential.
 *
 * A token is asked for with the scope `https://storage.azure.com/.default`, kept until 2 minutes
 * before it expires (the refresh window of `@azure/core-rest-pipeline`) or until its
 * `refreshAfterTimestamp`, then asked for again; an answer `401` drops it at once and the
 * request is tried again with a fresh one.
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";

/** The OAuth scope of Azure Storage. */
export const AZURE_STORAGE_SCOPE = "https://storage.azure.com/.default";

/** How long before a token's expiry a new one is asked for (`@azure/core-rest-pipeline`'s 2 min). */
export const TOKEN_REFRESH_BEFORE_EXPIRY_MS = 2 * 60_000;

/** A token as `@azure/core-auth`'s `AccessToken`. */
export interface AzureAccessToken {
  /** The bearer token. */
  token: string;
  /** When it expires, ms since the epoch; without it the token is asked for on every request. */
  expiresOnTimestamp?: number;
  /** When the credential suggests asking for a new one, ms since the epoch. */
  refreshAfterTimestamp?: number;
}

/** A token source in the shape of `@azure/core-auth`'s `TokenCredential` (`@azure/identity`). */
export interface AzureTokenCredential {
  /**
   * Returns an access token for the scopes.
   *
   * @param scopes the scope (`https://storage.azure.com/.default`)
   * @returns the token, or null when there is none
   */
  getToken(scopes: string | string[]): Promise<AzureAccessToken | null>;
}

/** The credential names of Kombu's URL forms, as written there. */
const IDENTITY_NAMES = ["DefaultAzureCredential", "ManagedIdentityCredential"] as const;

/**
 * The identity credential a URL's user part names (Kombu 5.3's forms), any case.
 *
 * @param userPart what stands before the `@`
 * @returns `DefaultAzureCredential`, `ManagedIdentityCredential`, or undefined
 */
export function identityCredentialName(userPart: string): string | undefined {
  return IDENTITY_NAMES.find((name) => name.toLowerCase() === userPart.toLowerCase());
}

/**
 * The error for a URL that names an identity credential when no credential was handed in.
 *
 * @param name `DefaultAzureCredential` or `ManagedIdentityCredential`
 * @param accountName the storage account
 * @returns the error to throw
 */
export function identityCredentialMissing(name: string, accountName: string): ConfigurationError {
  return new ConfigurationError(
    `Cannot connect to Azure account "${accountName}" with ${name}: wakame has no Azure SDK, so ` +
      `pass the credential itself: \`transportOptions: { credential: new ${name}() }\` with ` +
      `\`import { ${name} } from "@azure/identity"\` (any object with getToken(scopes) works)`,
  );
}

/** A token credential behind a cache that renews before expiry. */
export class BearerTokens {
  readonly #credential: AzureTokenCredential;
  readonly #now: () => number;
  readonly #refreshBefore: number;
  #current: AzureAccessToken | undefined;
  #pending: Promise<string> | undefined;

  /**
   * Wraps a credential (nothing is asked yet).
   *
   * @param credential the token credential
   * @param options `now` (a clock, for tests) and `refreshBefore` (ms, default 2 minutes)
   */
  constructor(
    credential: AzureTokenCredential,
    options: { now?: () => number; refreshBefore?: number } = {},
  ) {
    this.#credential = credential;
    this.#now = options.now ?? Date.now;
    this.#refreshBefore = options.refreshBefore ?? TOKEN_REFRESH_BEFORE_EXPIRY_MS;
  }

  #fresh(token: AzureAccessToken): boolean {
    const now = this.#now();
    if (typeof token.expiresOnTimestamp !== "number") return false;
    if (typeof token.refreshAfterTimestamp === "number" && now >= token.refreshAfterTimestamp) {
      return false;
    }
    return token.expiresOnTimestamp - this.#refreshBefore > now;
  }

  /**
   * The bearer token to send now: the kept one, or a new one near its expiry. Concurrent
   * callers share one `getToken` call.
   *
   * @returns the token text
   * @throws {ConfigurationError} when the credential gives no token
   */
  token(): Promise<string> {
    const current = this.#current;
    if (current !== undefined && this.#fresh(current)) return Promise.resolve(current.token);
    this.#pending ??= (async () => {
      try {
        const answer = await this.#credential.getToken(AZURE_STORAGE_SCOPE);
        if (!answer || typeof answer.token !== "string" || !answer.token) {
          throw new ConfigurationError("Cannot authorize to Azure: the credential gave no token");
        }
        this.#current = answer;
        return answer.token;
      } finally {
        this.#pending = undefined;
      }
    })();
    return this.#pending;
  }

  /** Drops the kept token (the service refused it): the next request asks for a new one. */
  expire(): void {
    this.#current = undefined;
  }
}

const caches = new WeakMap<AzureTokenCredential, BearerTokens>();

/**
 * The token cache of a credential (one per credential object, shared by its connections).
 *
 * @param credential the token credential
 * @returns its cache
 */
export function bearerTokensOf(credential: AzureTokenCredential): BearerTokens {
  let tokens = caches.get(credential);
  if (tokens === undefined) {
    tokens = new BearerTokens(credential);
    caches.set(credential, tokens);
  }
  return tokens;
}
