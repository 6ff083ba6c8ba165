/**
 * The pidbox mailbox (Kombu's `kombu.pidbox.Mailbox`): sends commands to nodes and collects the
 * replies of calls. See `src/pidbox.ts` for the wire format.
 *
 * @module
 */

import { forgetDeclaration } from "../_connection_internals.ts";
import type { Connection } from "../connection.ts";
import { Consumer } from "../consumer.ts";
import { Exchange, Queue } from "../entity.ts";
import { ConfigurationError, NotBoundError } from "../errors.ts";
import { getLogger } from "../logger.ts";
import type { Message } from "../message.ts";
import { Producer, type PublishOptions } from "../producer.ts";
import type { ExchangeType, FieldTable } from "../transport.ts";
import { LamportClock } from "../utils/clock.ts";
import { type MatcherRegistry, matchers } from "../utils/matcher.ts";
import type { BroadcastOptions, CallOptions, MailboxOptions } from "./options.ts";
import { oidFrom, uuid } from "../utils/uuid.ts";
import { matchesDestination } from "./destination.ts";
import { Node, type PidboxHandler } from "./node.ts";
import { headerNumber, type PidboxReply, type PidboxRequest, REPLY_QUEUE_EXPIRES } from "./wire.ts";

const log = getLogger("pidbox");

interface Collector {
  push(reply: PidboxReply): void;
}

/**
 * A process mailbox (Kombu's `Mailbox`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection } from "@wakame/wakame";
 * import { Mailbox } from "@wakame/wakame";
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

  /**
   * Checks a hostname against a request's destination or pattern.
   *
   * @param hostname the node's name
   * @param request the request's `destination`, `pattern` and `matcher`
   * @returns true when the node should run the request
   */
  matches(
    hostname: string,
    request: Pick<PidboxRequest, "destination" | "pattern" | "matcher">,
  ): boolean {
    return matchesDestination(hostname, request, this.#matchers);
  }
}
