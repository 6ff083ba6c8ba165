/**
 * The connection's own URL query options (Kombu's `Connection` arguments in a URL): `ssl`,
 * `heartbeat` and `connect_timeout` in seconds, and Kombu's `ssl_*` keys (`kombu.utils.url`),
 * mapped onto {@link TlsOptions}. Every other query key goes to the transport.
 *
 * @module
 */

import { ConfigurationError } from "../errors.ts";
import { declareOptions, kombuName, type OptionValues, readOptions } from "../options/declare.ts";
import type { TlsOptions } from "../transport.ts";

const CERT_REQS: Record<string, "required" | "optional" | "none"> = {
  cert_required: "required",
  cert_optional: "optional",
  cert_none: "none",
  required: "required",
  optional: "optional",
  none: "none",
};

/** The URL query options a connection reads itself. */
export const CONNECTION_URL_OPTIONS = declareOptions("connection", {
  ssl: {
    kind: "boolean",
    doc: "TLS on or off (`amqps://` and `rediss://` turn it on, as do the `ssl_*` keys)",
  },
  heartbeat: { kind: "duration", min: 0, doc: "Heartbeat interval (0 = off)" },
  connectTimeout: { kind: "duration", min: 0, doc: "Time one connection attempt may take" },
  sslCertReqs: {
    kind: "enum",
    values: ["required", "optional", "none"],
    doc: "`required` (default) or `optional` verify the certificate; `none` does not (CERT_* too)",
    parse: (value, _spelling, fail) =>
      (typeof value === "string" ? CERT_REQS[value.trim().toLowerCase()] : undefined) ??
        fail('"required", "optional", "none" or CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE'),
  },
  sslCaCerts: { kind: "string", doc: "A PEM file of CA certificates to trust" },
  sslCertfile: { kind: "string", doc: "A PEM file of the client certificate" },
  sslKeyfile: { kind: "string", doc: "A PEM file of the client key" },
  sslCheckHostname: {
    kind: "boolean",
    doc: "Verify the host name (always, while the certificate is verified)",
  },
});

/** What a connection reads from its URL's query. */
export type ConnectionUrlOptions = OptionValues<typeof CONNECTION_URL_OPTIONS.options>;

const CONNECTION_KEYS: ReadonlySet<string> = new Set(
  Object.entries(CONNECTION_URL_OPTIONS.options).map(([name, spec]) => kombuName(name, spec)),
);

/**
 * Splits a URL's query into the connection's options and the transport's.
 *
 * @param query the URL's query, as written
 * @returns the connection's options (read) and the rest (as written)
 * @throws {ConfigurationError} for an invalid value of a connection option
 */
export function splitQuery(
  query: Readonly<Record<string, string>>,
): { connection: ConnectionUrlOptions; transport: Record<string, string> } {
  const own: Record<string, string> = {};
  const transport: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    if (CONNECTION_KEYS.has(key)) own[key] = value;
    else transport[key] = value;
  }
  return { connection: readOptions(CONNECTION_URL_OPTIONS, { queryOptions: own }), transport };
}

/**
 * The TLS options of Kombu's `ssl_*` URL keys, or undefined when there are none.
 *
 * @param o the connection's URL options
 * @returns TLS options (files are read when connecting)
 * @throws {ConfigurationError} for `ssl_check_hostname=false` while the certificate is verified
 */
export function urlTlsOptions(o: ConnectionUrlOptions): TlsOptions | undefined {
  if (
    o.sslCertReqs === undefined && o.sslCaCerts === undefined && o.sslCertfile === undefined &&
    o.sslKeyfile === undefined && o.sslCheckHostname === undefined
  ) return undefined;
  const tls: TlsOptions = {};
  if (o.sslCertReqs === "none") tls.rejectUnauthorized = false;
  if (o.sslCheckHostname === false && tls.rejectUnauthorized !== false) {
    throw new ConfigurationError(
      'Cannot use connection option "ssl_check_hostname" (in the URL) = false: wakame verifies ' +
        "the host name whenever it verifies the certificate; ssl_cert_reqs=none skips both",
    );
  }
  if (o.sslCaCerts !== undefined) tls.caFile = o.sslCaCerts;
  if (o.sslCertfile !== undefined) tls.certFile = o.sslCertfile;
  if (o.sslKeyfile !== undefined) tls.keyFile = o.sslKeyfile;
  return tls;
}
