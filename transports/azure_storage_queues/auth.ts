/**
 * Authorization of Azure Storage requests with Web Crypto only: Shared Key (HMAC-SHA256 over
 * the canonical request, as documented in "Authorize with Shared Key"), SAS tokens, and bearer
 * tokens from a caller-supplied credential.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "../../src/_base64.ts";
import { ConfigurationError } from "../../src/errors.ts";
import { type AzureTokenCredential, bearerTokensOf } from "./credential.ts";

export type { AzureTokenCredential } from "./credential.ts";

/** How requests are authorized. */
export type AzureAuth =
  | { kind: "sharedKey"; accountName: string; accountKey: string }
  | { kind: "sas"; token: string }
  | { kind: "token"; credential: AzureTokenCredential };

/** The parts of a request that Shared Key signs. */
export interface SignableRequest {
  /** HTTP method. */
  method: string;
  /** Request URL (the SAS query is added to it). */
  url: URL;
  /** Header names in any case. */
  headers: Record<string, string>;
  /** Body length in bytes (0 when there is none). */
  contentLength: number;
}

function header(headers: Record<string, string>, name: string): string {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return "";
}

/**
 * Builds the Shared Key string-to-sign of a request (Blob, Queue and File services, version
 * 2009-09-19 and later).
 *
 * @param accountName the storage account
 * @param request method, URL, headers and body length
 * @returns the string to sign
 */
export function sharedKeyStringToSign(accountName: string, request: SignableRequest): string {
  const h = request.headers;
  const msHeaders = Object.entries(h)
    .map(([name, value]) => [name.toLowerCase().trim(), value.trim()] as const)
    .filter(([name]) => name.startsWith("x-ms-"))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}:${value}\n`)
    .join("");
  const params = new Map<string, string[]>();
  for (const [name, value] of request.url.searchParams) {
    const key = name.toLowerCase();
    const list = params.get(key) ?? [];
    list.push(value);
    params.set(key, list);
  }
  let resource = `/${accountName}${request.url.pathname || "/"}`;
  for (const key of [...params.keys()].sort()) {
    resource += `\n${key}:${params.get(key)!.sort().join(",")}`;
  }
  return [
    request.method.toUpperCase(),
    header(h, "content-encoding"),
    header(h, "content-language"),
    request.contentLength > 0 ? String(request.contentLength) : "",
    header(h, "content-md5"),
    header(h, "content-type"),
    "", // Date: x-ms-date is sent instead
    header(h, "if-modified-since"),
    header(h, "if-match"),
    header(h, "if-none-match"),
    header(h, "if-unmodified-since"),
    header(h, "range"),
    msHeaders + resource,
  ].join("\n");
}

const keyCache = new Map<string, Promise<CryptoKey>>();

function importKey(accountKey: string): Promise<CryptoKey> {
  let key = keyCache.get(accountKey);
  if (!key) {
    let raw: Uint8Array;
    try {
      raw = decodeBase64(accountKey);
    } catch (cause) {
      throw new ConfigurationError("Cannot use the Azure account key: it is not base64", { cause });
    }
    key = crypto.subtle.importKey(
      "raw",
      raw as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    keyCache.set(accountKey, key);
  }
  return key;
}

/**
 * HMAC-SHA256 of a text with a base64 key, as base64 (Web Crypto).
 *
 * @param accountKey the base64 account key
 * @param text the string to sign
 * @returns the base64 signature
 * @throws {ConfigurationError} when the key is not base64
 */
export async function hmacSha256Base64(accountKey: string, text: string): Promise<string> {
  const key = await importKey(accountKey);
  const signature = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text));
  return encodeBase64(new Uint8Array(signature));
}

/**
 * Authorizes a request in place: adds `Authorization` (Shared Key, bearer) or the SAS query.
 * `x-ms-date` and `x-ms-version` must already be among the headers.
 *
 * @param auth the credential
 * @param request the request to authorize (its URL and headers are changed)
 */
export async function authorize(auth: AzureAuth, request: SignableRequest): Promise<void> {
  if (auth.kind === "sas") {
    const token = auth.token.replace(/^\?/, "");
    for (const [name, value] of new URLSearchParams(token)) {
      if (!request.url.searchParams.has(name)) request.url.searchParams.append(name, value);
    }
    return;
  }
  if (auth.kind === "token") {
    // Kept until near its expiry (credential.ts), so getToken is not asked on every request.
    request.headers.authorization = `Bearer ${await bearerTokensOf(auth.credential).token()}`;
    return;
  }
  const signature = await hmacSha256Base64(
    auth.accountKey,
    sharedKeyStringToSign(auth.accountName, request),
  );
  request.headers.authorization = `SharedKey ${auth.accountName}:${signature}`;
}
