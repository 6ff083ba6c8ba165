"""Python Kombu, the same shape as wakame's benchmarks: publish N small JSON messages to a direct
exchange, then consume them all, acking each.

Usage: kombu_publish_consume.py N URL [PREFETCH [GLOBAL_KEYPREFIX]]
(PREFETCH 0 means no limit; the key prefix is a Redis transport option; more transport options,
such as the SQL transport's table names, as JSON in the environment variable
KOMBU_TRANSPORT_OPTIONS).
For a pyro:// URL with a port, Kombu's Pyro transport is told that port for its name server
(Kombu 5.2 always asks port 9090, `Transport.default_port`).
Prints one JSON line: {"publish": msg/s, "consume": msg/s, "total": msg/s}."""
import json
import os
import sys
import time
from urllib.parse import urlparse

from kombu import Connection, Exchange, Queue

n = int(sys.argv[1])
url = sys.argv[2]
parsed = urlparse(url)
if parsed.scheme == "pyro" and parsed.port:
    import kombu.transport.pyro

    kombu.transport.pyro.Transport.default_port = parsed.port
prefetch = int(sys.argv[3]) if len(sys.argv) > 3 else 0
options = {"global_keyprefix": sys.argv[4]} if len(sys.argv) > 4 else {}
options.update(json.loads(os.environ.get("KOMBU_TRANSPORT_OPTIONS", "{}")))
body = {"id": 0, "name": "wakame", "tags": ["a", "b"], "ok": True}
with Connection(url, transport_options=options) as conn:
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

    consumer_options = {"prefetch_count": prefetch} if prefetch else {}
    with conn.Consumer(queue, callbacks=[on_message], accept=["json"], **consumer_options):
        while got[0] < n:
            conn.drain_events(timeout=1)
    t2 = time.perf_counter()
print(json.dumps({"publish": n / (t1 - t0), "consume": n / (t2 - t1), "total": n / (t2 - t0)}))
