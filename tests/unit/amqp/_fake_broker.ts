/**
 * A scripted AMQP broker on 127.0.0.1 for the malformed-input tests: it runs the handshake,
 * answers channel.open, records what the client sends (decoded with the generic codec), and
 * lets a test inject any bytes.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { Decoder, Writer } from "../../../transports/amqp/codec/buffer.ts";
import { FrameReader } from "../../../transports/amqp/codec/frame.ts";
import {
  decodeMethod,
  encodeMethodFrame,
  type MethodArgs,
  type MethodDef,
  METHODS,
} from "../../../transports/amqp/codec/methods.ts";
import { decodeHeader, encodeHeaderFrame } from "../../../transports/amqp/codec/properties.ts";
import type { MessageProperties } from "../../../src/transport.ts";

/** One frame the client sent, decoded. */
export interface Received {
  channel: number;
  type: number;
  method?: string;
  args?: MethodArgs;
  properties?: MessageProperties;
  bodySize?: number;
  body?: Uint8Array;
}

/** Handshake settings of the fake broker. */
export interface FakeBrokerOptions {
  frameMax?: number;
  channelMax?: number;
  heartbeat?: number;
  /** Reply to start-ok with this connection.close (replyCode, replyText) instead of tune. */
  refuseLogin?: [number, string];
  /** Answer the protocol header with raw bytes instead of connection.start. */
  greeting?: Uint8Array;
  mechanisms?: string;
  /** Send a heartbeat frame to each client this often (ms) after connection.open. */
  heartbeatEvery?: number;
  /** Serve TLS with this certificate and key. */
  tls?: { cert: string; key: string };
}

/** The broker side of one client connection. */
export class FakeClient {
  readonly socket: net.Socket;
  readonly received: Received[] = [];
  #waiters: { match: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  /** Called for each method after the handshake; return true when handled. */
  onMethod: ((r: Received) => boolean) | undefined;

  constructor(socket: net.Socket) {
    this.socket = socket;
  }

  /** Sends raw bytes. */
  send(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Sends one method frame. */
  sendMethod(channel: number, def: MethodDef, args: Partial<MethodArgs> = {}): void {
    const w = new Writer(64);
    encodeMethodFrame(w, channel, def, args);
    this.send(w.buf.slice(0, w.pos));
  }

  /** Sends a content header and one body frame. */
  sendContent(channel: number, properties: MessageProperties, body: Uint8Array): void {
    const w = new Writer(64);
    encodeHeaderFrame(w, channel, body.length, properties);
    if (body.length > 0) {
      w.ensure(8 + body.length);
      w.u8(3);
      w.u16(channel);
      w.u32(body.length);
      w.bytes(body);
      w.u8(0xce);
    }
    this.send(w.buf.slice(0, w.pos));
  }

  /** Waits for the first received frame (past or future) that matches. */
  next(match: string | ((r: Received) => boolean)): Promise<Received> {
    const test = typeof match === "string" ? (r: Received) => r.method === match : match;
    const seen = this.received.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match: test, resolve }));
  }

  /** How many received methods have this name. */
  count(method: string): number {
    return this.received.filter((r) => r.method === method).length;
  }

  record(r: Received): void {
    this.received.push(r);
    for (const w of [...this.#waiters]) {
      if (w.match(r)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(r);
      }
    }
  }
}

/** A fake broker listening on 127.0.0.1 (random port). */
export class FakeBroker {
  readonly server: net.Server;
  readonly clients: FakeClient[] = [];
  #options: FakeBrokerOptions;
  #waiting: ((c: FakeClient) => void)[] = [];

  private constructor(options: FakeBrokerOptions) {
    this.#options = options;
    this.server = options.tls
      ? tls.createServer(options.tls, (socket) => this.#accept(socket))
      : net.createServer((socket) => this.#accept(socket));
  }

  /** Starts a broker. */
  static async start(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
    const broker = new FakeBroker(options);
    await new Promise<void>((resolve) => broker.server.listen(0, "127.0.0.1", resolve));
    return broker;
  }

  /** The port it listens on. */
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The next client to finish connection.open (or the current one). */
  client(): Promise<FakeClient> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Stops listening and drops every client. */
  async close(): Promise<void> {
    for (const c of this.clients) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    const o = this.#options;
    const client = new FakeClient(socket);
    this.clients.push(client);
    socket.on("error", () => {});
    let header = 0;
    let pending: Received | undefined;
    const reader = new FrameReader((type, channel, bytes, start, size) => {
      const d = new Decoder().reset(bytes, start, start + size);
      if (type === 1) {
        const m = decodeMethod(d);
        const r: Received = { channel, type, method: m.def.name, args: m.args };
        this.#handle(client, r);
      } else if (type === 2) {
        const h = decodeHeader(d);
        pending = { channel, type, properties: h.properties, bodySize: h.bodySize };
        if (h.bodySize === 0) client.record({ ...pending, body: new Uint8Array(0) });
      } else if (type === 3 && pending) {
        client.record({ ...pending, body: bytes.slice(start, start + size) });
      } else if (type === 8) {
        client.record({ channel, type });
      }
    }, 1 << 20);
    socket.on("data", (chunk: Uint8Array) => {
      let data = chunk;
      if (header < 8) {
        const n = Math.min(8 - header, data.length);
        header += n;
        data = data.subarray(n);
        if (header === 8) {
          if (o.greeting) {
            client.send(o.greeting);
            socket.end();
            return;
          }
          client.sendMethod(0, METHODS.connectionStart, {
            versionMajor: 0,
            versionMinor: 9,
            serverProperties: { product: "fake" },
            mechanisms: o.mechanisms ?? "PLAIN AMQPLAIN",
            locales: "en_US",
          });
        }
      }
      if (data.length > 0) {
        try {
          reader.push(data);
        } catch {
          socket.destroy();
        }
      }
    });
  }

  #handle(client: FakeClient, r: Received): void {
    const o = this.#options;
    client.record(r);
    switch (r.method) {
      case "connection.start-ok":
        if (o.refuseLogin) {
          client.sendMethod(0, METHODS.connectionClose, {
            replyCode: o.refuseLogin[0],
            replyText: o.refuseLogin[1],
          });
        } else {
          client.sendMethod(0, METHODS.connectionTune, {
            channelMax: o.channelMax ?? 16,
            frameMax: o.frameMax ?? 4096,
            heartbeat: o.heartbeat ?? 0,
          });
        }
        return;
      case "connection.open":
        client.sendMethod(0, METHODS.connectionOpenOk);
        if (o.heartbeatEvery) {
          const timer = setInterval(
            () => client.send(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0xce])),
            o.heartbeatEvery,
          );
          client.socket.once("close", () => clearInterval(timer));
        }
        for (const w of this.#waiting.splice(0)) w(client);
        return;
      case "connection.close":
        client.sendMethod(0, METHODS.connectionCloseOk);
        client.socket.end();
        return;
      case "connection.tune-ok":
      case "connection.close-ok":
        return;
    }
    if (client.onMethod?.(r)) return;
    switch (r.method) {
      case "channel.open":
        client.sendMethod(r.channel, METHODS.channelOpenOk);
        return;
      case "channel.close":
        client.sendMethod(r.channel, METHODS.channelCloseOk);
        return;
      case "confirm.select":
        client.sendMethod(r.channel, METHODS.confirmSelectOk);
        return;
      case "queue.declare":
        client.sendMethod(r.channel, METHODS.queueDeclareOk, {
          queue: r.args!.queue as string,
          messageCount: 0,
          consumerCount: 0,
        });
        return;
      case "basic.consume":
        client.sendMethod(r.channel, METHODS.basicConsumeOk, {
          consumerTag: (r.args!.consumerTag as string) || "ctag-1",
        });
        return;
      case "basic.qos":
        client.sendMethod(r.channel, METHODS.basicQosOk);
        return;
    }
  }
}
