/**
 * Kombu's connection URLs: `transport://userid:password@hostname:port/virtual_host?options`
 * (Kombu's `kombu.utils.url`), with `;`-separated alternates and password masking.
 *
 * @module
 */

import { ConfigurationError } from "./errors.ts";

/** The parts of one broker URL. */
export interface UrlParts {
  /** The scheme as written (`amqp`, `redis+socket`, ...). */
  scheme: string;
  /** Host name, percent-decoded (brackets of IPv6 removed). */
  hostname: string;
  /** Port, when the URL names one. */
  port: number | undefined;
  /** User name, when given. */
  userid: string | undefined;
  /** Password, when given: never log it. */
  password: string | undefined;
  /** Virtual host: `amqp://h//` is `/`; absent is `undefined` (the transport's default). */
  virtualHost: string | undefined;
  /** Query-string options, values as strings. */
  query: Record<string, string>;
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch (cause) {
    throw new ConfigurationError(
      `Cannot parse broker URL: the ${what} is not valid percent-encoding`,
      {
        cause,
      },
    );
  }
}

/**
 * Parses one broker URL, as Kombu (Python's `urlparse`) does: the user info ends at the last `@`
 * of the authority, and the path after the first `/` is the virtual host.
 *
 * @param url a URL such as `amqp://guest:guest@localhost:5672//`
 * @returns its parts, percent-decoded
 * @throws {ConfigurationError} when it is not `scheme://...` or the port is not a number; the
 *   message never contains the password
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUrl } from "@wakame/wakame";
 * const parts = parseUrl("amqp://guest:secret@localhost//");
 * assert.equal(parts.virtualHost, "/");
 * assert.equal(parts.password, "secret");
 * ```
 */
export function parseUrl(url: string): UrlParts {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(url.trim());
  if (!match) {
    throw new ConfigurationError(
      `Cannot parse broker URL "${
        maskUrl(url)
      }": expected transport://[user:password@]host[:port][/vhost]`,
    );
  }
  const scheme = match[1].toLowerCase();
  let rest = match[2];
  const query: Record<string, string> = {};
  const q = rest.indexOf("?");
  if (q >= 0) {
    for (const [key, value] of new URLSearchParams(rest.slice(q + 1))) query[key] = value;
    rest = rest.slice(0, q);
  }
  const slash = rest.indexOf("/");
  const netloc = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : undefined;
  const at = netloc.lastIndexOf("@");
  const userinfo = at >= 0 ? netloc.slice(0, at) : undefined;
  const hostport = at >= 0 ? netloc.slice(at + 1) : netloc;
  let userid: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(":");
    userid = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, "user name") || undefined;
    password = colon >= 0 ? decode(userinfo.slice(colon + 1), "password") : undefined;
  }
  let hostname = hostport;
  let port: number | undefined;
  const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(hostport);
  let portText: string | undefined;
  if (v6) {
    hostname = v6[1];
    portText = v6[2];
  } else {
    const colon = hostport.lastIndexOf(":");
    if (colon >= 0) {
      hostname = hostport.slice(0, colon);
      portText = hostport.slice(colon + 1);
    }
  }
  if (portText !== undefined && portText !== "") {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
      throw new ConfigurationError(
        // The port text is not echoed: it may be part of a password with a raw "/".
        `Cannot parse broker URL "${maskUrl(url)}": the port is not a number from 0 to 65535` +
          (at < 0 && rest.includes("@", slash)
            ? ' (percent-encode "/", "?" and "#" in the user name and password)'
            : ""),
      );
    }
    port = Number(portText);
  }
  return {
    scheme,
    hostname: decode(hostname, "host name"),
    port,
    userid,
    password,
    virtualHost: path === undefined || path === "" ? undefined : decode(path, "virtual host"),
    query,
  };
}

/**
 * Replaces the password of a URL with `**` (Kombu's `maybe_sanitize_url`); every URL of a
 * `;`-separated list too. Text that is not a URL comes back unchanged.
 *
 * @param url one URL or a `;`-separated list
 * @returns the same with passwords masked
 */
export function maskUrl(url: string): string {
  // The password runs to the LAST "@" of the URL, as in the logger's redaction: a password
  // written with a raw "/", "?" or "#" is over-masked rather than leaked.
  return url.split(";").map((one) =>
    one.replace(/^(\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s:/?#@]*:)[\s\S]*@/, "$1**@")
      // An Azure connection string's key or SAS (`...;AccountKey=k;...`).
      .replace(
        /^(\s*(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/)?(?:AccountKey|SharedAccessSignature)=)[\s\S]*/i,
        "$1**",
      )
  ).join(";");
}

/**
 * Builds a broker URL from its parts (Kombu's `kombu.utils.url.as_url`), optionally with the
 * password masked. User, password and host are percent-encoded; the virtual host keeps its `/`
 * (`amqp://h//` is vhost `/`), so {@link parseUrl} reads back the same parts.
 *
 * @param parts the scheme and any of host, port, user, password, virtual host and query
 * @param options `sanitize`: write `mask` (default `**`) instead of the password
 * @returns the URL
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { asUrl } from "@wakame/wakame";
 * const parts = { scheme: "amqp", hostname: "h", port: 5672, userid: "u", password: "p@ss", virtualHost: "/" };
 * assert.equal(asUrl(parts), "amqp://u:p%40ss@h:5672//");
 * assert.equal(asUrl(parts, { sanitize: true }), "amqp://u:**@h:5672//");
 * ```
 */
export function asUrl(
  parts: Partial<UrlParts> & { scheme: string },
  options: { sanitize?: boolean; mask?: string } = {},
): string {
  const enc = encodeURIComponent;
  let url = `${parts.scheme}://`;
  if (parts.userid || parts.password) {
    if (parts.userid) url += enc(parts.userid);
    if (parts.password) {
      const mask = options.mask ?? "**";
      url += options.sanitize ? (mask ? `:${mask}` : ":") : `:${enc(parts.password)}`;
    }
    url += "@";
  }
  const host = parts.hostname ?? "";
  url += host.includes(":") ? `[${host}]` : enc(host);
  if (parts.port) url += `:${parts.port}`;
  url += "/";
  if (parts.virtualHost) url += enc(parts.virtualHost).replace(/%2F/g, "/");
  const query = Object.entries(parts.query ?? {});
  if (query.length > 0) url += `?${new URLSearchParams(query)}`;
  return url;
}

/**
 * Splits a `;`-separated list of URLs (Kombu's failover form). A part without a scheme continues
 * the URL before it, so a URL that holds `;` itself (an Azure connection string:
 * `azurestoragequeues://AccountName=a;AccountKey=k`) stays whole.
 *
 * @param url one URL or several separated by `;`
 * @returns the non-empty URLs, trimmed
 */
export function splitUrls(url: string): string[] {
  const urls: string[] = [];
  for (const part of url.split(";")) {
    if (part.trim() === "") continue;
    if (urls.length > 0 && !/^\s*[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(part)) {
      urls[urls.length - 1] += `;${part}`;
    } else {
      urls.push(part);
    }
  }
  return urls.map((one) => one.trim()).filter((one) => one.length > 0);
}
