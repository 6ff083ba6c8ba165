/**
 * An OpenTelemetry setup for tests: the real API, an SDK tracer with an in-memory exporter, an
 * SDK meter read on demand, W3C trace context, and no global state.
 *
 * @module
 */

import * as api from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { OpenTelemetryApi } from "../../../src/telemetry/mod.ts";

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The test's OpenTelemetry. */
export interface TestOtel {
  /** What to pass to `instrument`. */
  api: OpenTelemetryApi;
  /** Finished spans. */
  spans(): ReadableSpan[];
  /** Current metric values by name (sums over attributes), e.g. `wakame.messages.acked`. */
  metrics(): Promise<Record<string, number>>;
}

/** Makes a fresh setup. */
export function testOtel(): TestOtel {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const propagator = new W3CTraceContextPropagator();
  let current: api.Context = api.ROOT_CONTEXT;
  const otelApi: OpenTelemetryApi = {
    trace: {
      getTracer: (name, version) => tracerProvider.getTracer(name, version),
      setSpan: (context, span) => api.trace.setSpan(context as api.Context, span as api.Span),
    },
    // A synchronous context manager of its own (as AsyncLocalStorage's would, for sync code):
    // what runs inside a process span sees it as the active context.
    context: {
      active: () => current,
      with: (context, fn, thisArg, ...args) => {
        const previous = current;
        current = context as api.Context;
        try {
          return fn.call(thisArg, ...args);
        } finally {
          current = previous;
        }
      },
    },
    propagation: {
      inject: (context, carrier) =>
        propagator.inject(context as api.Context, carrier, api.defaultTextMapSetter),
      extract: (context, carrier, getter) =>
        propagator.extract(
          context as api.Context,
          carrier,
          (getter ?? api.defaultTextMapGetter) as api.TextMapGetter,
        ),
    },
    metrics: { getMeter: (name, version) => meterProvider.getMeter(name, version) },
  };
  return {
    api: otelApi,
    spans: () => exporter.getFinishedSpans(),
    async metrics() {
      const { resourceMetrics } = await reader.collect();
      const out: Record<string, number> = {};
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          let sum = 0;
          for (const point of metric.dataPoints) sum += Number(point.value);
          out[metric.descriptor.name] = sum;
        }
      }
      return out;
    },
  };
}

/** The `@opentelemetry/api` module itself is what `instrument` takes (checked by the compiler). */
export const realApi: OpenTelemetryApi = api;
