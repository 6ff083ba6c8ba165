"""Python Kombu peer for the SQL (sqla+) interop test.

usage: sql_peer.py publish|consume|take URL TABLES_JSON QUEUE [COUNT]
publish: sends COUNT messages {"from": "kombu", "n": i} (odd ones zlib) with headers and ids.
consume: prints one JSON line per message received (body, headers, properties), acking each.
take: takes one message and exits without acking (Kombu's row stays hidden: lost to Kombu).
"""
import json
import os
import sys

from kombu import Connection, Exchange, Queue

mode, url, tables, queue_name = sys.argv[1:5]
count = int(sys.argv[5]) if len(sys.argv) > 5 else 1
# Kombu 5.2 hands every transport option to create_engine(), so polling_interval cannot be one.
options = json.loads(tables)

with Connection(url, transport_options=options) as conn:
    conn.transport.polling_interval = 0.05
    queue = Queue(queue_name, Exchange(queue_name, type="direct"), routing_key=queue_name)
    if mode == "publish":
        producer = conn.Producer()
        for i in range(count):
            producer.publish({"from": "kombu", "n": i}, routing_key=queue_name, declare=[queue],
                             headers={"x-peer": "python"}, correlation_id="py-%d" % i,
                             reply_to="replies", compression="zlib" if i % 2 else None)
    elif mode == "take":
        simple = conn.SimpleQueue(queue)
        message = simple.get(timeout=5)
        print(json.dumps({"body": message.payload}), flush=True)
        os._exit(0)  # die holding it: no restore at close
    else:
        got = []

        def on_message(body, message):
            got.append({"body": body, "headers": message.headers,
                        "correlation_id": message.properties.get("correlation_id"),
                        "reply_to": message.properties.get("reply_to"),
                        # Kombu's restore marks the envelope itself
                        "redelivered": message._raw.get("redelivered", False),
                        "content_type": message.content_type})
            message.ack()

        with conn.Consumer(queue, callbacks=[on_message], accept=["json"]):
            for _ in range(count * 40):
                if len(got) >= count:
                    break
                try:
                    conn.drain_events(timeout=0.25)
                except Exception:
                    pass
        for item in got:
            print(json.dumps(item))
