/**
 * The seam between wakame's core and its transports.
 *
 * A transport gives an AMQP-shaped {@link Channel}. The native AMQP transport implements it
 * directly; every other transport gets it from the virtual base (`src/virtual/`) over a plain
 * queue store. What a transport can do is said once, in its {@link Capabilities}.
 *
 * @module
 */

import type { Body } from "./body.ts";

export type { Body } from "./body.ts";

/** The exchange types of AMQP 0-9-1. */
export type ExchangeType = "direct" | "topic" | "fanout" | "headers";

/**
 * An exchange type: AMQP's four, or a broker extension named `x-...` (RabbitMQ's plugins:
 * `x-delayed-message`, `x-consistent-hash`, `x-random`, ...), which only a channel with
 * `anyExchangeType` declares.
 */
export type AnyExchangeType = ExchangeType | `x-${string}`;

/** Field values allowed in headers and x-arguments. */
export type FieldValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | Date
  | Uint8Array
  | FieldValue[]
  | { [key: string]: FieldValue };

/** A table of headers or x-arguments. */
export type FieldTable = Record<string, FieldValue>;

/** AMQP basic properties, in camelCase (Kombu's snake_case exists only on the wire). */
export interface MessageProperties {
  /** MIME type of the serialized body, such as `application/json`. */
  contentType?: string;
  /** Charset of the serialized body (`utf-8`, `binary`). */
  contentEncoding?: string;
  /** Application headers; Kombu puts `compression` here. */
  headers?: FieldTable;
  /** 1 = transient, 2 = persistent. Kombu always sends it (default 2). */
  deliveryMode?: number;
  /** 0..255 on AMQP; 0..9 elsewhere. Kombu always sends it (default 0). */
  priority?: number;
  /** Correlates a reply with its request. */
  correlationId?: string;
  /** Queue name a reply should go to. */
  replyTo?: string;
  /** Per-message TTL as a string of milliseconds (the AMQP form). */
  expiration?: string;
  /** Application message id. */
  messageId?: string;
  /** Seconds since the epoch. */
  timestamp?: number;
  /** Application message type. */
  type?: string;
  /** Id of the publishing user (checked by RabbitMQ). */
  userId?: string;
  /** Id of the publishing application. */
  appId?: string;
  /** Deprecated AMQP field, carried as is. */
  clusterId?: string;
}

/** A message on its way to the broker. */
export interface OutgoingMessage {
  /** The serialized (and maybe compressed) body; a string stands for its UTF-8 bytes. */
  body: Body;
  /** Its properties. */
  properties: MessageProperties;
}

/** A delivery tag: a number on AMQP, a string (uuid, receipt handle) elsewhere. */
export type DeliveryTag = number | string;

/** A message as a channel hands it to the core. */
export interface Delivery {
  /** The body as it came off the wire (in-process stores hand over text bodies as strings). */
  body: Body;
  /** Its properties. */
  properties: MessageProperties;
  /** Tag to ack or reject it with, on the channel that delivered it. */
  deliveryTag: DeliveryTag;
  /** Exchange it was published to. */
  exchange: string;
  /** Routing key it was published with. */
  routingKey: string;
  /** True when it was delivered before and not acknowledged. */
  redelivered: boolean;
  /** Tag of the consumer it was delivered to, absent for `basicGet`. */
  consumerTag?: string;
  /** Messages left in the queue after a `basicGet`, when the transport knows. */
  messageCount?: number;
}

/** A message the broker could not route (AMQP `basic.return`). */
export interface ReturnedMessage {
  /** 312 (NO_ROUTE) or 313 (NO_CONSUMERS). */
  replyCode: number;
  /** Why it came back. */
  replyText: string;
  /** Exchange it was published to. */
  exchange: string;
  /** Routing key it was published with. */
  routingKey: string;
  /** The body. */
  body: Uint8Array;
  /** The properties. */
  properties: MessageProperties;
}

/** What a channel needs to declare an exchange. */
export interface ExchangeDeclaration {
  /** Exchange name. */
  name: string;
  /** Exchange type (an `x-...` type reaches only a channel with `anyExchangeType`). */
  type: ExchangeType;
  /** Survives a broker restart. */
  durable?: boolean;
  /** Deleted when the last binding goes. */
  autoDelete?: boolean;
  /** Only exchanges may publish to it. */
  internal?: boolean;
  /** Only check that it exists. */
  passive?: boolean;
  /** x-arguments. */
  arguments?: FieldTable;
}

/** What a channel needs to declare a queue. */
export interface QueueDeclaration {
  /** Empty string asks the broker for a generated name. */
  name: string;
  /** Survives a broker restart. */
  durable?: boolean;
  /** Only this connection may use it. */
  exclusive?: boolean;
  /** Deleted when its last consumer goes. */
  autoDelete?: boolean;
  /** Only check that it exists. */
  passive?: boolean;
  /** x-arguments (x-expires, x-message-ttl, x-max-priority, ...). */
  arguments?: FieldTable;
}

/** The answer to a queue declaration. */
export interface QueueDeclareOk {
  /** The queue name (the generated one for `""`). */
  queue: string;
  /** Messages ready in the queue. */
  messageCount: number;
  /** Consumers of the queue. */
  consumerCount: number;
}

/** Options of `basicConsume`. */
export interface ConsumeOptions {
  /** Tag to use; the channel makes one when absent. */
  consumerTag?: string;
  /** Deliveries need no acknowledgement. */
  noAck?: boolean;
  /** Only this consumer may consume from the queue. */
  exclusive?: boolean;
  /** Consumer x-arguments (x-priority, ...). */
  arguments?: FieldTable;
}

/** Callbacks of a consumer on a channel. */
export interface ConsumeHandlers {
  /** Called for every delivery, in order. */
  onDelivery(delivery: Delivery): void;
  /** Called when the broker cancels the consumer (queue deleted, failover). */
  onCancel?(consumerTag: string): void;
}

/** Options of `basicPublish`. */
export interface BasicPublishOptions {
  /** Return the message through `onReturn` when no queue takes it. */
  mandatory?: boolean;
  /** Deprecated AMQP flag, refused by RabbitMQ 3. */
  immediate?: boolean;
}

/** Options of `basicQos`. */
export interface QosOptions {
  /** Most unacknowledged deliveries at once; 0 = no limit. */
  prefetchCount: number;
  /** Most unacknowledged bytes at once; 0 = no limit. */
  prefetchSize?: number;
  /** AMQP `global` flag (RabbitMQ: shared by the channel's consumers). */
  global?: boolean;
}

/**
 * The AMQP-shaped channel every transport offers to the core (Kombu's `Channel`).
 *
 * Methods reject with the classes of `src/errors.ts`: a `ChannelError` for a refusal that closes
 * this channel, a `ConnectionError` when the connection is gone.
 */
export interface Channel {
  /** Becomes false when the channel or its connection is closed. */
  readonly isOpen: boolean;
  /**
   * True when the broker decides which exchange types exist (AMQP: any `x-...` type its plugins
   * define); absent means only direct, topic, fanout and headers, and `Exchange.declare` refuses
   * other types before asking.
   */
  readonly anyExchangeType?: boolean;
  /** Declares an exchange. */
  exchangeDeclare(exchange: ExchangeDeclaration): Promise<void>;
  /** Deletes an exchange. */
  exchangeDelete(name: string, options?: { ifUnused?: boolean }): Promise<void>;
  /** Binds exchange `destination` to exchange `source` (RabbitMQ extension). */
  exchangeBind?(
    destination: string,
    source: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void>;
  /** Undoes {@link Channel.exchangeBind}. */
  exchangeUnbind?(
    destination: string,
    source: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void>;
  /** Declares a queue. */
  queueDeclare(queue: QueueDeclaration): Promise<QueueDeclareOk>;
  /** Binds a queue to an exchange. */
  queueBind(queue: string, exchange: string, routingKey: string, args?: FieldTable): Promise<void>;
  /** Removes a binding. */
  queueUnbind(
    queue: string,
    exchange: string,
    routingKey: string,
    args?: FieldTable,
  ): Promise<void>;
  /** Removes every ready message of a queue; resolves to how many. */
  queuePurge(queue: string): Promise<number>;
  /** Deletes a queue; resolves to how many messages it held. */
  queueDelete(queue: string, options?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<number>;
  /** Publishes one message. With confirms on, resolves once the broker has it. */
  basicPublish(
    exchange: string,
    routingKey: string,
    message: OutgoingMessage,
    options?: BasicPublishOptions,
  ): Promise<void>;
  /** Takes one message, or `undefined` when the queue is empty. */
  basicGet(queue: string, options?: { noAck?: boolean }): Promise<Delivery | undefined>;
  /** Starts a consumer; resolves to its tag. */
  basicConsume(
    queue: string,
    options: ConsumeOptions,
    handlers: ConsumeHandlers,
  ): Promise<string>;
  /** Stops a consumer. Deliveries already handed over stay unacknowledged. */
  basicCancel(consumerTag: string): Promise<void>;
  /** Acknowledges a delivery (and every earlier one with `multiple`). */
  basicAck(deliveryTag: DeliveryTag, multiple?: boolean): Promise<void>;
  /** Rejects a delivery, putting it back with `requeue`. */
  basicReject(deliveryTag: DeliveryTag, requeue: boolean): Promise<void>;
  /** Redelivers every unacknowledged message of the channel. */
  basicRecover(requeue?: boolean): Promise<void>;
  /** Sets the prefetch limit. */
  basicQos(options: QosOptions): Promise<void>;
  /** Turns on publisher confirms, where the transport has them. */
  confirmSelect?(): Promise<void>;
  /** Receives messages the broker returned (mandatory publish without a route). */
  onReturn?: ((message: ReturnedMessage) => void) | undefined;
  /** Closes the channel; unacknowledged deliveries go back to their queues. */
  close(): Promise<void>;
}

/** Where the connection goes, as parsed from the URL plus the options. */
export interface ConnectionParams {
  /** The canonical transport name. */
  transport: string;
  /** Broker host. */
  hostname: string;
  /** Port, or undefined for the transport's default. */
  port: number | undefined;
  /** User name, if any. */
  userid: string | undefined;
  /** Password, if any: never log it. */
  password: string | undefined;
  /**
   * Set when the password comes from a function (the `password` option): the password of this
   * moment. A transport that opens another socket after the first (Redis's subscriber link)
   * asks it again, so a rotated password or a fresh token is used.
   */
  passwordProvider?: () => Promise<string>;
  /** Virtual host (AMQP), database number (Redis), folder or prefix elsewhere; `""` = default. */
  virtualHost: string;
  /** The URL as given. It holds the password: never log it or put it in an error. */
  url: string;
  /** TLS on (true or options), off (false). */
  ssl: boolean | TlsOptions;
  /** Heartbeat interval in seconds as in Kombu; 0 = off. */
  heartbeat: number;
  /** Connect timeout in milliseconds. */
  connectTimeout: number;
  /** The connection's `transportOptions` as given (camelCase or Kombu's names). */
  transportOptions: Record<string, unknown>;
  /**
   * The URL's query options as written (Kombu's names and units, values as text), without the
   * connection's own (`ssl`, `ssl_*`, `heartbeat`, `connect_timeout`). `transportOptions` win
   * over them; `readOptions` (`src/options/declare.ts`) reads both.
   */
  queryOptions?: Record<string, string>;
  /**
   * The connection's other URLs (Kombu's `alt` without this one), for a transport whose client
   * takes every server at once (ZooKeeper, as Kombu's kazoo does); passwords included.
   */
  alternates?: readonly string[];
  /** Aborts connecting. */
  signal?: AbortSignal;
}

/** TLS settings; certificate and hostname checks are on unless turned off here. */
export interface TlsOptions {
  /** PEM CA certificates to trust instead of the system's. */
  ca?: string | string[];
  /** PEM client certificate. */
  cert?: string;
  /** PEM client key. */
  key?: string;
  /** Server name to verify; defaults to the hostname. */
  serverName?: string;
  /** Set to false to skip certificate verification (never the default). */
  rejectUnauthorized?: boolean;
  /**
   * A PEM file of CA certificates to trust, read when connecting (Kombu's `ssl_ca_certs`; not
   * on Cloudflare Workers, which cannot read files).
   */
  caFile?: string;
  /** A PEM file of the client certificate, read when connecting (Kombu's `ssl_certfile`). */
  certFile?: string;
  /** A PEM file of the client key, read when connecting (Kombu's `ssl_keyfile`). */
  keyFile?: string;
}

/** An open connection of one transport. */
export interface TransportConnection {
  /** Opens a channel. */
  createChannel(): Promise<Channel>;
  /** Closes the connection and its channels. */
  close(): Promise<void>;
  /** Resolves (never rejects) when the connection is gone, with the error if it failed. */
  readonly closed: Promise<Error | undefined>;
  /** Events such as `blocked` / `unblocked` (AMQP connection.blocked). */
  onEvent?: ((event: TransportEvent) => void) | undefined;
}

/** Out-of-band events of a transport connection. */
export type TransportEvent =
  | { type: "blocked"; reason: string }
  | { type: "unblocked" };

/** What a transport can do; drives `Connection.supports()`, docs and conformance skips. */
export interface Capabilities {
  /** Exchange types it routes. */
  readonly exchangeTypes: readonly ExchangeType[];
  /** Message priority: native (AMQP 0..255 with x-max-priority), steps (Redis), or none. */
  readonly priority: "native" | "steps" | "none";
  /** Per-message TTL (`expiration`). */
  readonly messageTtl: boolean;
  /** Per-queue limits and expiry (x-message-ttl, x-max-length, x-expires). */
  readonly queueArguments: boolean;
  /** Redelivered deliveries carry `redelivered: true`. */
  readonly redeliveredFlag: boolean;
  /** Publisher confirms. */
  readonly confirms: boolean;
  /** `mandatory` publishes come back through `onReturn` when unroutable. */
  readonly mandatory: boolean;
  /** Heartbeats detect a dead peer. */
  readonly heartbeats: boolean;
  /** Messages survive a restart of the process (not `memory://`). */
  readonly persistent: boolean;
  /** Exclusive queues and consumers are enforced. */
  readonly exclusive: boolean;
  /** Exchange-to-exchange bindings. */
  readonly exchangeBindings: boolean;
  /** Fanout reaches consumers of other connections and processes. */
  readonly crossProcess: boolean;
  /** A queue keeps its messages in order of publication (SQS standard queues do not). */
  readonly fifo: boolean;
  /**
   * The store knows every queue declaration: redeclaring a queue with other flags or `x-`
   * arguments fails with `PreconditionFailedError` (406), binding a missing queue with
   * `NotFoundError` (404). False where declarations live in each process's memory (Kombu's
   * virtual transports over a shared store).
   */
  readonly queueEquivalence: boolean;
}

/** A named transport feature, as asked by `Connection.supports()`. */
export type Feature =
  | "direct"
  | "topic"
  | "fanout"
  | "headers"
  | "priority"
  | "messageTtl"
  | "queueArguments"
  | "redeliveredFlag"
  | "confirms"
  | "mandatory"
  | "heartbeats"
  | "persistent"
  | "exclusive"
  | "exchangeBindings"
  | "crossProcess"
  | "fifo"
  | "queueEquivalence";

/** Answers one feature question from a capabilities object. */
export function hasFeature(capabilities: Capabilities, feature: Feature): boolean {
  switch (feature) {
    case "direct":
    case "topic":
    case "fanout":
    case "headers":
      return capabilities.exchangeTypes.includes(feature);
    case "priority":
      return capabilities.priority !== "none";
    default:
      return capabilities[feature];
  }
}

/** A transport: its capabilities and a way to connect. */
export interface Transport {
  /** Canonical name, such as `amqp`, `redis`, `memory`. */
  readonly name: string;
  /** Port used when the URL names none. */
  readonly defaultPort?: number;
  /**
   * The user, password and virtual host it uses when the URL gives none or an empty one
   * (Kombu's `default_connection_params`), as `Connection.info()` shows them.
   */
  readonly defaultConnectionParams?: {
    readonly userid?: string;
    readonly password?: string;
    readonly virtualHost?: string;
  };
  /** What it can do. */
  readonly capabilities: Capabilities;
  /** Opens a connection. */
  connect(params: ConnectionParams): Promise<TransportConnection>;
}
