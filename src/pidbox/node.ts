/**
 * A pidbox node (Kombu's `kombu.pidbox.Node`): listens on its mailbox, runs the commands
 * addressed to it and replies to calls.
 *
 * @module
 */

import { forgetDeclaration } from "../_connection_internals.ts";
import { Consumer } from "../consumer.ts";
import { Queue } from "../entity.ts";
import { NotBoundError } from "../errors.ts";
import { getLogger } from "../logger.ts";
import type { Message } from "../message.ts";
import type { Mailbox } from "./mailbox.ts";
import { headerNumber, type PidboxRequest, reprError, wireValue } from "./wire.ts";

const log = getLogger("pidbox");

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
