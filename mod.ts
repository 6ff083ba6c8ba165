/**
 * wakame: Kombu's messaging model for TypeScript on Deno, Bun, Node and edge runtimes.
 *
 * Connections with failover and retries, exchanges and queues, producers and consumers,
 * serializers and compression, and the "virtual" transport base that gives exchanges, routing
 * and QoS to any plain queue store. Wire-compatible with Python Kombu 5.x.
 *
 * @example
 * ```ts
 * import { Connection, Exchange, Queue } from "@wakame/wakame";
 *
 * await using conn = new Connection("memory://");
 * const media = new Exchange("media", { type: "direct" });
 * const video = new Queue("video", { exchange: media, routingKey: "video" });
 *
 * await conn.producer().publish({ name: "clip.mp4" }, {
 *   exchange: media, routingKey: "video", declare: [video],
 * });
 * await using consumer = conn.consumer(video, {
 *   callbacks: [async (body, message) => { console.log(body); await message.ack(); }],
 * });
 * await consumer.consume();
 * await conn.drainEvents({ timeout: 1000 });
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export * from "./src/transport.ts";
export * from "./src/url.ts";
export * from "./src/retry.ts";
export * from "./src/entity.ts";
export * from "./src/message.ts";
export * from "./src/producer.ts";
export * from "./src/consumer.ts";
export * from "./src/connection.ts";
export * from "./src/channel_source.ts";
export * from "./src/simple.ts";
export * from "./src/registry.ts";
export { bodyBytes, bodyText } from "./src/body.ts";
export {
  createJsonSerializer,
  DEFAULT_ACCEPT,
  type Encoded,
  type JsonSerializerOptions,
  jsonTaggedSerializer,
  type RegisterOptions,
  type Serializer,
  SerializerRegistry,
  serializers,
} from "./src/serialization.ts";
export {
  availableCompressors,
  compress,
  type Compressor,
  decompress,
  getCompressor,
  registerCompressor,
} from "./src/compression.ts";
export {
  decodeEnvelope,
  encodeEnvelope,
  envelopeFromObject,
  envelopeToObject,
  pythonJsonDumps,
} from "./src/envelope.ts";
export type { Socket, SocketFactory, SocketOptions } from "./src/socket.ts";
export type {
  AckStore,
  Binding,
  BindingStore,
  GetManyOptions,
  QueueBackend,
  StoredMessage,
} from "./src/virtual/backend.ts";
export { VirtualChannel, type VirtualChannelOptions } from "./src/virtual/channel.ts";
export {
  type BackendContext,
  virtualTransport,
  type VirtualTransportSpec,
} from "./src/virtual/transport.ts";
export {
  headersMatch,
  kombuTopicMatches,
  readTopicRules,
  route,
  topicMatcher,
  topicMatches,
  type TopicRules,
} from "./src/virtual/exchange_types.ts";
export * from "./src/pools.ts";
export * from "./src/pidbox.ts";
export * from "./src/common.ts";
export * from "./src/worker.ts";
export * from "./src/utils/clock.ts";
export * from "./src/utils/token_bucket.ts";
export * from "./src/utils/fair_cycle.ts";
export * from "./src/utils/matcher.ts";
export { NAMESPACE_OID, uuid5 } from "./src/utils/uuid.ts";
export {
  getLogger,
  type Logger,
  type LogLevel,
  type LogSink,
  redact,
  setLogger,
} from "./src/logger.ts";
