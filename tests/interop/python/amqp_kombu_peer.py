"""Python Kombu peer of the AMQP interop test (Debian's python3-kombu, py-amqp transport).

Usage: amqp_kombu_peer.py publish|consume '<json args>'
  publish: sends `count` messages to `queue` through the default exchange, with headers,
           priority, correlation id, reply-to, and zlib compression on odd messages.
  consume: takes `count` messages from `queue`, acks them, prints one JSON line each.
"""
import json
import sys

from kombu import Connection, Queue

URL = "amqp://guest:guest@127.0.0.1:5672//"


def queue_of(args):
    return Queue(args["queue"], routing_key=args["queue"], durable=False,
                 queue_arguments={"x-max-priority": 10})


def publish(args):
    with Connection(URL) as conn:
        producer = conn.Producer(serializer="json")
        q = queue_of(args)
        for i in range(args["count"]):
            producer.publish(
                {"n": i, "text": "h\u00e9llo from python", "list": [1, 2.5, None, True]},
                exchange="",
                routing_key=args["queue"],
                declare=[q],
                headers={"x-origin": "python", "n": i},
                priority=i % 10,
                correlation_id="corr-%d" % i,
                reply_to="replies-%d" % i,
                compression="zlib" if i % 2 else None,
                expiration=60,
            )


def consume(args):
    seen = []
    with Connection(URL) as conn:
        q = queue_of(args)

        def on_message(body, message):
            props = message.properties
            seen.append({
                "body": body,
                "headers": message.headers,
                "priority": props.get("priority"),
                "delivery_mode": props.get("delivery_mode"),
                "correlation_id": props.get("correlation_id"),
                "reply_to": props.get("reply_to"),
                "expiration": props.get("expiration"),
                "content_type": message.content_type,
                "content_encoding": message.content_encoding,
                "routing_key": message.delivery_info.get("routing_key"),
            })
            message.ack()

        with conn.Consumer([q], callbacks=[on_message], accept=["json"]):
            while len(seen) < args["count"]:
                conn.drain_events(timeout=10)
    for item in seen:
        print(json.dumps(item, sort_keys=True))


if __name__ == "__main__":
    {"publish": publish, "consume": consume}[sys.argv[1]](json.loads(sys.argv[2]))
