/**
 * Per-message debug lines (`WAKAME_LOG=debug`), sampled: `setLogger(sink, { level: "debug",
 * sample: 0.01 })` or `WAKAME_LOG_SAMPLE=0.01` writes the lines of about one message in a
 * hundred (a delivery's settle line follows its delivery line).
 *
 * @module
 */

import { getLogger, sampleMessage } from "../logger.ts";
import type { TracedMessage } from "./instrument.ts";

const log = getLogger("messages");

/** Writes the debug lines of publishes, deliveries and settles. */
export class MessageLog {
  readonly #sampled = new WeakSet<object>();

  /** Notes a publish (when sampled). */
  notePublish(exchange: string, routingKey: string): void {
    if (!sampleMessage()) return;
    log.debug(`Publishing to exchange "${exchange}" with routing key "${routingKey}"`);
  }

  /** Notes a delivery (when sampled; its settle line follows). */
  noteDelivery(message: TracedMessage): void {
    if (!sampleMessage()) return;
    this.#sampled.add(message);
    const info = message.deliveryInfo;
    log.debug(
      `Received message ${String(info.deliveryTag)} from exchange "${info.exchange ?? ""}" ` +
        `with routing key "${info.routingKey ?? ""}"` +
        `${info.redelivered ? " (redelivered)" : ""} on consumer ${info.consumerTag ?? "-"}`,
    );
  }

  /** Notes an ack, reject or requeue of a sampled delivery. */
  noteSettled(message: TracedMessage, state: string): void {
    if (!this.#sampled.delete(message)) return;
    const verb = state === "ACK" ? "acked" : state === "REQUEUED" ? "requeued" : "rejected";
    log.debug(`Message ${String(message.deliveryInfo.deliveryTag)} ${verb}`);
  }

  /**
   * The hook of a producer when only logging is on.
   *
   * @returns what `send` returns
   */
  publish(
    _source: unknown,
    exchange: string,
    routingKey: string,
    headers: Record<string, unknown> | undefined,
    send: (headers: Record<string, unknown> | undefined) => Promise<void>,
  ): Promise<void> {
    this.notePublish(exchange, routingKey);
    return send(headers);
  }

  /**
   * The hook of a consumer when only logging is on.
   *
   * @returns what `run` returns
   */
  deliver<R>(_source: unknown, message: TracedMessage, run?: () => R): R | undefined {
    this.noteDelivery(message);
    return run?.();
  }

  /** The hook of a settle when only logging is on. */
  settled(message: TracedMessage, state: string): void {
    this.noteSettled(message, state);
  }
}

/** The one message log. */
export const messageLog: MessageLog = new MessageLog();
