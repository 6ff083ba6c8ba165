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

export { Mailbox } from "./pidbox/mailbox.ts";
export type { BroadcastOptions, CallOptions, MailboxOptions } from "./pidbox/options.ts";
export { type HandlerContext, Node, type PidboxHandler } from "./pidbox/node.ts";
export { type PidboxReply, type PidboxRequest, REPLY_QUEUE_EXPIRES } from "./pidbox/wire.ts";
