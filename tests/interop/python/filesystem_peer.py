"""Python Kombu peer for the filesystem interop test.

usage: filesystem_peer.py publish|consume FOLDER QUEUE [COUNT [COMPRESSIONS]]
publish: sends COUNT messages {"from": "kombu", "n": i} with headers, priority and a correlation id,
compressed with zlib every other message, or with COMPRESSIONS (comma-separated) in turn.
consume: prints one JSON line per message received (body, headers, properties), acking each.
"""
import json
import sys

from kombu import Connection, Exchange, Queue

mode, folder, queue_name = sys.argv[1:4]
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
compressions = sys.argv[5].split(",") if len(sys.argv) > 5 else None
options = {"data_folder_in": folder, "data_folder_out": folder, "processed_folder": folder + "/processed"}

with Connection("filesystem://", transport_options=options) as conn:
    queue = Queue(queue_name, Exchange(queue_name, type="direct"), routing_key=queue_name)
    if mode == "publish":
        producer = conn.Producer()
        for i in range(count):
            compression = compressions[i % len(compressions)] if compressions else "zlib" if i % 2 else None
            producer.publish({"from": "kombu", "n": i}, routing_key=queue_name, headers={"x-peer": "python"},
                             correlation_id="py-%d" % i, reply_to="replies", compression=compression)
    else:
        got = []

        def on_message(body, message):
            got.append({"body": body, "headers": message.headers,
                        "correlation_id": message.properties.get("correlation_id"),
                        "reply_to": message.properties.get("reply_to"),
                        "content_type": message.content_type})
            message.ack()

        with conn.Consumer(queue, callbacks=[on_message], accept=["json"]):
            for _ in range(count * 20):
                if len(got) >= count:
                    break
                try:
                    conn.drain_events(timeout=0.5)
                except Exception:
                    pass
        for item in got:
            print(json.dumps(item))
