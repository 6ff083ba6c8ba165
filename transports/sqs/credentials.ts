/**
 * Temporary AWS credentials that renew themselves. A `credentials` function (an STS role, SSO,
 * a secrets store, one of `@aws-sdk/credential-providers`) is called once, its answer kept until
 * five minutes before its `expiration` (as the AWS SDK does), then called again; every request
 * signs with the credentials of its moment. When SQS answers `ExpiredToken` anyway (a clock
 * off, credentials revoked early), the kept answer is dropped and the request is tried again
 * with fresh ones.
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import type { AwsCredentials } from "./client.ts";

/** How long before `expiration` credentials are renewed (the AWS SDK's 5 minutes). */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

/** SQS / STS error codes of a session token that is no longer valid. */
const EXPIRED_TOKEN_CODES: ReadonlySet<string> = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "TokenRefreshRequired",
]);

/**
 * Whether an SDK error says the credentials have expired.
 *
 * @param code the service error code
 * @returns true for `ExpiredToken` and its kin
 */
export function isExpiredTokenCode(code: string): boolean {
  return EXPIRED_TOKEN_CODES.has(code);
}

/** The moment credentials stop working, in ms since the epoch, or undefined for never. */
function expiryOf(credentials: AwsCredentials): number | undefined {
  const e = credentials.expiration as Date | number | string | undefined;
  if (e === undefined || e === null) return undefined;
  const ms = e instanceof Date ? e.getTime() : typeof e === "number" ? e : Date.parse(e);
  return Number.isFinite(ms) ? ms : undefined;
}

function checked(value: unknown): AwsCredentials {
  const c = value as Partial<AwsCredentials> | null | undefined;
  if (!c || typeof c.accessKeyId !== "string" || typeof c.secretAccessKey !== "string") {
    throw new ConfigurationError(
      "Cannot sign SQS requests: the credentials function gave no accessKeyId and secretAccessKey",
    );
  }
  return c as AwsCredentials;
}

/** A credentials function behind a cache that renews before expiry. */
export class RefreshingCredentials {
  readonly #source: () => Promise<AwsCredentials>;
  readonly #now: () => number;
  readonly #refreshBefore: number;
  #current: AwsCredentials | undefined;
  #pending: Promise<AwsCredentials> | undefined;

  /**
   * Wraps a credentials function (nothing is called yet).
   *
   * @param source the function
   * @param options `now` (a clock, for tests) and `refreshBefore` (ms, default 5 minutes)
   */
  constructor(
    source: () => Promise<AwsCredentials>,
    options: { now?: () => number; refreshBefore?: number } = {},
  ) {
    this.#source = source;
    this.#now = options.now ?? Date.now;
    this.#refreshBefore = options.refreshBefore ?? REFRESH_BEFORE_EXPIRY_MS;
  }

  /**
   * The credentials to sign with now: the kept ones, or fresh ones when those expire within the
   * refresh window. Concurrent callers share one call of the function.
   *
   * @returns the credentials
   * @throws {ConfigurationError} when the function gives no key pair
   */
  get(): Promise<AwsCredentials> {
    const current = this.#current;
    if (current !== undefined) {
      const expiry = expiryOf(current);
      if (expiry === undefined || expiry - this.#refreshBefore > this.#now()) {
        return Promise.resolve(current);
      }
    }
    this.#pending ??= (async () => {
      try {
        const fresh = checked(await this.#source());
        this.#current = fresh;
        return fresh;
      } finally {
        this.#pending = undefined;
      }
    })();
    return this.#pending;
  }

  /** Drops the kept credentials (SQS said they expired): the next request asks again. */
  expire(): void {
    this.#current = undefined;
  }

  /**
   * The provider to hand the AWS SDK: marked as memoized, so that the SDK asks it for every
   * request instead of keeping an answer of its own (which `expire()` could not drop).
   *
   * @returns the provider
   */
  provider(): (() => Promise<AwsCredentials>) & { memoized: true } {
    return Object.assign(() => this.get(), { memoized: true as const });
  }
}
