/**
 * The parts of `@opentelemetry/api` wakame uses, as structural types: the real API object fits
 * them, and wakame neither imports nor requires the package (an optional peer; without
 * {@link instrument} nothing of it runs or loads).
 *
 * @module
 */

/** Span and metric attributes. */
export type Attributes = Record<string, string | number | boolean | undefined>;

/** An OpenTelemetry context (opaque). */
export type OtelContext = unknown;

/** Reads and writes header carriers (the propagation API's getter and setter). */
export interface TextMapGetter {
  /** The keys of the carrier. */
  keys(carrier: Record<string, unknown>): string[];
  /** The value of a key. */
  get(carrier: Record<string, unknown>, key: string): string | string[] | undefined;
}

/** Writes a header. */
export interface TextMapSetter {
  /** Sets a key. */
  set(carrier: Record<string, unknown>, key: string, value: string): void;
}

/** A span, as wakame uses it. */
export interface OtelSpan {
  /** Sets attributes. */
  setAttributes(attributes: Attributes): unknown;
  /** Sets the status (`{ code: 2, message }` is an error). */
  setStatus(status: { code: number; message?: string }): unknown;
  /** Records an exception. */
  recordException(exception: Error | string): void;
  /** Ends the span. */
  end(): void;
}

/** A tracer. */
export interface OtelTracer {
  /** Starts a span. */
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: Attributes },
    context?: OtelContext,
  ): OtelSpan;
}

/** A counter or up-down counter. */
export interface OtelCounter {
  /** Adds a value. */
  add(value: number, attributes?: Attributes): void;
}

/** A meter. */
export interface OtelMeter {
  /** Makes a counter. */
  createCounter(name: string, options?: { description?: string; unit?: string }): OtelCounter;
  /** Makes an up-down counter. */
  createUpDownCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): OtelCounter;
}

/** The `@opentelemetry/api` module, or an object with the same members. */
export interface OpenTelemetryApi {
  /** `trace`: tracers and the span of a context. */
  trace: {
    getTracer(name: string, version?: string): OtelTracer;
    setSpan(context: OtelContext, span: OtelSpan): OtelContext;
  };
  /** `context`: the active context. */
  context: {
    active(): OtelContext;
    with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
      context: OtelContext,
      fn: F,
      thisArg?: ThisParameterType<F>,
      ...args: A
    ): ReturnType<F>;
  };
  /** `propagation`: W3C trace context in and out of headers. */
  propagation: {
    inject(context: OtelContext, carrier: Record<string, unknown>, setter?: TextMapSetter): void;
    extract(
      context: OtelContext,
      carrier: Record<string, unknown>,
      getter?: TextMapGetter,
    ): OtelContext;
  };
  /** `metrics`: meters. */
  metrics: { getMeter(name: string, version?: string): OtelMeter };
}
