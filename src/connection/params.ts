/**
 * From a broker URL and a connection's options to the parameters its transport connects with:
 * Kombu's URL forms; the URL's own query options, in Kombu's names and units
 * (`src/connection/url_options.ts`): `ssl`, `heartbeat` and `connect_timeout` (seconds), and
 * Kombu's TLS keys `ssl_cert_reqs` (`required`, `optional`, `none`, or `CERT_*`),
 * `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile` (files read when connecting) and
 * `ssl_check_hostname`, mapped onto `TlsOptions`; every other query key is handed to the
 * transport as written (`queryOptions`). TLS by scheme, `?ssl=true` or `ssl_*`; the heartbeat
 * in seconds (Kombu's unit on the wire; the option is in ms).
 *
 * @module
 */

import { ConfigurationError } from "../errors.ts";
import { resolveTransport, takesRawUrl } from "../registry.ts";
import type { ConnectionParams, Transport } from "../transport.ts";
import { maskUrl, parseUrl, type UrlParts } from "../url.ts";
import type { ConnectionOptions } from "./options.ts";
import { splitQuery, urlTlsOptions } from "./url_options.ts";

/** Schemes that mean TLS (Kombu: `amqps://`, `rediss://`); `?ssl=true` turns it on for others. */
const TLS_SCHEMES: ReadonlySet<string> = new Set(["amqps", "rediss"]);

/**
 * Resolves the parameters of one URL, loading its transport.
 *
 * @param url one broker URL
 * @param o the connection's options (they override the URL's parts)
 * @param signal aborts the connection attempt (the connection was closed)
 * @param urls every URL of the connection (the others become `params.alternates`)
 * @returns the transport and its parameters
 * @throws {ConfigurationError} for a URL without a scheme or an unknown transport
 */
export async function resolveParams(
  url: string,
  o: ConnectionOptions,
  signal: AbortSignal,
  urls: readonly string[] = [url],
): Promise<{ transport: Transport; params: ConnectionParams }> {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1].toLowerCase();
  if (!scheme) {
    throw new ConfigurationError(
      `Cannot parse broker URL "${
        maskUrl(url)
      }": expected transport://[user:password@]host[:port][/vhost]`,
    );
  }
  const name = typeof o.transport === "string" ? o.transport : scheme;
  const parts: UrlParts = takesRawUrl(name)
    ? {
      scheme,
      hostname: "",
      port: undefined,
      userid: undefined,
      password: undefined,
      virtualHost: undefined,
      query: {},
    }
    : parseUrl(url);
  const transport = typeof o.transport === "object"
    ? o.transport
    : await resolveTransport(o.transport ?? scheme);
  const { connection: u, transport: queryOptions } = splitQuery(parts.query);
  const urlTls = urlTlsOptions(u);
  const ssl = o.ssl === true && urlTls
    ? urlTls
    : o.ssl ?? urlTls ?? (u.ssl ?? TLS_SCHEMES.has(scheme));
  const heartbeatSeconds = o.heartbeat !== undefined
    ? Math.round(o.heartbeat / 1000)
    : (u.heartbeat ?? 0) / 1000;
  const params: ConnectionParams = {
    transport: transport.name,
    hostname: o.hostname ?? (parts.hostname || "localhost"),
    // Left undefined when not given, so a transport can pick its TLS port (5671, ...).
    port: o.port ?? parts.port,
    userid: o.userid ?? parts.userid,
    // A password function is called at connect (withCurrentPassword), never here.
    password: typeof o.password === "function" ? undefined : o.password ?? parts.password,
    virtualHost: o.virtualHost ?? parts.virtualHost ?? "",
    url,
    ssl,
    heartbeat: heartbeatSeconds,
    connectTimeout: o.connectTimeout ?? u.connectTimeout ?? 4000,
    transportOptions: { ...o.transportOptions },
    queryOptions,
    alternates: urls.filter((other) => other !== url),
    signal,
  };
  return { transport, params };
}
