/**
 * Celery's events (`celery.events.EventDispatcher`): dicts published to the `celeryev` exchange
 * (topic; fanout on Redis, as Celery) with the routing key `task.succeeded` for the type
 * `task-succeeded`, headers `{"hostname"}`, transient, JSON. Each event carries `hostname`,
 * `utcoffset`, `pid`, `clock` (a Lamport clock), `timestamp` (seconds) and `type`, so that
 * `celery events` and Flower read them.
 *
 * @module
 */

import { type Connection, Exchange, getLogger, LamportClock } from "../mod.ts";
import { processId } from "./host.ts";

const log = getLogger("celery.events");

/** Celery's `utcoffset()`: the local offset to UTC in whole hours, west positive. */
function utcoffset(): number {
  return Math.floor(new Date().getTimezoneOffset() / 60);
}

/** Sends events on a connection. */
export class EventDispatcher {
  /** The node name stamped on events. */
  readonly hostname: string;
  /** The `celeryev` exchange. */
  readonly exchange: Exchange;
  /** The Lamport clock of the events. */
  readonly clock: LamportClock;
  readonly #connection: Connection;
  #sending: Promise<void> = Promise.resolve();

  /**
   * Makes a dispatcher.
   *
   * @param connection the broker connection
   * @param options the node name, the exchange type (`fanout` on Redis), a shared clock
   */
  constructor(
    connection: Connection,
    options: { hostname: string; exchangeType?: "topic" | "fanout"; clock?: LamportClock },
  ) {
    this.#connection = connection;
    this.hostname = options.hostname;
    this.clock = options.clock ?? new LamportClock();
    this.exchange = new Exchange("celeryev", {
      type: options.exchangeType ?? "topic",
      deliveryMode: "transient",
    });
  }

  /**
   * The event Celery would send (`Event(type, hostname=..., utcoffset=..., pid=..., clock=...)`).
   *
   * @param type such as `task-succeeded`
   * @param fields the event's own fields
   * @returns the event
   */
  event(type: string, fields: Record<string, unknown>): Record<string, unknown> {
    return {
      hostname: this.hostname,
      utcoffset: utcoffset(),
      pid: processId(),
      clock: this.clock.forward(),
      ...fields,
      timestamp: Date.now() / 1000,
      type,
    };
  }

  /**
   * Sends an event, in order after those before; a failure is logged, never thrown.
   *
   * @param type such as `task-succeeded`
   * @param fields the event's own fields
   * @returns when it was published (or failed)
   */
  send(type: string, fields: Record<string, unknown> = {}): Promise<void> {
    const body = this.event(type, fields);
    this.#sending = this.#sending.then(async () => {
      try {
        await this.#connection.producer().publish(body, {
          exchange: this.exchange,
          routingKey: type.replace(/-/g, "."),
          declare: [this.exchange],
          headers: { hostname: this.hostname },
          deliveryMode: 1,
          serializer: "json",
        });
      } catch (error) {
        log.warn(`Cannot send the event "${type}":`, error);
      }
    });
    return this.#sending;
  }

  /** Waits for the events sent so far. */
  flush(): Promise<void> {
    return this.#sending;
  }
}
