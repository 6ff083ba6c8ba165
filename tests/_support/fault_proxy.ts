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
 * await proxy.close();
 * ```
 */
import net from "node:net";

export class FaultProxy {
  readonly port: number;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #down = false;
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
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Resets every open connection and refuses new ones until {@link restore}. */
  cut(): void {
    this.#down = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** Lets connections through again. */
  restore(): void {
    this.#down = false;
  }

  /** Cuts every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
