/**
 * OpenTelemetry for wakame: W3C trace context (`traceparent`, `tracestate`) in message headers,
 * spans for publish, receive and process with the messaging semantic conventions, and message
 * metrics. Off until {@link instrument} is called with the `@opentelemetry/api` module; then
 * producers and consumers pick it up at once.
 *
 * @module
 */

import type {
  Attributes,
  OpenTelemetryApi,
  OtelContext,
  OtelCounter,
  OtelSpan,
  OtelTracer,
  TextMapGetter,
} from "./api.ts";
import { messageLogOn } from "../logger.ts";
import { type MessageLog, messageLog } from "./message_log.ts";

/** What telemetry reads of a received message (a `Message` fits). */
export interface TracedMessage {
  /** The message headers (W3C trace context is read from them). */
  readonly headers: Record<string, unknown>;
  /** Exchange, routing key, redelivered flag, delivery tag. */
  readonly deliveryInfo: {
    exchange?: string;
    routingKey?: string;
    redelivered?: boolean;
    deliveryTag?: unknown;
    consumerTag?: string;
  };
  /** AMQP properties (message id, correlation id). */
  readonly properties: { messageId?: string; correlationId?: string };
  /** Delivered without acknowledgement: never in flight. */
  readonly noAck: boolean;
}

/** Options of {@link instrument}. */
export interface InstrumentOptions {
  /** Name of the tracer and meter (default `@wakame/wakame`). */
  name?: string;
  /** Version reported with them. */
  version?: string;
  /** Record metrics (default true). */
  metrics?: boolean;
}

const PRODUCER = 3;
const CONSUMER = 4;
const ERROR = 2;

const headerGetter: TextMapGetter = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === "string" ? value : undefined;
  },
};

const SYSTEMS: Record<string, string> = {
  amqp: "rabbitmq",
  amqps: "rabbitmq",
  pyamqp: "rabbitmq",
  librabbitmq: "rabbitmq",
  amqplib: "rabbitmq",
  amqplibs: "rabbitmq",
  sqs: "aws_sqs",
};

const systems = new WeakMap<object, string>();

/**
 * The `messaging.system` of a producer's or consumer's connection: `rabbitmq`, `aws_sqs`, else
 * the transport's name (`redis`, `memory` ...).
 */
function systemOf(source: unknown): string {
  if (source === null || typeof source !== "object") return "amqp";
  const known = systems.get(source);
  if (known !== undefined) return known;
  let system = "amqp";
  const asUri = (source as { asUri?: () => string }).asUri;
  if (typeof asUri === "function") {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(asUri.call(source))?.[1]?.toLowerCase();
    if (scheme) system = SYSTEMS[scheme] ?? scheme;
  }
  systems.set(source, system);
  return system;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
}

function fail(span: OtelSpan, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** The instruments in use after {@link instrument}. */
export class Telemetry {
  readonly #api: OpenTelemetryApi;
  readonly #tracer: OtelTracer;
  readonly #counters: Record<string, OtelCounter> | undefined;
  readonly #inFlight = new WeakSet<object>();

  /**
   * Makes the instruments.
   *
   * @param api the `@opentelemetry/api` module
   * @param options tracer and meter name and version, metrics on or off
   */
  constructor(api: OpenTelemetryApi, options: InstrumentOptions = {}) {
    this.#api = api;
    const name = options.name ?? "@wakame/wakame";
    this.#tracer = api.trace.getTracer(name, options.version);
    if (options.metrics === false) return;
    const meter = api.metrics.getMeter(name, options.version);
    const counter = (n: string, description: string) =>
      meter.createCounter(n, { description, unit: "{message}" });
    this.#counters = {
      published: counter("wakame.messages.published", "Messages published"),
      sent: counter("messaging.client.sent.messages", "Messages sent (semantic conventions)"),
      delivered: counter("wakame.messages.delivered", "Messages delivered to consumers"),
      consumed: counter(
        "messaging.client.consumed.messages",
        "Messages delivered (semantic conventions)",
      ),
      acked: counter("wakame.messages.acked", "Messages acknowledged"),
      rejected: counter("wakame.messages.rejected", "Messages rejected or requeued"),
      redelivered: counter("wakame.messages.redelivered", "Deliveries flagged redelivered"),
      inFlight: meter.createUpDownCounter("wakame.messages.in_flight", {
        description: "Messages delivered and not yet acked, rejected or requeued",
        unit: "{message}",
      }),
    };
  }

  /**
   * Publishes inside a `publish` span, with the span's trace context injected into the headers.
   *
   * @param source the producer (its connection names `messaging.system`)
   * @param exchange the exchange name
   * @param routingKey the routing key
   * @param headers the headers asked for (not changed: a copy gets the trace context)
   * @param send publishes with the given headers
   * @returns what `send` returns
   */
  publish(
    source: unknown,
    exchange: string,
    routingKey: string,
    headers: Record<string, unknown> | undefined,
    send: (headers: Record<string, unknown> | undefined) => Promise<void>,
  ): Promise<void> {
    if (messageLogOn()) messageLog.notePublish(exchange, routingKey);
    const api = this.#api;
    const destination = exchange || "amq.default";
    const attributes: Attributes = {
      "messaging.system": systemOf(source),
      "messaging.operation.name": "publish",
      "messaging.operation.type": "send",
      "messaging.destination.name": destination,
      "messaging.rabbitmq.destination.routing_key": routingKey || undefined,
    };
    const active = api.context.active();
    const span = this.#tracer.startSpan(`publish ${destination}`, {
      kind: PRODUCER,
      attributes,
    }, active);
    const carrier: Record<string, unknown> = { ...headers };
    api.propagation.inject(api.trace.setSpan(active, span), carrier);
    let sent: Promise<void>;
    try {
      sent = send(carrier);
    } catch (error) {
      sent = Promise.reject(error);
    }
    return sent.then(() => {
      this.#counters?.published.add(1, attributes);
      this.#counters?.sent.add(1, attributes);
      span.end();
    }, (error) => {
      fail(span, error);
      span.end();
      throw error;
    });
  }

  /**
   * Records a delivery (a `receive` span, the delivered, redelivered and in-flight metrics) and
   * runs its processing inside a `process` span whose parent is the publisher's trace context.
   *
   * @param source the consumer (its connection names `messaging.system`)
   * @param message the message
   * @param run the processing (callbacks), or none (a `for await` loop processes it)
   * @returns what `run` returns
   */
  deliver<R>(source: unknown, message: TracedMessage, run?: () => R): R | undefined {
    if (messageLogOn()) messageLog.noteDelivery(message);
    const api = this.#api;
    const info = message.deliveryInfo;
    const destination = info.exchange || "amq.default";
    const attributes: Attributes = {
      "messaging.system": systemOf(source),
      "messaging.destination.name": destination,
      "messaging.rabbitmq.destination.routing_key": info.routingKey || undefined,
      "messaging.message.id": message.properties.messageId,
      "messaging.message.conversation_id": message.properties.correlationId,
      "messaging.rabbitmq.message.delivery_tag": typeof info.deliveryTag === "number"
        ? info.deliveryTag
        : undefined,
    };
    const parent: OtelContext = api.propagation.extract(
      api.context.active(),
      message.headers,
      headerGetter,
    );
    this.#tracer.startSpan(`receive ${destination}`, {
      kind: CONSUMER,
      attributes: {
        ...attributes,
        "messaging.operation.name": "receive",
        "messaging.operation.type": "receive",
      },
    }, parent).end();
    const metric: Attributes = {
      "messaging.system": attributes["messaging.system"],
      "messaging.destination.name": destination,
    };
    if (this.#counters !== undefined) {
      this.#counters.delivered.add(1, metric);
      this.#counters.consumed.add(1, metric);
      if (info.redelivered) this.#counters.redelivered.add(1, metric);
      if (!message.noAck) {
        this.#inFlight.add(message);
        this.#counters.inFlight.add(1, metric);
      }
    }
    if (run === undefined) return undefined;
    const span = this.#tracer.startSpan(`process ${destination}`, {
      kind: CONSUMER,
      attributes: {
        ...attributes,
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
      },
    }, parent);
    let result: R;
    try {
      result = api.context.with(api.trace.setSpan(parent, span), run);
    } catch (error) {
      fail(span, error);
      span.end();
      throw error;
    }
    if (!isThenable(result)) {
      span.end();
      return result;
    }
    Promise.resolve(result).then(() => span.end(), (error) => {
      fail(span, error);
      span.end();
    });
    return result;
  }

  /**
   * Counts an ack, reject or requeue, and the message leaving the in-flight gauge.
   *
   * @param message the message
   * @param state `ACK`, `REJECTED` or `REQUEUED`
   */
  settled(message: TracedMessage, state: string): void {
    messageLog.noteSettled(message, state);
    const counters = this.#counters;
    if (counters === undefined) return;
    const metric: Attributes = {
      "messaging.destination.name": message.deliveryInfo.exchange || "amq.default",
    };
    if (state === "ACK") counters.acked.add(1, metric);
    else counters.rejected.add(1, { ...metric, "wakame.requeue": state === "REQUEUED" });
    if (this.#inFlight.delete(message)) counters.inFlight.add(-1, metric);
  }
}

let active: Telemetry | undefined;

/**
 * Turns on OpenTelemetry for every producer and consumer: trace context in message headers,
 * publish / receive / process spans, message metrics. Uses the global tracer and meter
 * providers and propagator that your SDK set up.
 *
 * @param api the `@opentelemetry/api` module (`import * as api from "@opentelemetry/api"`)
 * @param options tracer and meter name and version, metrics on or off
 *
 * @example
 * ```ts
 * import { instrument, uninstrument } from "@wakame/wakame";
 * // import * as api from "@opentelemetry/api"; then, once your SDK is set up:
 * const api = {
 *   trace: { getTracer: () => ({ startSpan: () => ({ setAttributes() {}, setStatus() {}, recordException() {}, end() {} }) }), setSpan: (c: unknown) => c },
 *   context: { active: () => ({}), with: (_c: unknown, fn: () => unknown) => fn() },
 *   propagation: { inject() {}, extract: (c: unknown) => c },
 *   metrics: { getMeter: () => ({ createCounter: () => ({ add() {} }), createUpDownCounter: () => ({ add() {} }) }) },
 * };
 * instrument(api as never);
 * uninstrument();
 * ```
 */
export function instrument(api: OpenTelemetryApi, options: InstrumentOptions = {}): void {
  active = new Telemetry(api, options);
}

/** Turns OpenTelemetry off again. */
export function uninstrument(): void {
  active = undefined;
}

/**
 * The hooks of producers and consumers: the instruments after {@link instrument}, the sampled
 * per-message debug log when only that is on, or `undefined` (nothing to do).
 *
 * @returns the hooks, or undefined
 */
export function telemetry(): Telemetry | MessageLog | undefined {
  return active ?? (messageLogOn() ? messageLog : undefined);
}
