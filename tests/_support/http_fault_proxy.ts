/**
 * An HTTP proxy on loopback in front of an emulator (fauxqs, Azurite) that fails requests as a
 * test tells it: a 500 without forwarding, a connection reset before forwarding, a reset in the
 * middle of the answer's body after the emulator did the work (the answer is lost, the effect is
 * not), or a canned answer (an expired receipt). A `policy` picks the fault per request.
 *
 * ```ts ignore
 * const proxy = await HttpFaultProxy.start(emulator.url);
 * proxy.policy = (r) => r.action === "SendMessage" ? "resetMidBody" : "pass";
 * new Connection("sqs://", { transportOptions: { endpoint: proxy.url } });
 * ```
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the policy sees it. */
export interface ProxiedRequest {
  method: string;
  /** Path and query. */
  path: string;
  /** SQS's action (`X-Amz-Target: AmazonSQS.SendMessage` gives `SendMessage`), or an Azure
   * operation named from the method and path: `PutMessage`, `GetMessages`, `DeleteMessage`,
   * `UpdateMessage`, else `Other`. */
  action: string;
}

/** What to do with a request. */
export type HttpFault =
  | "pass"
  | "status500"
  | "resetBefore"
  | "resetMidBody"
  | { status: number; headers?: Record<string, string>; body: string };

/** Names an Azure Storage Queues operation from its method and path. */
function azureAction(method: string, path: string): string {
  const bare = path.split("?")[0];
  if (/\/messages$/.test(bare)) return method === "POST" ? "PutMessage" : "GetMessages";
  if (/\/messages\/[^/]+$/.test(bare)) {
    return method === "DELETE" ? "DeleteMessage" : method === "PUT" ? "UpdateMessage" : "Other";
  }
  return "Other";
}

/** The proxy. */
export class HttpFaultProxy {
  /** Its base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Decides each request's fault (default: pass everything). */
  policy: (request: ProxiedRequest) => HttpFault = () => "pass";
  /** How many requests got each fault (`pass` included), by `action fault`. */
  readonly counts = new Map<string, number>();
  readonly #server: http.Server;
  readonly #target: URL;

  private constructor(server: http.Server, target: URL) {
    this.#server = server;
    this.#target = target;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /**
   * Starts a proxy to `target` (an emulator's base URL) on a free loopback port.
   *
   * @param target such as `http://127.0.0.1:40123`
   * @returns the running proxy
   */
  static async start(target: string): Promise<HttpFaultProxy> {
    const server = http.createServer();
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const proxy = new HttpFaultProxy(server, new URL(target));
    server.on("request", (req, res) => proxy.#handle(req, res));
    return proxy;
  }

  /** Faults of one kind so far, summed over actions (or of one action). */
  count(fault: string, action?: string): number {
    let total = 0;
    for (const [key, n] of this.counts) {
      const [a, f] = key.split(" ");
      if (f === fault && (action === undefined || a === action)) total += n;
    }
    return total;
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const target = req.headers["x-amz-target"];
    const action = typeof target === "string"
      ? target.split(".").pop()!
      : azureAction(method, path);
    const fault = this.policy({ method, path, action });
    const kind = typeof fault === "string" ? fault : `status${fault.status}`;
    this.counts.set(`${action} ${kind}`, (this.counts.get(`${action} ${kind}`) ?? 0) + 1);
    if (fault === "resetBefore") {
      req.socket.destroy();
      return;
    }
    if (fault === "status500") {
      req.resume();
      res.writeHead(500, { "content-type": "text/plain" }).end("injected failure");
      return;
    }
    if (typeof fault === "object") {
      req.resume();
      res.writeHead(fault.status, fault.headers ?? {}).end(fault.body);
      return;
    }
    const upstream = http.request({
      host: this.#target.hostname,
      port: this.#target.port,
      method,
      path,
      headers: { ...req.headers, host: this.#target.host },
    }, (answer) => {
      if (fault === "resetMidBody") {
        // The emulator did the work; the client gets the headers and half the body, then a reset.
        const chunks: Uint8Array[] = [];
        answer.on("data", (c: Uint8Array) => chunks.push(c));
        answer.on("end", () => {
          const body = Buffer.concat(chunks);
          res.writeHead(answer.statusCode ?? 502, {
            ...answer.headers,
            "content-length": String(body.length),
          });
          res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
        });
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => req.socket.destroy());
    req.pipe(upstream);
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
