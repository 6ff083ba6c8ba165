"""Python Kombu peer of the etcd and ZooKeeper interop tests (any virtual transport by URL).

usage: store_peer.py publish|consume JSON
JSON: {"url": "etcd://127.0.0.1:PORT" or "zookeeper://127.0.0.1:PORT/", "queue": NAME, "count": N, "seconds": S, "requeue": bool,
  "idle": IDLE}
publish: sends COUNT messages {"from": "kombu", "n": i} with a header, priority, a correlation id
  and reply_to, every odd one zlib-compressed.
consume: prints one JSON line per message received (body, headers, properties, redelivered),
  acking each (or rejecting with requeue the first one when "requeue"); stops after COUNT
  messages (and the requeue), S seconds, or IDLE seconds without a message.
"""
import json
import sys
import time

from kombu import Connection, Exchange, Queue

mode = sys.argv[1]
args = json.loads(sys.argv[2])
name = args["queue"]
count = args.get("count", 1)

with Connection(args["url"], transport_options={"polling_interval": 0.05}) as conn:
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    if mode == "publish":
        producer = conn.Producer()
        for i in range(count):
            producer.publish({"from": "kombu", "n": i, "text": "h\u00e9llo \u2713"}, exchange=queue.exchange,
                             routing_key=name, declare=[queue], headers={"x-peer": "python"},
                             priority=i % 10, correlation_id="py-%d" % i, reply_to="replies",
                             compression="zlib" if i % 2 else None)
    else:
        got = []
        requeued = []

        def on_message(body, message):
            if args.get("requeue") and not requeued:
                requeued.append(True)
                message.requeue()
                return
            got.append({"body": body, "headers": message.headers,
                        "correlation_id": message.properties.get("correlation_id"),
                        "reply_to": message.properties.get("reply_to"),
                        "content_type": message.content_type,
                        "redelivered": bool(message.delivery_info.get("redelivered")),
                        "routing_key": message.delivery_info.get("routing_key")})
            message.ack()
            print(json.dumps(got[-1]), flush=True)

        with conn.Consumer(queue, callbacks=[on_message], accept=["json"]):
            print("READY", flush=True)
            deadline = time.time() + args.get("seconds", 20)
            last = time.time()
            while (len(got) < count or (args.get("requeue") and not requeued)) and time.time() < deadline:
                if "idle" in args and time.time() - last > args["idle"]:
                    break
                try:
                    conn.drain_events(timeout=0.2)
                    last = time.time()
                except Exception:
                    pass
