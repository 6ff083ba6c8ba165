/**
 * A small client of etcd's v2 keys API (`/v2/keys/...`, JSON over HTTP): what python-etcd's
 * `Client` does for Kombu, over `fetch`, so it runs wherever `fetch` does (Deno, Bun, Node,
 * Cloudflare Workers).
 *
 * @module
 */

import { HttpError, OperationalError } from "../../src/errors.ts";
import { isNetworkFailure, isRetryableStatus, withBackoff } from "../_http/backoff.ts";

/** The `fetch` the client sends with. */
export type EtcdFetch = (input: Request) => Promise<Response>;

/** etcd's v2 error codes the transport acts on. */
export const ETCD_ERROR = {
  /** The key does not exist. */
  keyNotFound: 100,
  /** A compare-and-swap or compare-and-delete condition failed. */
  testFailed: 101,
  /** The key is a directory where a value was expected (or the reverse). */
  notFile: 102,
  /** The key exists (`prevExist=false`). */
  nodeExist: 105,
  /** The watch index is older than the event history (1000 events). */
  eventIndexCleared: 401,
} as const;

/** A node of the v2 keys API. */
export interface EtcdNode {
  /** Full key, `/kombu/queue/00000000000000000042`. */
  readonly key: string;
  /** The value (absent on directories). */
  readonly value?: string;
  /** True for a directory. */
  readonly dir?: boolean;
  /** Children of a directory read with `recursive` or its first level. */
  readonly nodes?: EtcdNode[];
  /** Index of the last change. */
  readonly modifiedIndex: number;
  /** Index of the creation (the name of an in-order key). */
  readonly createdIndex: number;
}

/** An answer of the keys API. */
export interface EtcdResult {
  /** `get`, `create`, `set`, `delete`, `compareAndSwap`, `compareAndDelete`, `expire`... */
  readonly action: string;
  /** The node acted on. */
  readonly node: EtcdNode;
  /** The node before a change, when there was one. */
  readonly prevNode?: EtcdNode;
  /** The store's index when it answered (`X-Etcd-Index`). */
  readonly index: number;
}

/** An error answer of the keys API (`{ errorCode, message, cause, index }`). */
export class EtcdError extends HttpError {
  /** etcd's error code (see {@link ETCD_ERROR}). */
  readonly errorCode: number;
  /** The store's index when it answered. */
  readonly index: number;

  /**
   * Makes the error of an etcd answer.
   *
   * @param message what failed
   * @param status the HTTP status
   * @param errorCode etcd's code
   * @param index the store's index
   */
  constructor(message: string, status: number, errorCode: number, index: number) {
    super(message, { status, code: String(errorCode) });
    this.name = "EtcdError";
    this.errorCode = errorCode;
    this.index = index;
  }
}

/**
 * Tells whether `error` is an etcd answer with one of `codes`.
 *
 * @param error what was thrown
 * @param codes the codes looked for
 * @returns true when it is
 */
export function isEtcdError(error: unknown, ...codes: number[]): error is EtcdError {
  return error instanceof EtcdError && codes.includes(error.errorCode);
}

/** How the client reaches etcd. */
export interface EtcdClientSettings {
  /** `http://host:port`, no trailing slash. */
  readonly baseUrl: string;
  /** The `fetch` to use (default: the global one). */
  readonly fetch?: EtcdFetch;
  /** Milliseconds a request other than a watch may take. */
  readonly requestTimeout: number;
  /** Attempts of a read, first included, when etcd cannot be reached or answers 5xx. */
  readonly attempts: number;
  /** Basic credentials from the URL, if any. */
  readonly auth?: { readonly user: string; readonly password: string };
}

/** Parameters of one request (etcd's query and form fields). */
export type EtcdParams = Record<string, string | number | boolean | undefined>;

/**
 * Turns a key into the URL path of the keys API: every segment percent-encoded, `/` kept.
 *
 * @param key the key, with or without the leading `/`
 * @returns `/v2/keys/...`
 */
export function keyPath(key: string): string {
  const segments = key.split("/").filter((s) => s !== "");
  return `/v2/keys/${segments.map(encodeURIComponent).join("/")}`;
}

function form(params: EtcdParams): string {
  const out = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) out.set(name, String(value));
  }
  return out.toString();
}

/** The v2 keys API over `fetch`. */
export class EtcdClient {
  readonly #settings: EtcdClientSettings;
  readonly #fetch: EtcdFetch;
  readonly #authorization?: string;

  /**
   * Makes a client.
   *
   * @param settings where etcd is and how long to wait
   */
  constructor(settings: EtcdClientSettings) {
    this.#settings = settings;
    this.#fetch = settings.fetch ?? ((request) => fetch(request));
    if (settings.auth) {
      const raw = `${settings.auth.user}:${settings.auth.password}`;
      this.#authorization = `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(raw)))}`;
    }
  }

  /**
   * Reads a key (GET); a directory with its children.
   *
   * @param key the key
   * @param params `recursive`, `sorted`, `wait`, `waitIndex`...
   * @param signal cancels the read (a watch waits until it or an event comes)
   * @returns the answer
   * @throws {EtcdError} for an error answer (100: no such key)
   */
  get(key: string, params: EtcdParams = {}, signal?: AbortSignal): Promise<EtcdResult> {
    const watch = params.wait === true;
    const run = () => this.#send("GET", key, params, watch ? undefined : signal, signal);
    if (watch) return run();
    return withBackoff(run, (error) => this.#retryable(error) ? "ambiguous" : "fatal", {
      attempts: this.#settings.attempts,
      signal,
    });
  }

  /**
   * Writes a key (PUT): `value`, `dir`, `ttl`, `prevExist`, `prevIndex`, `refresh`.
   *
   * @param key the key
   * @param params the form fields
   * @returns the answer
   * @throws {EtcdError} for an error answer (105: exists, 101: condition failed)
   */
  put(key: string, params: EtcdParams): Promise<EtcdResult> {
    return this.#send("PUT", key, params);
  }

  /**
   * Creates an in-order key under a directory (POST): its name is the creation index,
   * 20 digits, so names sort in order of creation.
   *
   * @param dir the directory
   * @param value the value
   * @returns the answer (`node.key` is the new key)
   * @throws {EtcdError} for an error answer
   */
  append(dir: string, value: string): Promise<EtcdResult> {
    return this.#send("POST", dir, { value });
  }

  /**
   * Deletes a key (DELETE): `prevIndex`, `prevValue`, `recursive`, `dir`.
   *
   * @param key the key
   * @param params the conditions
   * @returns the answer
   * @throws {EtcdError} for an error answer (100: gone, 101: condition failed)
   */
  delete(key: string, params: EtcdParams = {}): Promise<EtcdResult> {
    return this.#send("DELETE", key, params);
  }

  #retryable(error: unknown): boolean {
    if (error instanceof EtcdError) return false;
    if (error instanceof HttpError) return isRetryableStatus(error.status);
    return error instanceof OperationalError && error.cause !== undefined &&
      isNetworkFailure(error.cause);
  }

  async #send(
    method: string,
    key: string,
    params: EtcdParams,
    timed?: AbortSignal,
    untimed?: AbortSignal,
  ): Promise<EtcdResult> {
    const watch = params.wait === true;
    let url = this.#settings.baseUrl + keyPath(key);
    const headers = new Headers();
    if (this.#authorization) headers.set("authorization", this.#authorization);
    let body: string | undefined;
    if (method === "GET" || method === "DELETE") {
      const query = form(params);
      if (query) url += `?${query}`;
    } else {
      body = form(params);
      headers.set("content-type", "application/x-www-form-urlencoded");
    }
    const signals = [watch ? untimed : timed].filter((s): s is AbortSignal => s !== undefined);
    if (!watch) signals.push(AbortSignal.timeout(this.#settings.requestTimeout));
    const signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    let response: Response;
    try {
      response = await this.#fetch(new Request(url, { method, headers, body, signal }));
    } catch (error) {
      throw new OperationalError(`Cannot reach etcd for ${method} "${key}"`, { cause: error });
    }
    const text = await response.text().catch((error) => {
      throw new OperationalError(`Cannot read etcd's answer to ${method} "${key}"`, {
        cause: error,
      });
    });
    const index = Number(response.headers.get("x-etcd-index") ?? NaN);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text);
    } catch {
      throw new HttpError(
        `etcd answered ${method} "${key}" with HTTP ${response.status} and no JSON`,
        { status: response.status },
      );
    }
    if (typeof json.errorCode === "number") {
      throw new EtcdError(
        `etcd refused ${method} "${key}": ${json.message} (${json.errorCode}, ${json.cause})`,
        response.status,
        json.errorCode,
        Number(json.index ?? index),
      );
    }
    if (!response.ok) {
      throw new HttpError(`etcd answered ${method} "${key}" with HTTP ${response.status}`, {
        status: response.status,
      });
    }
    return { ...(json as unknown as EtcdResult), index };
  }
}
