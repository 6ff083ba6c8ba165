"""Python Kombu's Redis transport: publish then consume N small JSON messages (ack each, with
Kombu's ack emulation). Usage: kombu_redis.py N GLOBAL_KEYPREFIX.
Prints one JSON line: {"publish": msg/s, "consume": msg/s, "total": msg/s}."""
import json
import sys
import time

from kombu import Connection, Exchange, Queue

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
prefix = sys.argv[2] if len(sys.argv) > 2 else "bench-py:"
body = {"id": 0, "name": "wakame", "tags": ["a", "b"], "ok": True}
with Connection("redis://127.0.0.1:6379/0", transport_options={"global_keyprefix": prefix}) as conn:
    exchange = Exchange("bench", type="direct")
    queue = Queue("bench", exchange, routing_key="bench")
    producer = conn.Producer(serializer="json")
    t0 = time.perf_counter()
    for i in range(n):
        body["id"] = i
        producer.publish(body, exchange=exchange, routing_key="bench", declare=[queue])
    t1 = time.perf_counter()
    got = [0]

    def on_message(b, message):
        got[0] += 1
        message.ack()

    with conn.Consumer(queue, callbacks=[on_message], accept=["json"], prefetch_count=100):
        while got[0] < n:
            conn.drain_events(timeout=1)
    t2 = time.perf_counter()
print(json.dumps({"publish": n / (t1 - t0), "consume": n / (t2 - t1), "total": n / (t2 - t0)}))
