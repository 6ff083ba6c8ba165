/**
 * Process mailboxes (Kombu's `kombu.pidbox`), the remote-control channel of Celery workers.
 *
 * A {@link Mailbox} sends commands to the {@link Node}s listening on it: to named nodes
 * (`cast`, `call`), to every node (`abcast`, `multiCall`), or to the nodes whose name matches a
 * pattern (`broadcast` with `pattern` and `matcher`). Calls collect the replies.
 *
 * On the wire this is exactly Kombu's and Celery's format, so a wakame mailbox can command
 * Python nodes (Celery workers) and Python mailboxes (`celery inspect`) can command wakame
 * nodes:
 * - requests go to the exchange `<namespace>.pidbox` (`direct` by default, `fanout` for
 *   Celery), routing key `""`, body `{"method", "arguments", "destination", "pattern",
 *   "matcher"}` plus `"ticket"` and `"reply_to": {"exchange", "routing_key"}` for calls, headers
 *   `{"clock": <lamport>, "expires": <unix seconds, or 0>}`;
 * - a node consumes the queue `<hostname>.<namespace>.pidbox` (auto-delete, not durable);
 * - replies go to the direct exchange `reply.<namespace>.pidbox` with the mailbox's oid as
 *   routing key, body `{"<hostname>": <result>}`, headers `{"ticket", "clock"}`; the mailbox
 *   reads them from `<oid>.reply.<namespace>.pidbox` (auto-delete, `x-expires` 10 s).
 *
 * Durations are in milliseconds here (Kombu's `timeout=1` is `timeout: 1000`).
 *
 * @module
 */

import { forgetDeclaration } from "./_connection_internals.ts";
import type { Connection } from "./connection.ts";
import { Consumer } from "./consumer.ts";
import { Exchange, Queue } from "./entity.ts";
import { ConfigurationError, NotBoundError } from "./errors.ts";
import { getLogger } from "./logger.ts";
import type { Message } from "./message.ts";
import type { ProducerPool } from "./pools.ts";
import { Producer, type PublishOptions } from "./producer.ts";
import type { ExchangeType, FieldTable } from "./transport.ts";
import { LamportClock } from "./utils/clock.ts";
import { type MatcherRegistry, matchers } from "./utils/matcher.ts";
import { oidFrom, uuid } from "./utils/uuid.ts";

const log = getLogger("pidbox");

/** Seconds Kombu keeps an unused reply queue (`REPLY_QUEUE_EXPIRES`), in ms. */
export const REPLY_QUEUE_EXPIRES = 10_000;

/** A reply as it travels: the replying node's hostname mapped to its result. */
export type PidboxReply = Record<string, unknown>;

/** The body of a pidbox request, as Kombu writes it (snake_case: it is wire data). */
export interface PidboxRequest {
  /** The command. */
  method: string;
  /** Its keyword arguments. */
  arguments: Record<string, unknown>;
  /** Hostnames that should run it; `null` for all. */
  destination: string[] | null;
  /** A pattern the hostname must match (with `matcher`), or `null`. */
  pattern: string | null;
  /** The matcher's name (`glob`, `pcre`), or `null`. */
  matcher: string | null;
  /** Present for calls: pairs replies with the request. */
  ticket?: string;
  /** Present for calls: where replies go. */
  reply_to?: { exchange: string; routing_key: string };
}

/** What a handler gets besides its arguments. */
export interface HandlerContext<S> {
  /** The node running the handler. */
  node: Node<S>;
  /** The request message, when it came from the broker. */
  message: Message | undefined;
  /** The full request. */
  request: PidboxRequest;
}

/**
 * A command handler (Kombu calls `handler(state, **arguments)`): returns the result sent back
 * to callers; a thrown error becomes `{"error": "<Name>('<message>')"}`, as Kombu's `repr`.
 */
export type PidboxHandler<S> = (
  state: S,
  args: Record<string, unknown>,
  context: HandlerContext<S>,
) => unknown;

/** Options of a {@link Mailbox} (Kombu's keyword arguments; durations in milliseconds). */
export interface MailboxOptions {
  /** Exchange type of `<namespace>.pidbox`: `direct` (Kombu's default) or `fanout` (Celery). */
  type?: ExchangeType;
  /** The connection to use; see {@link Mailbox.bind}. */
  connection?: Connection;
  /** The Lamport clock stamped on requests and replies (default: a new one). */
  clock?: LamportClock;
  /** Content types accepted in replies and requests (default `["json"]`, as Kombu). */
  accept?: readonly string[];
  /** Serializer of requests and replies (default `json`). */
  serializer?: string;
  /** Message TTL of node queues in ms (x-message-ttl; Celery uses 300 000). */
  queueTtl?: number;
  /** Node queues expire after this many ms unused (x-expires; Celery uses 10 000). */
  queueExpires?: number;
  /** Message TTL of the reply queue in ms (x-message-ttl). */
  replyQueueTtl?: number;
  /** The reply queue expires after this many ms unused (x-expires; default 10 000). */
  replyQueueExpires?: number | null;
  /** The registry resolving `matcher` names (default: the global one). */
  matchers?: MatcherRegistry;
  /**
   * Publish requests and replies with producers from this pool (Kombu's `producer_pool`;
   * Celery passes its own) instead of a producer on the mailbox's connection.
   */
  producerPool?: ProducerPool;
}

/** Options of {@link Mailbox.broadcast}. */
export interface BroadcastOptions {
  /** Keyword arguments of the command. */
  arguments?: Record<string, unknown>;
  /** Hostnames to address; omit for every node. */
  destination?: readonly string[];
  /** A hostname pattern instead of a list (matched by the nodes). */
  pattern?: string;
  /** The pattern's matcher, `glob` (default when a pattern is given) or `pcre`. */
  matcher?: string;
  /** Collect replies (default false). */
  reply?: boolean;
  /**
   * When collecting: stop after this many ms without a reply (Kombu's `timeout`, seconds
   * there); default 1000.
   */
  timeout?: number;
  /** When collecting: stop after this many replies (default: the number of destinations). */
  limit?: number;
  /** Called with each reply as it arrives. */
  callback?: (reply: PidboxReply) => void;
  /** Serializer for this request. */
  serializer?: string;
  /** Stops collecting early; the replies so far are returned. */
  signal?: AbortSignal;
}

/** Options of {@link Mailbox.call} and {@link Mailbox.multiCall}. */
export type CallOptions = Pick<
  BroadcastOptions,
  "timeout" | "limit" | "callback" | "signal" | "serializer" | "pattern" | "matcher"
>;

interface Collector {
  push(reply: PidboxReply): void;
}

/** Kombu's `repr(exc)` for the common cases: `KeyError('ping')`. */
function reprError(error: unknown): string {
  if (error instanceof Error) return `${error.name}(${pyQuote(error.message)})`;
  return `Exception(${pyQuote(String(error))})`;
}

function pyQuote(text: string): string {
  return text.includes("'") && !text.includes('"')
    ? `"${text}"`
    : `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** JSON has no `undefined`: a handler that returns nothing answers `null`, as Python's None. */
function wireValue(value: unknown): unknown {
  return value === undefined ? null : value;
}

function headerNumber(headers: FieldTable | undefined, key: string): number {
  const value = headers?.[key];
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "") return Number(value) || 0;
  return 0;
}

/**
 * A process mailbox (Kombu's `Mailbox`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection } from "./connection.ts";
 * import { Mailbox } from "./pidbox.ts";
 * await using conn = new Connection("memory://");
 * await using mailbox = new Mailbox("doc-app", { type: "fanout", connection: conn });
 * const node = mailbox.node("worker1@example", { handlers: { ping: () => "pong" } });
 * await node.listen();
 * const replies = await mailbox.call(["worker1@example"], "ping");
 * assert.equal(JSON.stringify(replies), '[{"worker1@example":"pong"}]');
 * await node.close();
 * ```
 */
export class Mailbox implements AsyncDisposable {
  /** The application's namespace (Celery: `celery`). */
  readonly namespace: string;
  /** The exchange type of requests. */
  readonly type: ExchangeType;
  /** The connection, when bound. */
  readonly connection: Connection | undefined;
  /** The Lamport clock (shared with copies made by {@link Mailbox.bind}). */
  readonly clock: LamportClock;
  /** `<namespace>.pidbox`: where requests go. */
  readonly exchange: Exchange;
  /** `reply.<namespace>.pidbox`: where replies go. */
  readonly replyExchange: Exchange;
  /** Accepted content types. */
  readonly accept: readonly string[];
  /** Serializer of requests and replies (undefined: json). */
  readonly serializer: string | undefined;
  /** The options this mailbox was made with. */
  readonly options: Readonly<MailboxOptions>;
  readonly #matchers: MatcherRegistry;
  readonly #collectors = new Map<string, Collector>();
  #replies: Promise<Consumer> | undefined;
  #replyQueue: Promise<Queue> | undefined;
  #producer: Producer | undefined;

  /**
   * Makes a Mailbox.
   *
   * @param namespace the application's name (exchange `<namespace>.pidbox`)
   * @param options exchange type, connection, clock, serializer, queue expiries
   */
  constructor(namespace: string, options: MailboxOptions = {}) {
    this.namespace = namespace;
    this.options = options;
    this.type = options.type ?? "direct";
    this.connection = options.connection;
    this.clock = options.clock ?? new LamportClock();
    this.accept = options.accept ?? ["json"];
    this.serializer = options.serializer;
    this.#matchers = options.matchers ?? matchers;
    this.exchange = new Exchange(`${namespace}.pidbox`, {
      type: this.type,
      durable: false,
      deliveryMode: "transient",
    });
    this.replyExchange = new Exchange(`reply.${namespace}.pidbox`, {
      type: "direct",
      durable: false,
      deliveryMode: "transient",
    });
  }

  /**
   * A copy bound to a connection, sharing this mailbox's clock (Kombu's `mailbox(connection)`).
   *
   * @param connection the connection
   * @returns the bound copy (with its own reply queue)
   */
  bind(connection: Connection): Mailbox {
    return new Mailbox(this.namespace, { ...this.options, connection, clock: this.clock });
  }

  /**
   * Makes a node of this mailbox (Kombu's `Mailbox.Node`).
   *
   * @param hostname the node's name, such as `celery@host`
   * @param options the state passed to handlers, and the handlers
   * @returns the node (call {@link Node.listen} to start it)
   */
  node<S = undefined>(
    hostname: string,
    options: { state?: S; handlers?: Record<string, PidboxHandler<S>> } = {},
  ): Node<S> {
    return new Node(hostname, this, options);
  }

  /** The stable id of this mailbox: the routing key of its replies (Kombu's `oid`). */
  oid(): Promise<string> {
    return oidFrom(this);
  }

  /**
   * The queue a node consumes (Kombu's `get_queue`): `<hostname>.<namespace>.pidbox`.
   *
   * @param hostname the node's name
   * @returns the queue
   */
  getQueue(hostname: string): Queue {
    return new Queue(`${hostname}.${this.namespace}.pidbox`, {
      exchange: this.exchange,
      durable: false,
      autoDelete: true,
      expires: this.options.queueExpires,
      messageTtl: this.options.queueTtl,
    });
  }

  /**
   * The queue replies to this mailbox arrive in (Kombu's `reply_queue`):
   * `<oid>.reply.<namespace>.pidbox`, bound with the oid.
   *
   * @returns the queue
   */
  getReplyQueue(): Promise<Queue> {
    this.#replyQueue ??= this.oid().then((oid) => {
      const expires = this.options.replyQueueExpires === undefined
        ? REPLY_QUEUE_EXPIRES
        : this.options.replyQueueExpires ?? undefined;
      return new Queue(`${oid}.${this.replyExchange.name}`, {
        exchange: this.replyExchange,
        routingKey: oid,
        durable: false,
        autoDelete: true,
        expires,
        messageTtl: this.options.replyQueueTtl,
      });
    });
    return this.#replyQueue;
  }

  /**
   * Sends a command to the named nodes, without waiting for replies (Kombu's `cast`).
   *
   * @param destination hostnames
   * @param command the command
   * @param args its keyword arguments
   */
  async cast(
    destination: readonly string[],
    command: string,
    args: Record<string, unknown> = {},
  ): Promise<void> {
    await this.broadcast(command, { arguments: args, destination });
  }

  /**
   * Sends a command to every node, without waiting for replies (Kombu's `abcast`).
   *
   * @param command the command
   * @param args its keyword arguments
   */
  async abcast(command: string, args: Record<string, unknown> = {}): Promise<void> {
    await this.broadcast(command, { arguments: args });
  }

  /**
   * Sends a command to the named nodes and collects their replies (Kombu's `call`).
   *
   * @param destination hostnames
   * @param command the command
   * @param args its keyword arguments
   * @param options how long to wait (ms of silence, default 1000), a callback per reply
   * @returns the replies, `{hostname: result}` each
   */
  call(
    destination: readonly string[],
    command: string,
    args: Record<string, unknown> = {},
    options: CallOptions = {},
  ): Promise<PidboxReply[]> {
    return this.broadcast(command, { ...options, arguments: args, destination, reply: true });
  }

  /**
   * Sends a command to every node (or those matching `pattern`) and collects the replies
   * (Kombu's `multi_call`).
   *
   * @param command the command
   * @param args its keyword arguments
   * @param options ms of silence to wait (default 1000), most replies, pattern and matcher
   * @returns the replies, `{hostname: result}` each
   */
  multiCall(
    command: string,
    args: Record<string, unknown> = {},
    options: CallOptions = {},
  ): Promise<PidboxReply[]> {
    return this.broadcast(command, { ...options, arguments: args, reply: true });
  }

  /**
   * Sends a command (Kombu's `_broadcast`, which Celery's `control.broadcast` uses).
   *
   * @param command the command
   * @param options destination or pattern, arguments, whether and how to collect replies
   * @returns the replies when `reply` is true, else an empty list
   * @throws {NotBoundError} when the mailbox has no connection
   * @throws {ConfigurationError} when the matcher is not installed
   */
  async broadcast(command: string, options: BroadcastOptions = {}): Promise<PidboxReply[]> {
    const matcher = options.pattern !== undefined
      ? options.matcher ?? this.#matchers.defaultMatcher
      : options.matcher;
    if (matcher !== undefined && !this.#matchers.has(matcher)) {
      throw new ConfigurationError(
        `Cannot send "${command}" with matcher "${matcher}": not installed`,
      );
    }
    const timeout = options.timeout ?? 1000;
    const request: PidboxRequest = {
      method: command,
      arguments: options.arguments ?? {},
      destination: options.destination ? [...options.destination] : null,
      pattern: options.pattern ?? null,
      matcher: matcher ?? null,
    };
    if (!options.reply) {
      await this.#publishRequest(request, undefined, options.serializer);
      return [];
    }
    const ticket = uuid();
    request.ticket = ticket;
    request.reply_to = { exchange: this.replyExchange.name, routing_key: await this.oid() };
    const limit = options.limit ?? (options.destination?.length || undefined);
    await this.#listenForReplies(this.#connection("collect replies"));
    const replies: PidboxReply[] = [];
    let wake: (() => void) | undefined;
    this.#collectors.set(ticket, {
      push: (reply) => {
        replies.push(reply);
        try {
          options.callback?.(reply);
        } catch (error) {
          log.error(`Reply callback failed for "${command}":`, error);
        }
        wake?.();
      },
    });
    try {
      await this.#publishRequest(request, timeout, options.serializer);
      await new Promise<void>((resolve) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        let finished = false;
        const done = () => {
          finished = true;
          wake = undefined;
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", done);
          resolve();
        };
        const arm = () => {
          clearTimeout(timer);
          if (!finished) timer = setTimeout(done, timeout);
        };
        wake = () => (limit !== undefined && replies.length >= limit ? done() : arm());
        if (options.signal?.aborted) return done();
        options.signal?.addEventListener("abort", done, { once: true });
        if (limit !== undefined && replies.length >= limit) return done();
        arm();
      });
    } finally {
      this.#collectors.delete(ticket);
    }
    return replies;
  }

  /**
   * Stops listening for replies (cancels the reply consumer; the broker then deletes the
   * auto-delete reply queue).
   */
  async close(): Promise<void> {
    const replies = this.#replies;
    this.#replies = undefined;
    if (replies === undefined) return;
    try {
      const consumer = await replies;
      await consumer.cancel();
      const queue = await this.getReplyQueue();
      // The queue goes with its consumer: declare it again next time.
      forgetDeclaration(this.connection, queue.declarationKey);
    } catch (error) {
      log.debug("Cannot cancel the reply consumer:", error);
    }
  }

  /** Same as {@link Mailbox.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #connection(action: string): Connection {
    if (this.connection === undefined) {
      throw new NotBoundError(
        `Cannot ${action} on mailbox "${this.namespace}": it has no connection (use bind())`,
      );
    }
    return this.connection;
  }

  /** The producer of requests and replies (on the connection's default channel). */
  producer(): Producer {
    this.#producer ??= new Producer(this.#connection("publish"), { autoDeclare: false });
    return this.#producer;
  }

  /** Publishes with a pooled producer when there is a pool (Kombu's `producer_or_acquire`). */
  async #publish(body: unknown, options: PublishOptions): Promise<void> {
    const pool = this.options.producerPool;
    if (pool === undefined) return await this.producer().publish(body, options);
    await using lease = await pool.acquire();
    await lease.resource.publish(body, options);
  }

  async #publishRequest(
    request: PidboxRequest,
    timeout: number | undefined,
    serializer: string | undefined,
  ): Promise<void> {
    await this.#publish(request, {
      exchange: this.exchange.name,
      routingKey: "",
      declare: [this.exchange],
      headers: {
        clock: this.clock.forward(),
        expires: request.ticket !== undefined && timeout ? Date.now() / 1000 + timeout / 1000 : 0,
      },
      serializer: serializer ?? this.serializer,
      deliveryMode: "transient",
      retry: true,
    });
  }

  /**
   * Publishes a reply (Kombu's `_publish_reply`). Nodes call it; errors are logged, since the
   * caller may be gone.
   *
   * @param reply `{hostname: result}`
   * @param exchange the reply exchange named in the request
   * @param routingKey the routing key named in the request
   * @param ticket the request's ticket
   */
  async publishReply(
    reply: PidboxReply,
    exchange: string,
    routingKey: string,
    ticket: string | undefined,
  ): Promise<void> {
    const target = new Exchange(exchange, {
      type: "direct",
      durable: false,
      deliveryMode: "transient",
    });
    const headers: FieldTable = { clock: this.clock.forward() };
    if (ticket !== undefined) headers.ticket = ticket;
    try {
      await this.#publish(reply, {
        exchange: target,
        routingKey,
        declare: [target],
        headers,
        serializer: this.serializer,
        deliveryMode: "transient",
        retry: true,
      });
    } catch (error) {
      log.warn(`Cannot send a pidbox reply to "${exchange}" / "${routingKey}":`, error);
    }
  }

  #listenForReplies(connection: Connection): Promise<Consumer> {
    this.#replies ??= (async () => {
      const queue = await this.getReplyQueue();
      const consumer = new Consumer(connection, [queue], {
        noAck: true,
        accept: this.accept,
        callbacks: [(body, message) => this.#onReply(body, message)],
      });
      await consumer.consume();
      return consumer;
    })();
    const pending = this.#replies;
    pending.catch(() => {
      if (this.#replies === pending) this.#replies = undefined;
    });
    return pending;
  }

  #onReply(body: unknown, message: Message): void {
    const headers = message.headers;
    this.clock.adjust(headers.clock);
    const expires = headerNumber(headers, "expires");
    if (expires && Date.now() / 1000 > expires) return;
    const ticket = typeof headers.ticket === "string" ? headers.ticket : undefined;
    // Replies from Kombu < 2.5 carry no ticket: give them to the oldest collector.
    const collector = ticket !== undefined
      ? this.#collectors.get(ticket)
      : this.#collectors.values().next().value;
    if (collector === undefined) {
      log.debug(`Dropping a pidbox reply for ticket "${ticket}": nobody waits for it`);
      return;
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      log.warn(`Dropping a malformed pidbox reply for ticket "${ticket}"`);
      return;
    }
    collector.push(body as PidboxReply);
  }

  /** Checks a hostname against a request's destination or pattern. */
  matches(
    hostname: string,
    request: Pick<PidboxRequest, "destination" | "pattern" | "matcher">,
  ): boolean {
    const { destination, pattern, matcher } = request;
    if (Array.isArray(destination) && destination.length > 0) return destination.includes(hostname);
    if (typeof pattern === "string" && pattern !== "") {
      try {
        return this.#matchers.match(
          hostname,
          pattern,
          typeof matcher === "string" ? matcher : null,
        );
      } catch (error) {
        log.warn(`Cannot match "${hostname}" against pattern "${pattern}":`, error);
        return false;
      }
    }
    return true;
  }
}

/**
 * A node listening on a mailbox (Kombu's `Node`): runs the commands addressed to it and replies
 * to calls.
 */
export class Node<S = undefined> {
  /** The node's name. */
  readonly hostname: string;
  /** The mailbox it listens on. */
  readonly mailbox: Mailbox;
  /** The state passed to handlers. */
  state: S;
  /** The command handlers by name. */
  readonly handlers: Map<string, PidboxHandler<S>>;
  #consumer: Consumer | undefined;

  /**
   * Makes a Node.
   *
   * @param hostname the node's name
   * @param mailbox the mailbox (bound to a connection before {@link Node.listen})
   * @param options state and handlers
   */
  constructor(
    hostname: string,
    mailbox: Mailbox,
    options: { state?: S; handlers?: Record<string, PidboxHandler<S>> } = {},
  ) {
    this.hostname = hostname;
    this.mailbox = mailbox;
    this.state = options.state as S;
    this.handlers = new Map(Object.entries(options.handlers ?? {}));
  }

  /**
   * Adds a command handler (Kombu's `@node.handler`).
   *
   * @param name the command
   * @param handler the function
   * @returns this node
   */
  handler(name: string, handler: PidboxHandler<S>): this {
    this.handlers.set(name, handler);
    return this;
  }

  /**
   * Starts consuming the node's queue (Kombu's `listen`).
   *
   * @returns the consumer
   * @throws {NotBoundError} when the mailbox has no connection
   */
  async listen(): Promise<Consumer> {
    if (this.#consumer) return this.#consumer;
    const connection = this.mailbox.connection;
    if (connection === undefined) {
      throw new NotBoundError(
        `Cannot listen as "${this.hostname}": mailbox "${this.mailbox.namespace}" has no connection`,
      );
    }
    const base = this.mailbox.getQueue(this.hostname);
    const queue = new Queue(base.name, {
      ...base.options,
      onDeclared: (ok) => {
        if (ok.consumerCount > 0) {
          log.warn(
            `A node named "${this.hostname}" is already using this mailbox: give each node a unique name`,
          );
        }
      },
    });
    const consumer = new Consumer(connection, [queue], {
      noAck: true,
      accept: this.mailbox.accept,
      callbacks: [(body, message) => this.handleMessage(body, message)],
      onDecodeError: (message, error) => {
        log.error(`Cannot decode a pidbox request (content type "${message.contentType}"):`, error);
      },
    });
    await consumer.consume();
    this.#consumer = consumer;
    return consumer;
  }

  /**
   * Handles one request body (Kombu's `handle_message`): adjusts the clock, checks the
   * destination or pattern, runs the handler, replies to calls. Requests whose `expires` header
   * has passed are dropped (their caller stopped waiting).
   *
   * @param body the decoded request
   * @param message the message it came in, if any
   * @returns the handler's result, or `undefined` when the request was not for this node
   */
  async handleMessage(body: unknown, message?: Message): Promise<unknown> {
    if (message) {
      this.mailbox.clock.adjust(message.headers.clock);
      const expires = headerNumber(message.headers, "expires");
      if (expires && Date.now() / 1000 > expires) {
        log.debug(`Dropping an expired pidbox request for "${this.hostname}"`);
        return undefined;
      }
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      log.warn(`Dropping a malformed pidbox request for "${this.hostname}"`);
      return undefined;
    }
    const request = body as PidboxRequest;
    if (!this.mailbox.matches(this.hostname, request)) return undefined;
    return await this.dispatch(request, message);
  }

  /**
   * Runs a request's handler and replies when it is a call (Kombu's `dispatch`).
   *
   * @param request the request
   * @param message the message it came in, if any
   * @returns the result (or `{error}` when the handler threw)
   */
  async dispatch(request: PidboxRequest, message?: Message): Promise<unknown> {
    const { method, reply_to: replyTo, ticket } = request;
    const args = request.arguments && typeof request.arguments === "object"
      ? request.arguments
      : {};
    log.debug(
      `pidbox received method ${method} [reply_to: ${JSON.stringify(replyTo)} ticket: ${ticket}]`,
    );
    let reply: unknown;
    try {
      const handler = this.handlers.get(method);
      if (handler === undefined) {
        throw Object.assign(new Error(method), { name: "KeyError" });
      }
      reply = await handler(this.state, args, { node: this, message, request });
    } catch (error) {
      log.error(`pidbox command "${method}" failed:`, error);
      reply = { error: reprError(error) };
    }
    if (
      replyTo && typeof replyTo.exchange === "string" && typeof replyTo.routing_key === "string"
    ) {
      await this.mailbox.publishReply(
        { [this.hostname]: wireValue(reply) },
        replyTo.exchange,
        replyTo.routing_key,
        typeof ticket === "string" ? ticket : undefined,
      );
    }
    return reply;
  }

  /** Stops listening (cancels the consumer; the broker deletes the auto-delete queue). */
  async close(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    if (consumer === undefined) return;
    await consumer.cancel();
    forgetDeclaration(this.mailbox.connection, this.mailbox.getQueue(this.hostname).declarationKey);
  }

  /** Same as {@link Node.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
