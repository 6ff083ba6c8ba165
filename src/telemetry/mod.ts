/**
 * OpenTelemetry: `instrument(api)` turns on trace context propagation, spans and metrics.
 *
 * @module
 */

export type {
  Attributes,
  OpenTelemetryApi,
  OtelContext,
  OtelCounter,
  OtelMeter,
  OtelSpan,
  OtelTracer,
  TextMapGetter,
  TextMapSetter,
} from "./api.ts";
export {
  instrument,
  type InstrumentOptions,
  Telemetry,
  telemetry,
  type TracedMessage,
  uninstrument,
} from "./instrument.ts";
