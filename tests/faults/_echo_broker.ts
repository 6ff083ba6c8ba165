/**
 * A fake AMQP broker (tests/unit/amqp/_fake_broker.ts) that routes as one queue would: each
 * message published is confirmed and delivered to a consumer (kept until one comes); what a
 * connection that went away held unacknowledged is delivered again, flagged redelivered. The
 * fault scenarios block it (`connection.blocked`: confirms and deliveries held, as RabbitMQ under
 * a memory alarm stops reading publishers) and feed it malformed frames.
 */
import { FakeBroker, type FakeClient, type Received } from "../unit/amqp/_fake_broker.ts";
import { METHODS } from "../../transports/amqp/codec/methods.ts";
import type { MessageProperties } from "../../src/transport.ts";

/** A message in the queue. */
interface Queued {
  properties: MessageProperties;
  body: Uint8Array;
  redelivered: boolean;
}

/** One client's routing state. */
class Route {
  readonly client: FakeClient;
  readonly #queue: Queued[];
  readonly #routes: Route[];
  blocked = false;
  #consumer: { channel: number; tag: string } | undefined;
  #published: { method?: Received; channel: number } | undefined;
  readonly #held: (() => void)[] = [];
  readonly #confirmTags = new Map<number, number>();
  #deliveryTag = 0;
  /** Unacknowledged deliveries by tag (delivered again when the connection goes). */
  readonly unacked = new Map<number, Queued>();

  constructor(client: FakeClient, queue: Queued[], routes: Route[]) {
    this.client = client;
    this.#queue = queue;
    this.#routes = routes;
    client.socket.once("close", () => {
      this.#consumer = undefined;
      for (const m of this.unacked.values()) this.#queue.push({ ...m, redelivered: true });
      this.unacked.clear();
      flush(this.#routes, this.#queue);
    });
    const record = client.record.bind(client);
    client.record = (r: Received) => {
      record(r);
      this.#route(r);
    };
    client.onMethod = (r) => {
      if (r.method !== "basic.cancel") return false;
      this.#consumer = undefined;
      client.sendMethod(r.channel, METHODS.basicCancelOk, { consumerTag: r.args!.consumerTag });
      return true;
    };
  }

  #route(r: Received): void {
    if (r.method === "basic.consume") {
      this.#consumer = {
        channel: r.channel,
        tag: (r.args!.consumerTag as string) || "ctag-1",
      };
      // After its consume-ok (the fake broker answers once this returns).
      queueMicrotask(() => flush(this.#routes, this.#queue));
    } else if (r.method === "basic.publish") {
      this.#published = { method: r, channel: r.channel };
    } else if (r.method === "basic.ack" && this.#consumer && r.channel === this.#consumer.channel) {
      const tag = Number(r.args!.deliveryTag);
      if (r.args!.multiple) {
        for (const t of [...this.unacked.keys()]) if (t <= tag) this.unacked.delete(t);
      } else this.unacked.delete(tag);
    } else if (r.method === undefined && r.body !== undefined) {
      // A whole message: the fake broker records it once its body arrived.
      const publish = this.#published;
      if (!publish) return;
      this.#published = undefined;
      const work = () => this.#confirmAndDeliver(publish.channel, r.properties ?? {}, r.body!);
      if (this.blocked) this.#held.push(work);
      else work();
    }
  }

  #confirmAndDeliver(channel: number, properties: MessageProperties, body: Uint8Array): void {
    const tag = (this.#confirmTags.get(channel) ?? 0) + 1;
    this.#confirmTags.set(channel, tag);
    this.client.sendMethod(channel, METHODS.basicAck, { deliveryTag: tag, multiple: false });
    this.#queue.push({ properties, body, redelivered: false });
    flush(this.#routes, this.#queue);
  }

  /** Delivers `message` to this connection's consumer; false when it has none or is gone. */
  deliver(message: Queued): boolean {
    const consumer = this.#consumer;
    if (!consumer || this.client.socket.destroyed || this.blocked) return false;
    const deliveryTag = ++this.#deliveryTag;
    this.unacked.set(deliveryTag, message);
    this.client.sendMethod(consumer.channel, METHODS.basicDeliver, {
      consumerTag: consumer.tag,
      deliveryTag,
      redelivered: message.redelivered,
      exchange: "",
      routingKey: "q",
    });
    this.client.sendContent(consumer.channel, message.properties, message.body);
    return true;
  }

  /** Sends connection.blocked; holds confirms and deliveries until {@link unblock}. */
  block(reason: string): void {
    this.blocked = true;
    this.client.sendMethod(0, METHODS.connectionBlocked, { reason });
  }

  /** Sends connection.unblocked and lets what it held through. */
  unblock(): void {
    this.blocked = false;
    this.client.sendMethod(0, METHODS.connectionUnblocked);
    for (const work of this.#held.splice(0)) work();
  }
}

/** Hands the queue's messages to the newest connection with a consumer. */
function flush(routes: Route[], queue: Queued[]): void {
  while (queue.length > 0) {
    if (!routes.findLast((r) => r.deliver(queue[0]))) return;
    queue.shift();
  }
}

/** The echo broker. */
export class EchoBroker {
  readonly broker: FakeBroker;
  /** One route per client connection, the newest last. */
  readonly routes: Route[] = [];
  /** Messages no consumer took yet. */
  readonly queue: Queued[] = [];

  private constructor(broker: FakeBroker) {
    this.broker = broker;
  }

  /** Starts one on a free loopback port. */
  static async start(): Promise<EchoBroker> {
    const echo = new EchoBroker(await FakeBroker.start({ frameMax: 131072 }));
    const watch = () =>
      void echo.broker.client().then((client) => {
        echo.routes.push(new Route(client, echo.queue, echo.routes));
        watch();
      });
    watch();
    return echo;
  }

  /** Its port. */
  get port(): number {
    return this.broker.port;
  }

  /** Waits for a client's route (the `index`-th connection). */
  async route(index = 0): Promise<Route> {
    for (let i = 0; i < 500 && this.routes.length <= index; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (this.routes.length <= index) throw new Error(`no connection #${index} came`);
    return this.routes[index];
  }

  /** Stops it. */
  close(): Promise<void> {
    return this.broker.close();
  }
}
