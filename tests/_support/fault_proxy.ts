/**
 * A TCP proxy on loopback that a test can cut and restore, to simulate a broker outage without
 * stopping the broker: `cut()` resets every open connection and every new one (as a broker that
 * went away would), `restore()` lets connections through again. Runs on Deno, Bun and Node
 * (`node:net`).
 *
 * ```ts
 * const proxy = await FaultProxy.start("127.0.0.1", 5672);
 * const conn = new Connection(`amqp://guest:guest@127.0.0.1:${proxy.port}//`);
 * proxy.cut();      // the connection is lost; reconnects are refused
 * proxy.restore();  // reconnects get through
 * proxy.blackhole(); // bytes vanish both ways, nothing is closed (a dead route)
 * proxy.restore();  // the black-holed connections are reset; new ones get through
 * proxy.corruptNext(bytes); // the broker's next chunk to each connection comes after `bytes`
 * await proxy.close();
 * ```
 */
import net from "node:net";

export class FaultProxy {
  readonly port: number;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #down = false;
  #hole = false;
  /** Bytes to put before the next chunk the broker sends each open connection. */
  #corruption: Uint8Array | undefined;
  /** Client sockets (the side the proxy accepted). */
  readonly #clients = new Set<net.Socket>();
  /** Client sockets whose next chunk from the broker gets {@link #corruption} before it. */
  readonly #pendingCorruption = new Set<net.Socket>();
  /** Connections that lost bytes to the black hole: reset on {@link restore}. */
  readonly #holed = new Set<net.Socket>();
  /** Connections refused while cut. */
  refused = 0;
  /** Connections let through. */
  accepted = 0;

  private constructor(server: net.Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /**
   * Starts a proxy to `host:port` on an ephemeral loopback port.
   *
   * @param host the broker's host
   * @param port the broker's port
   * @returns the running proxy
   */
  static async start(host: string, port: number): Promise<FaultProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const proxy = new FaultProxy(server, (server.address() as net.AddressInfo).port);
    server.on("connection", (client: net.Socket) => proxy.#accept(client, host, port));
    return proxy;
  }

  /** True while cut. */
  get down(): boolean {
    return this.#down;
  }

  #accept(client: net.Socket, host: string, port: number): void {
    if (this.#down) {
      this.refused++;
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = net.connect(port, host);
    this.#sockets.add(client).add(upstream);
    this.#clients.add(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      for (const s of [client, upstream]) {
        this.#sockets.delete(s);
        this.#holed.delete(s);
      }
      this.#clients.delete(client);
      this.#pendingCorruption.delete(client);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    // Forwarded by hand, so that the black hole can swallow bytes without closing anything.
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on("data", (chunk: Uint8Array) => {
        if (from === upstream && this.#corruption && this.#pendingCorruption.has(client)) {
          this.#pendingCorruption.delete(client);
          to.write(this.#corruption);
        }
        if (this.#hole) this.#holed.add(from);
        else if (this.#holed.has(from)) return; // its stream lost bytes: never resumes
        else if (!to.write(chunk)) {
          from.pause();
          to.once("drain", () => from.resume());
        }
      });
    forward(client, upstream);
    forward(upstream, client);
  }

  /**
   * Puts `bytes` in front of the next chunk the broker sends each connection open now (where a
   * reply or frame most likely begins): a broker that answers with malformed bytes.
   */
  corruptNext(bytes: Uint8Array): void {
    this.#corruption = bytes;
    for (const client of this.#clients) this.#pendingCorruption.add(client);
  }

  /** Swallows every byte both ways (a dead route): no reset, no close, until {@link restore}. */
  blackhole(): void {
    this.#hole = true;
  }

  /** Resets every open connection and refuses new ones until {@link restore}. */
  cut(): void {
    this.#down = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /**
   * Lets connections through again. Connections that lost bytes to the black hole are reset (a
   * stream with a gap cannot go on).
   */
  restore(): void {
    this.#down = false;
    this.#hole = false;
    for (const socket of this.#holed) socket.destroy();
    this.#holed.clear();
  }

  /** Cuts every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
