/**
 * An HTTP handler for the AWS SDK that sends every request with `fetch` (the injectable one of
 * the transport), so the SDK runs alike on Deno, Bun, Node and workerd, and tests can stand a
 * fake service in for SQS.
 *
 * @module
 */

/** The request shape the SDK hands to its HTTP handler (`@smithy/protocol-http`'s HttpRequest). */
export interface SdkHttpRequest {
  /** HTTP method. */
  method: string;
  /** `http:` or `https:`. */
  protocol: string;
  /** Host name. */
  hostname: string;
  /** Port, if not the default. */
  port?: number;
  /** Path. */
  path: string;
  /** Query parameters. */
  query?: Record<string, string | string[] | null>;
  /** Signed headers. */
  headers: Record<string, string>;
  /** Body. */
  body?: unknown;
  /** Fragment. */
  fragment?: string;
}

/** The response shape the SDK expects back. */
export interface SdkHttpResponse {
  /** HTTP status. */
  statusCode: number;
  /** Status text. */
  reason?: string;
  /** Response headers, lowercase names. */
  headers: Record<string, string>;
  /** The whole body. */
  body: Uint8Array;
}

/** A `fetch` function (the global one, or a test double). */
export type FetchFunction = (input: Request) => Promise<Response>;

/** Headers `fetch` sets itself and refuses (or ignores) from callers. */
const SKIPPED_HEADERS = new Set(["host", "content-length", "connection", "expect"]);

/** Builds the URL of an SDK request. */
export function sdkRequestUrl(request: SdkHttpRequest): string {
  const port = request.port ? `:${request.port}` : "";
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(request.query ?? {})) {
    if (value === null) search.append(key, "");
    else if (Array.isArray(value)) { for (const v of value) search.append(key, v); }
    else search.append(key, value);
  }
  const query = search.toString();
  const path = request.path.startsWith("/") ? request.path : `/${request.path}`;
  return `${request.protocol}//${request.hostname}${port}${path}${query ? `?${query}` : ""}`;
}

/**
 * The SDK's `requestHandler`, over `fetch`.
 *
 * @example
 * ```ts ignore
 * import { SQSClient } from "@aws-sdk/client-sqs";
 * const client = new SQSClient({ requestHandler: new FetchRequestHandler(fetch) });
 * ```
 */
export class FetchRequestHandler {
  readonly #fetch: FetchFunction;

  /**
   * Makes a handler.
   *
   * @param fetchFunction the `fetch` to send requests with
   */
  constructor(fetchFunction: FetchFunction) {
    this.#fetch = fetchFunction;
  }

  /** Nothing to tune: the SDK calls it when it builds its configuration. */
  updateHttpClientConfig(): void {}

  /** No settings of our own. */
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  /** Nothing to release. */
  destroy(): void {}

  /**
   * Sends one request.
   *
   * @param request the signed request
   * @param options the SDK's abort signal
   * @returns the response, body read in full
   */
  async handle(
    request: SdkHttpRequest,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<{ response: SdkHttpResponse }> {
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (!SKIPPED_HEADERS.has(name.toLowerCase())) headers.set(name, value);
    }
    const body = request.body === undefined || request.body === null
      ? undefined
      : request.body as BodyInit;
    const init: RequestInit = { method: request.method, headers, body };
    if (options.abortSignal) init.signal = options.abortSignal as AbortSignal;
    const response = await this.#fetch(new Request(sdkRequestUrl(request), init));
    const bytes = new Uint8Array(await response.arrayBuffer());
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => (out[name] = value));
    return {
      response: {
        statusCode: response.status,
        reason: response.statusText,
        headers: out,
        body: bytes,
      },
    };
  }
}
