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

// Errors (Kombu's `kombu.exceptions`).
export {
  AccessRefusedError,
  ChannelError,
  channelErrorFor,
  type ChannelErrorOptions,
  ConfigurationError,
  ConnectionError,
  ConsumerCancelledError,
  ContentDisallowedError,
  DecodeError,
  EncodeError,
  HttpError,
  type HttpErrorOptions,
  isRecoverable,
  KombuError,
  type KombuErrorOptions,
  LimitExceededError,
  MessageStateError,
  NotBoundError,
  NotFoundError,
  OperationalError,
  PreconditionFailedError,
  ProtocolError,
  TimeoutError,
  UnknownTransportError,
  ValidationError,
} from "./src/errors.ts";

// The seam to transports.
export {
  type AnyExchangeType,
  type BasicPublishOptions,
  type Body,
  type Capabilities,
  type Channel,
  type ConnectionParams,
  type ConsumeHandlers,
  type ConsumeOptions,
  type Delivery,
  type DeliveryTag,
  type ExchangeDeclaration,
  type ExchangeType,
  type Feature,
  type FieldTable,
  type FieldValue,
  hasFeature,
  type MessageProperties,
  type OutgoingMessage,
  type QosOptions,
  type QueueDeclaration,
  type QueueDeclareOk,
  type ReturnedMessage,
  type TlsOptions,
  type Transport,
  type TransportConnection,
  type TransportEvent,
} from "./src/transport.ts";
export {
  registerTransport,
  resolveTransport,
  takesRawUrl,
  type TransportLoader,
  transportNames,
} from "./src/registry.ts";
export { asUrl, maskUrl, parseUrl, splitUrls, type UrlParts } from "./src/url.ts";
export { retryDelays, retryOverTime, type RetryPolicy } from "./src/retry.ts";

// Kombu's model: connection, entities, producer, consumer, message, simple queues.
export { Connection, type ConnectionOptions, type FailoverStrategy } from "./src/connection.ts";
export type { ConnectionInfo } from "./src/connection/info.ts";
export type { PasswordProvider } from "./src/connection/credentials.ts";
export {
  type ChannelSource,
  type EnsureOptions,
  isChannel,
  type Revivable,
} from "./src/channel_source.ts";
export {
  binding,
  type BindingSpec,
  type Declarable,
  type DeclarationCache,
  Exchange,
  type ExchangeOptions,
  isReservedExchange,
  maybeDeclare,
  type MaybeDeclareOptions,
  Queue,
  type QueueOptions,
} from "./src/entity.ts";
export {
  type DecodeOptions,
  type DeliveryInfo,
  Message,
  MessageState,
  type MessageStateName,
} from "./src/message.ts";
export {
  type OfflineBufferOptions,
  prepareBody,
  Producer,
  type ProducerOptions,
  type PublishOptions,
} from "./src/producer.ts";
export { Consumer, type ConsumerOptions, type MessageCallback } from "./src/consumer.ts";

// OpenTelemetry (optional peer `@opentelemetry/api`, passed in: nothing loads without it).
export {
  type Attributes,
  instrument,
  type InstrumentOptions,
  type OpenTelemetryApi,
  type OtelContext,
  type OtelCounter,
  type OtelMeter,
  type OtelSpan,
  type OtelTracer,
  Telemetry,
  type TextMapGetter,
  type TextMapSetter,
  type TracedMessage,
  uninstrument,
} from "./src/telemetry/mod.ts";

// Typed queues: payload validation with any Standard Schema (zod, valibot, arktype ...).
export {
  formatIssues,
  type InferOutput,
  type StandardSchemaIssue,
  type StandardSchemaProps,
  type StandardSchemaResult,
  type StandardSchemaTypes,
  type StandardSchemaV1,
  validate,
} from "./src/schema/mod.ts";
export { EmptyError, SimpleBuffer, SimpleQueue, type SimpleQueueOptions } from "./src/simple.ts";

// Bodies, serializers, compression, Kombu's envelope.
export { bodyBytes, bodyText } from "./src/body.ts";
export {
  createJsonSerializer,
  DEFAULT_ACCEPT,
  type Encoded,
  type JsonSerializerOptions,
  jsonTaggedSerializer,
  MicrosecondDate,
  type RegisterOptions,
  registerType,
  type Serializer,
  SerializerRegistry,
  serializers,
  type TaggedClass,
  unregisterType,
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

// The virtual transport base (Kombu's `kombu.transport.virtual`).
export type {
  Binding,
  BindingStore,
  GetManyOptions,
  Lease,
  QueueBackend,
  QueueBatch,
  ReleaseOptions,
  StoredMessage,
} from "./src/virtual/backend.ts";
export { POSSIBLE_DUPLICATE_HEADER } from "./src/virtual/backend.ts";
export { bindingRouter, DEAD_LETTER_QUEUE, type Router } from "./src/virtual/router.ts";
export { VirtualChannel, type VirtualChannelOptions } from "./src/virtual/channel.ts";
export { DeliveryTable } from "./src/virtual/delivery_table.ts";
export {
  type BackendContext,
  virtualTransport,
  type VirtualTransportSpec,
} from "./src/virtual/transport.ts";
export {
  declareOptions,
  kombuName,
  type OptionKind,
  type OptionsDeclaration,
  type OptionSource,
  type OptionSpec,
  type OptionSpecs,
  type OptionSpelling,
  type OptionValue,
  type OptionValues,
  parseBoolean,
  readOptions,
} from "./src/options/declare.ts";
export {
  headersMatch,
  kombuBindingPattern,
  kombuTopicMatches,
  readTopicRules,
  route,
  topicMatcher,
  topicMatches,
  type TopicRules,
} from "./src/virtual/exchange_types.ts";
export { MemoryBindingStore, sameBinding, stateFor, VirtualState } from "./src/virtual/state.ts";

// Kombu's patterns: pools, pidbox, common, the worker.
export {
  type AcquireOptions,
  type ChannelLease,
  ChannelPool,
  ConnectionPool,
  connections,
  getLimit,
  PoolGroup,
  type PoolLease,
  type PoolOptions,
  ProducerPool,
  type ProducerPoolOptions,
  producers,
  registerGroup,
  reset,
  type Resizable,
  ResourcePool,
  type ResourcePoolOptions,
  setLimit,
  type SetLimitOptions,
} from "./src/pools.ts";
export {
  type BroadcastOptions,
  type CallOptions,
  type HandlerContext,
  Mailbox,
  type MailboxOptions,
  Node,
  type PidboxHandler,
  type PidboxReply,
  type PidboxRequest,
  REPLY_QUEUE_EXPIRES,
} from "./src/pidbox.ts";
export {
  Broadcast,
  type BroadcastQueueOptions,
  collectReplies,
  type CollectRepliesOptions,
  drainConsumer,
  type DrainOptions,
  eventloop,
  type EventLoopOptions,
  ignoreErrors,
  insured,
  type InsuredOptions,
  itermessages,
  type IterMessagesOptions,
  sendReply,
  type SendReplyOptions,
} from "./src/common.ts";
export {
  type ConsumeLoopOptions,
  type ConsumerFactory,
  onSignals,
  Worker,
  type WorkerOptions,
  type WorkerSession,
} from "./src/worker.ts";

// Utilities (Kombu's `kombu.utils`).
export { compareTimeTuples, LamportClock, type TimeTuple } from "./src/utils/clock.ts";
export { TokenBucket, type TokenBucketOptions } from "./src/utils/token_bucket.ts";
export {
  cycleByName,
  type CycleName,
  type CycleReader,
  FairCycle,
  PriorityCycle,
  RoundRobinCycle,
  SortedCycle,
} from "./src/utils/fair_cycle.ts";
export {
  compileGlob,
  globMatch,
  match,
  type MatcherFunction,
  MatcherRegistry,
  matchers,
  pcreMatch,
  registerMatcher,
  unregisterMatcher,
} from "./src/utils/matcher.ts";
export { NAMESPACE_OID, oidFrom, uuid, uuid5 } from "./src/utils/uuid.ts";
export {
  getLogger,
  type Logger,
  type LogLevel,
  type LogSink,
  redact,
  setLogger,
} from "./src/logger.ts";
