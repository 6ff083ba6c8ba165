"""Python Kombu peer of the Redis interop test.

usage: redis_peer.py COMMAND 'JSON'
  publish  {"prefix", "exchange", "type", "routing_key", "messages": [{"body", "priority"}],
            "declare": [{"queue", "exchange", "type", "routing_key"}]}
  bind     {"prefix", "queue", "exchange", "type", "routing_key"}: declares and binds, no consume
  consume  {"prefix", "queues": [{"queue", "exchange", "type", "routing_key"}], "count",
            "seconds", "ack": true, "ready": false, "visibility_timeout"}
           prints READY (with "ready") once subscribed, then one JSON line per message
  die      {"prefix", "queue", "exchange", "type", "routing_key"}: takes one message, prints it,
           and exits at once without acking (a consumer that crashed)
Every command uses redis://127.0.0.1:6379/0 with the given global_keyprefix.
"""
import json
import os
import sys
import time

from kombu import Connection, Exchange, Queue

command, args = sys.argv[1], json.loads(sys.argv[2])
options = {"global_keyprefix": args["prefix"]}
if "visibility_timeout" in args:
    options["visibility_timeout"] = args["visibility_timeout"]


def queue_of(spec):
    exchange = Exchange(spec["exchange"], type=spec.get("type", "direct")) if spec.get("exchange") else None
    return Queue(spec["queue"], exchange, routing_key=spec.get("routing_key", spec["queue"]))


def describe(body, message):
    return {
        "body": body,
        "headers": message.headers,
        "priority": message.properties.get("priority"),
        "redelivered": bool(message.delivery_info.get("redelivered")) or bool(message.headers.get("redelivered")),
        "routing_key": message.delivery_info.get("routing_key"),
        "exchange": message.delivery_info.get("exchange"),
        "delivery_tag": message.delivery_tag,
    }


with Connection("redis://127.0.0.1:6379/0", transport_options=options) as conn:
    if command == "publish":
        exchange = Exchange(args["exchange"], type=args.get("type", "direct")) if args.get("exchange") else ""
        # Producer(exchange=...) declares the exchange, so this process knows its type (Kombu keeps
        # exchange types in the process, never in Redis).
        producer = conn.Producer(exchange=exchange) if exchange else conn.Producer()
        declare = [queue_of(spec) for spec in args.get("declare", [])]
        for spec in declare:
            spec(conn.default_channel).declare()
        for m in args["messages"]:
            producer.publish(m["body"], exchange=exchange, routing_key=args.get("routing_key", ""),
                             priority=m.get("priority", 0), headers={"x-peer": "python"})
    elif command == "bind":
        queue_of(args)(conn.default_channel).declare()
    elif command == "consume":
        got = []

        def on_message(body, message):
            got.append(describe(body, message))
            if args.get("ack", True):
                message.ack()

        queues = [queue_of(spec) for spec in args["queues"]]
        with conn.Consumer(queues, callbacks=[on_message], accept=["json"], prefetch_count=args.get("prefetch", 0)):
            deadline = time.time() + args.get("seconds", 10)
            if args.get("ready"):
                # The first drain subscribes fanout queues (PSUBSCRIBE) and starts BRPOP.
                try:
                    conn.drain_events(timeout=0.2)
                except Exception:
                    pass
                print("READY", flush=True)
            while len(got) < args["count"] and time.time() < deadline:
                try:
                    conn.drain_events(timeout=0.3)
                except Exception:
                    pass
        for item in got:
            print(json.dumps(item), flush=True)
    elif command == "die":
        got = []

        def on_message(body, message):
            got.append(describe(body, message))

        with conn.Consumer([queue_of(args)], callbacks=[on_message], accept=["json"]):
            deadline = time.time() + 10
            while not got and time.time() < deadline:
                try:
                    conn.drain_events(timeout=0.3)
                except Exception:
                    pass
            # Exit inside the consumer: no cancel, no channel close, no restore at shutdown.
            print(json.dumps(got[0]) if got else "{}", flush=True)
            os._exit(0)
    else:
        raise SystemExit("unknown command " + command)
