/**
 * The URL forms and options of the Azure Storage Queues transport.
 *
 * URL forms (Kombu's, plus connection strings):
 * - `azurestoragequeues://<account key>@<account URL>`
 * - `azurestoragequeues://<SAS token>@<account URL>`
 * - `azurestoragequeues://:<account key>@<account name>` (Kombu 5.2: the public endpoint)
 * - `azurestoragequeues://<connection string>` with `AccountName=...;AccountKey=...` or
 *   `SharedAccessSignature=...`, `QueueEndpoint=...`, or `UseDevelopmentStorage=true`
 *
 * @module
 */

import { ConfigurationError } from "../../src/errors.ts";
import { declareOptions, type OptionSpec, readOptions } from "../../src/options/declare.ts";
import { VIRTUAL_OPTIONS } from "../../src/virtual/options.ts";
import { HTTP_CALL_OPTIONS } from "../_http/options.ts";
import type { ConnectionParams } from "../../src/transport.ts";
import type { BackoffPolicy } from "../_http/backoff.ts";
import type { AzureAuth, AzureTokenCredential } from "./auth.ts";
import { identityCredentialMissing, identityCredentialName } from "./credential.ts";

/** A `fetch` function (the global one, or a test double). */
export type FetchFunction = (input: Request) => Promise<Response>;

/** Azurite's development account name (public, documented by Microsoft). */
export const DEV_ACCOUNT_NAME = "devstoreaccount1";
/** Azurite's development account key (public, documented by Microsoft). */
export const DEV_ACCOUNT_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** How a consumed message is acknowledged. */
export type AzureAckMode =
  /** At least once (default): hidden while processed, deleted on ack, visible again otherwise. */
  | "visibility"
  /** At most once, as Kombu: deleted when received. */
  | "deleteOnReceive";

/** `transportOptions` of `azurestoragequeues://` (durations in milliseconds). */
export interface AzureTransportOptions {
  /** Prefixed to every queue name (Kombu `queue_name_prefix`). */
  queueNamePrefix?: string;
  /** A connection string, instead of the URL's. */
  connectionString?: string;
  /**
   * A token credential (`@azure/identity`'s `DefaultAzureCredential`, ...) instead of a key or
   * SAS; required by the URL forms `DefaultAzureCredential@...` / `ManagedIdentityCredential@...`.
   */
  credential?: AzureTokenCredential;
  /** `visibility` (default, at least once) or `deleteOnReceive` (Kombu's at most once). */
  ackMode?: AzureAckMode;
  /** How long a received message stays hidden, ms (default 30 000); extended while processed. */
  visibilityTimeout?: number;
  /** Time-to-live of sent messages, ms; default the service's (7 days); -1 never expires. */
  messageTtl?: number;
  /** Poll interval when every queue is empty, ms (Kombu `polling_interval`, 1 s). */
  pollingInterval?: number;
  /** Largest message text in bytes (default 65 536, Azure's 64 KiB). */
  maxMessageSize?: number;
  /** Attempts per call, first included (default 5). */
  maxAttempts?: number;
  /** Upper bound of the first retry wait, ms (default 50). */
  retryBaseDelay?: number;
  /** Upper bound of any retry wait, ms (default 5000). */
  maxRetryDelay?: number;
  /** The `fetch` to send requests with (default: the global one). */
  fetch?: FetchFunction;
}

/** The settings of one connection. */
export interface AzureSettings {
  /** Account URL without a trailing slash (`https://acct.queue.core.windows.net`). */
  accountUrl: string;
  /** Storage account name. */
  accountName: string;
  /** How requests are authorized. */
  auth: AzureAuth;
  /** Prefix of every queue name. */
  queueNamePrefix: string;
  /** How consumed messages are acknowledged. */
  ackMode: AzureAckMode;
  /** Seconds, as the service takes it. */
  visibilityTimeoutSeconds: number;
  /** Seconds, or undefined for the service default. */
  messageTtlSeconds: number | undefined;
  /** Wait between polls of empty queues, ms. */
  pollingInterval: number;
  /** Largest message text, bytes. */
  maxMessageSize: number;
  /** The fetch requests go through. */
  fetch: FetchFunction;
  /** Retry policy of every call. */
  backoff: BackoffPolicy;
}

/** Where and how to connect, as read from a URL or connection string. */
export interface AzureEndpoint {
  /** Account URL without a trailing slash. */
  accountUrl: string;
  /** Storage account name. */
  accountName: string;
  /** The credential found, if any. */
  auth: AzureAuth | undefined;
  /** The identity credential the URL names (`DefaultAzureCredential@...`), to be handed in. */
  identity?: string;
}

const USAGE = "expected azurestoragequeues://<key or SAS>@<account URL>, " +
  "azurestoragequeues://:<key>@<account name> or a connection string";

/**
 * The account name of an account URL: the first label of `<name>.queue.core.windows.net`, or
 * the first path segment of a path-style URL (Azurite, IP addresses).
 *
 * @param accountUrl the account URL
 * @returns the account name
 * @throws {ConfigurationError} when no name can be found
 */
export function accountNameOf(accountUrl: string): string {
  let url: URL;
  try {
    url = new URL(accountUrl);
  } catch (cause) {
    throw new ConfigurationError(`Cannot parse the Azure account URL: ${USAGE}`, { cause });
  }
  const segment = url.pathname.split("/").filter(Boolean)[0];
  const host = url.hostname;
  if (segment) return segment;
  if (/^[\d.]+$/.test(host) || host === "localhost" || host.includes(":")) {
    throw new ConfigurationError(
      `Cannot find the Azure account name in "${url.origin}": add it as the path (${url.origin}/devstoreaccount1)`,
    );
  }
  return host.split(".")[0];
}

function credentialAuth(credential: string, accountName: string): AzureAuth {
  if (/(^|[?&])sig=/.test(credential)) return { kind: "sas", token: credential.replace(/^\?/, "") };
  const key = credential.includes("%") ? decodeURIComponent(credential) : credential;
  return { kind: "sharedKey", accountName, accountKey: key };
}

/**
 * Reads an Azure Storage connection string.
 *
 * @param text `Key=Value;...` pairs (`UseDevelopmentStorage=true` too)
 * @returns the endpoint and credential
 * @throws {ConfigurationError} when it names no account or queue endpoint
 */
export function parseConnectionString(text: string): AzureEndpoint {
  const pairs = new Map<string, string>();
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    pairs.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  if (pairs.get("usedevelopmentstorage")?.toLowerCase() === "true") {
    const proxy = pairs.get("developmentstorageproxyuri") ?? "http://127.0.0.1";
    return {
      accountUrl: `${proxy.replace(/\/$/, "")}:10001/${DEV_ACCOUNT_NAME}`,
      accountName: DEV_ACCOUNT_NAME,
      auth: { kind: "sharedKey", accountName: DEV_ACCOUNT_NAME, accountKey: DEV_ACCOUNT_KEY },
    };
  }
  const endpoint = pairs.get("queueendpoint");
  let accountName = pairs.get("accountname");
  let accountUrl: string;
  if (endpoint) {
    accountUrl = endpoint.replace(/\/$/, "");
    accountName ??= accountNameOf(accountUrl);
  } else if (accountName) {
    const protocol = pairs.get("defaultendpointsprotocol") ?? "https";
    const suffix = pairs.get("endpointsuffix") ?? "core.windows.net";
    accountUrl = `${protocol}://${accountName}.queue.${suffix}`;
  } else {
    throw new ConfigurationError(
      "Cannot read the Azure connection string: it has neither AccountName nor QueueEndpoint",
    );
  }
  const key = pairs.get("accountkey");
  const sas = pairs.get("sharedaccesssignature");
  const auth: AzureAuth | undefined = key
    ? { kind: "sharedKey", accountName, accountKey: key }
    : sas
    ? { kind: "sas", token: sas.replace(/^\?/, "") }
    : undefined;
  return { accountUrl, accountName, auth };
}

/**
 * Reads the endpoint and credential of an `azurestoragequeues://` URL.
 *
 * @param url the URL as written
 * @returns the endpoint and credential
 * @throws {ConfigurationError} when the URL has none of the forms
 */
export function parseAzureUrl(url: string): AzureEndpoint {
  const rest = url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, "");
  if (/(^|;)\s*(AccountName|QueueEndpoint|UseDevelopmentStorage)\s*=/i.test(rest)) {
    return parseConnectionString(rest);
  }
  const at = rest.lastIndexOf("@");
  if (at < 0) {
    if (!rest) throw new ConfigurationError(`Cannot parse the Azure URL: ${USAGE}`);
    const accountUrl = rest.includes("://") ? rest.replace(/\/$/, "") : `https://${rest}`;
    return { accountUrl, accountName: accountNameOf(accountUrl), auth: undefined };
  }
  let credential = rest.slice(0, at);
  const target = rest.slice(at + 1).replace(/\/$/, "");
  if (!target) throw new ConfigurationError(`Cannot parse the Azure URL: ${USAGE}`);
  const identity = identityCredentialName(credential);
  if (identity !== undefined) {
    // Kombu 5.3's forms: the token comes from `transportOptions.credential` (credential.ts).
    const accountUrl = target.includes("://")
      ? target
      : target.includes(".")
      ? `https://${target}`
      : `https://${target}.queue.core.windows.net`;
    return { accountUrl, accountName: accountNameOf(accountUrl), auth: undefined, identity };
  }
  let accountUrl: string;
  if (target.includes("://")) {
    accountUrl = target;
  } else {
    // Kombu 5.2: `azurestoragequeues://:KEY@account` names the account, not a URL.
    if (credential.startsWith(":")) credential = credential.slice(1);
    accountUrl = target.includes(".")
      ? `https://${target}`
      : `https://${target}.queue.core.windows.net`;
  }
  if (credential.startsWith(":")) credential = credential.slice(1);
  const accountName = accountNameOf(accountUrl);
  return {
    accountUrl,
    accountName,
    auth: credential ? credentialAuth(credential, accountName) : undefined,
  };
}

/** Every option of the Azure Storage Queues transport (with the virtual base's), declared once. */
export const AZURE_OPTIONS = declareOptions("Azure", {
  ...VIRTUAL_OPTIONS,
  queueNamePrefix: { kind: "string", default: "", doc: "Prefixed to every queue name" },
  connectionString: {
    kind: "string",
    secret: true,
    own: true,
    doc: "A connection string, instead of the URL's",
  },
  credential: { kind: "object", own: true, doc: "A token credential, such as `@azure/identity`'s" },
  ackMode: {
    kind: "enum",
    values: ["visibility", "deleteOnReceive"],
    default: "visibility",
    own: true,
    doc: "`visibility` (at least once) or `deleteOnReceive` (Kombu's at most once)",
  },
  visibilityTimeout: {
    kind: "duration",
    default: 30_000,
    min: 1000,
    max: 604_800_000,
    own: true,
    doc: "How long a received message stays hidden (renewed while processed)",
  },
  messageTtl: {
    kind: "duration",
    min: -1,
    own: true,
    doc: "Time-to-live of sent messages (default the service's 7 days; -1 never expires)",
    parse: (value, spelling, fail) => {
      const n = typeof value === "number" ? value : Number(String(value).trim() || NaN);
      if (!Number.isFinite(n) || n < -1) return fail("a duration >= 0, or -1 (never expires)");
      return n < 0 || spelling === "camel" ? n : n * 1000;
    },
  },
  maxMessageSize: {
    kind: "integer",
    default: 65_536,
    min: 1,
    max: 65_536,
    own: true,
    doc: "Largest message text in bytes",
  },
  ...HTTP_CALL_OPTIONS,
});

// The compiler checks that every option of the public interface is declared.
const _declared: Record<keyof AzureTransportOptions, OptionSpec> = AZURE_OPTIONS.options;

/**
 * Reads the settings of one connection.
 *
 * @param params URL and options
 * @returns the settings
 * @throws {ConfigurationError} for an invalid URL or option, or when no credential is given
 */
export function readAzureSettings(params: ConnectionParams): AzureSettings {
  const o = readOptions(AZURE_OPTIONS, params);
  const endpoint = o.connectionString
    ? parseConnectionString(o.connectionString)
    : parseAzureUrl(params.url);
  const auth: AzureAuth | undefined = o.credential
    ? { kind: "token", credential: o.credential as AzureTokenCredential }
    : endpoint.auth;
  if (!auth && endpoint.identity !== undefined) {
    throw identityCredentialMissing(endpoint.identity, endpoint.accountName);
  }
  if (!auth) {
    throw new ConfigurationError(
      `Cannot connect to Azure account "${endpoint.accountName}": give a key, a SAS token or ` +
        "`transportOptions.credential`",
    );
  }
  const ttl = o.messageTtl as number | undefined;
  return {
    accountUrl: endpoint.accountUrl,
    accountName: endpoint.accountName,
    auth,
    queueNamePrefix: o.queueNamePrefix,
    ackMode: o.ackMode,
    visibilityTimeoutSeconds: Math.max(1, Math.ceil(o.visibilityTimeout / 1000)),
    messageTtlSeconds: ttl === undefined
      ? undefined
      : ttl < 0
      ? -1
      : Math.max(1, Math.ceil(ttl / 1000)),
    pollingInterval: o.pollingInterval,
    maxMessageSize: o.maxMessageSize,
    fetch: (o.fetch as FetchFunction | undefined) ?? ((request: Request) => fetch(request)),
    backoff: {
      attempts: o.maxAttempts,
      baseDelay: o.retryBaseDelay,
      maxDelay: o.maxRetryDelay,
    },
  };
}
