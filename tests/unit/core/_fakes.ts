/**
 * Fakes shared by the core unit tests: a channel that records what the core asks of it, and a
 * transport over `memory://` whose connections fail or die when a test says so.
 */
import { ConnectionError } from "../../../src/errors.ts";
import type {
  BasicPublishOptions,
  Channel,
  ConnectionParams,
  ConsumeHandlers,
  ConsumeOptions,
  Delivery,
  DeliveryTag,
  ExchangeDeclaration,
  FieldTable,
  OutgoingMessage,
  QosOptions,
  QueueDeclaration,
  QueueDeclareOk,
  ReturnedMessage,
  Transport,
  TransportConnection,
} from "../../../src/transport.ts";
import { memoryCapabilities, MemoryTransport } from "../../../transports/memory/mod.ts";

/** One call the core made on a {@link RecordingChannel}. */
export interface Call {
  method: string;
  args: unknown[];
}

/** A published message as it reached the channel. */
export interface Published {
  exchange: string;
  routingKey: string;
  message: OutgoingMessage;
  options: BasicPublishOptions | undefined;
}

/**
 * A {@link Channel} that records every call and delivers only what the test hands it
 * (`deliver()`, `getQueue`).
 */
export class RecordingChannel implements Channel {
  onReturn: ((message: ReturnedMessage) => void) | undefined;
  readonly calls: Call[] = [];
  readonly published: Published[] = [];
  /** Answers of `basicGet`, taken in order. */
  readonly getQueue: Delivery[] = [];
  readonly consumers = new Map<
    string,
    { queue: string; options: ConsumeOptions; handlers: ConsumeHandlers }
  >();
  /** Called inside `basicCancel` before it resolves (to test races). */
  onCancel: ((tag: string) => void) | undefined;
  open = true;
  #tag = 0;

  get isOpen(): boolean {
    return this.open;
  }

  #record(method: string, ...args: unknown[]): void {
    if (!this.open) throw new ConnectionError(`Cannot ${method}: the fake channel is closed`);
    this.calls.push({ method, args });
  }

  /** Names of the recorded methods, in order. */
  methods(): string[] {
    return this.calls.map((c) => c.method);
  }

  exchangeDeclare(exchange: ExchangeDeclaration): Promise<void> {
    this.#record("exchangeDeclare", exchange);
    return Promise.resolve();
  }
  exchangeDelete(name: string, options?: { ifUnused?: boolean }): Promise<void> {
    this.#record("exchangeDelete", name, options);
    return Promise.resolve();
  }
  exchangeBind(
    destination: string,
    source: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void> {
    this.#record("exchangeBind", destination, source, routingKey, args);
    return Promise.resolve();
  }
  exchangeUnbind(
    destination: string,
    source: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void> {
    this.#record("exchangeUnbind", destination, source, routingKey, args);
    return Promise.resolve();
  }
  queueDeclare(queue: QueueDeclaration): Promise<QueueDeclareOk> {
    this.#record("queueDeclare", queue);
    return Promise.resolve({
      queue: queue.name || "amq.gen-fake",
      messageCount: 0,
      consumerCount: 0,
    });
  }
  queueBind(queue: string, exchange: string, routingKey: string, args?: FieldTable): Promise<void> {
    this.#record("queueBind", queue, exchange, routingKey, args);
    return Promise.resolve();
  }
  queueUnbind(
    queue: string,
    exchange: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void> {
    this.#record("queueUnbind", queue, exchange, routingKey, args);
    return Promise.resolve();
  }
  queuePurge(queue: string): Promise<number> {
    this.#record("queuePurge", queue);
    return Promise.resolve(0);
  }
  queueDelete(queue: string, options?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<number> {
    this.#record("queueDelete", queue, options);
    return Promise.resolve(0);
  }
  basicPublish(
    exchange: string,
    routingKey: string,
    message: OutgoingMessage,
    options?: BasicPublishOptions,
  ): Promise<void> {
    this.#record("basicPublish", exchange, routingKey, message, options);
    this.published.push({ exchange, routingKey, message, options });
    return Promise.resolve();
  }
  basicGet(queue: string, options?: { noAck?: boolean }): Promise<Delivery | undefined> {
    this.#record("basicGet", queue, options);
    return Promise.resolve(this.getQueue.shift());
  }
  basicConsume(queue: string, options: ConsumeOptions, handlers: ConsumeHandlers): Promise<string> {
    this.#record("basicConsume", queue, options);
    const tag = options.consumerTag || `fake-${++this.#tag}`;
    this.consumers.set(tag, { queue, options, handlers });
    return Promise.resolve(tag);
  }
  basicCancel(consumerTag: string): Promise<void> {
    this.#record("basicCancel", consumerTag);
    this.onCancel?.(consumerTag);
    this.consumers.delete(consumerTag);
    return Promise.resolve();
  }
  basicAck(deliveryTag: DeliveryTag, multiple?: boolean): Promise<void> {
    this.#record("basicAck", deliveryTag, multiple);
    return Promise.resolve();
  }
  basicReject(deliveryTag: DeliveryTag, requeue: boolean): Promise<void> {
    this.#record("basicReject", deliveryTag, requeue);
    return Promise.resolve();
  }
  basicRecover(requeue?: boolean): Promise<void> {
    this.#record("basicRecover", requeue);
    return Promise.resolve();
  }
  basicQos(options: QosOptions): Promise<void> {
    this.#record("basicQos", options);
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.open = false;
    return Promise.resolve();
  }

  /** Hands a delivery to the consumer of a queue, as a broker would. */
  deliver(queue: string, delivery: Partial<Delivery> & { body: Uint8Array }): void {
    for (const [tag, consumer] of this.consumers) {
      if (consumer.queue !== queue) continue;
      consumer.handlers.onDelivery({
        properties: { contentType: "application/json", contentEncoding: "utf-8" },
        deliveryTag: ++this.#tag,
        exchange: "",
        routingKey: queue,
        redelivered: false,
        consumerTag: tag,
        ...delivery,
      });
      return;
    }
    throw new Error(`no consumer of "${queue}" on the fake channel`);
  }
}

/** A JSON delivery for {@link RecordingChannel.deliver} or `getQueue`. */
export function jsonDelivery(value: unknown, extra: Partial<Delivery> = {}): Delivery {
  return {
    body: new TextEncoder().encode(JSON.stringify(value)),
    properties: { contentType: "application/json", contentEncoding: "utf-8" },
    deliveryTag: 1,
    exchange: "",
    routingKey: "q",
    redelivered: false,
    ...extra,
  };
}

/** A connection of {@link FlakyTransport}: memory:// underneath, lost on demand. */
export class FlakyConnection implements TransportConnection {
  onEvent: TransportConnection["onEvent"];
  readonly closed: Promise<Error | undefined>;
  readonly params: ConnectionParams;
  readonly #inner: TransportConnection;
  #resolve!: (error: Error | undefined) => void;
  #done = false;

  constructor(inner: TransportConnection, params: ConnectionParams) {
    this.#inner = inner;
    this.params = params;
    this.closed = new Promise((resolve) => (this.#resolve = resolve));
  }

  get isClosed(): boolean {
    return this.#done;
  }

  createChannel(): Promise<Channel> {
    if (this.#done) return Promise.reject(new ConnectionError("Cannot open a channel: lost"));
    return this.#inner.createChannel();
  }

  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#inner.close();
    this.#resolve(undefined);
  }

  /** Simulates a lost connection: channels die, unacked messages go back, `closed` fires. */
  async lose(error: Error = new ConnectionError("Connection reset by fake peer")): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#inner.close();
    this.#resolve(error);
  }
}

/** A transport over memory:// whose `connect()` fails as often as the test wants. */
export class FlakyTransport implements Transport {
  readonly name = "flaky";
  readonly capabilities = memoryCapabilities;
  /** Hostnames of every connect() call, in order. */
  readonly attempts: string[] = [];
  readonly connections: FlakyConnection[] = [];
  /** How many of the next connect() calls fail. */
  failures: number;
  /** Hosts that always refuse. */
  readonly down = new Set<string>();
  /** Thrown by a failing connect() (default: a ConnectionError). */
  makeError: (params: ConnectionParams) => Error = (params) =>
    new ConnectionError(`Cannot connect to fake host "${params.hostname}": refused`);

  constructor(failures = 0) {
    this.failures = failures;
  }

  async connect(params: ConnectionParams): Promise<TransportConnection> {
    this.attempts.push(params.hostname);
    if (this.failures > 0 || this.down.has(params.hostname)) {
      if (!this.down.has(params.hostname)) this.failures--;
      throw this.makeError(params);
    }
    // The virtual host keeps each test's queues apart in the shared memory store.
    const inner = await MemoryTransport.connect({ ...params, transport: "memory" });
    const connection = new FlakyConnection(inner, params);
    this.connections.push(connection);
    return connection;
  }

  /** The newest connection. */
  get last(): FlakyConnection {
    const last = this.connections.at(-1);
    if (!last) throw new Error("no connection yet");
    return last;
  }
}

let vhostSerial = 0;

/** A virtual host name no other test uses (memory:// keeps one store per vhost). */
export function uniqueVhost(prefix = "t"): string {
  return `${prefix}-${Date.now().toString(36)}-${++vhostSerial}`;
}

/** Waits until `check()` is true, yielding to the event loop; fails after `max` turns. */
export async function until(check: () => boolean, what: string, max = 2000): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, i < 50 ? 0 : 1));
  }
  throw new Error(`Timed out waiting for ${what}`);
}
