"""Python Kombu (Debian's python3-kombu 5.2.4) as a live peer of wakame on fauxqs and Azurite.

Kombu's own transports run unchanged against the emulators, with the two shims from
`../shared/peers/` (next to the repository; see its README):
- sqs: boto3 speaks SQS's JSON protocol when AWS_DATA_PATH holds the model that
  `sqs_json_model.py DIR` writes (the caller sets it);
- azure: `kombu52_azure.install()` gives Kombu 5.2's `QueueService` on azure-storage-queue 12,
  sent to INTEROP_AZURE_QUEUE_ENDPOINT (the caller sets it).

Usage: cloud_kombu_peer.py KIND URL QUEUE ACTION [ARGS]   (KIND: sqs | azure)
  produce                 publishes the two messages below; prints {"names": [...]}
  get N TIMEOUT [MODE]    takes up to N messages, waiting up to TIMEOUT seconds for each;
                          MODE ack (default) acks them; crash prints them and exits without
                          ack or close, as a killed worker would (nothing is given back)
                          prints [{"payload", "content_type", "headers", "properties",
                          "routing_key", "redelivered", "receive_count"}]
  count                   prints {"visible": n, "hidden": n|null}: SQS's approximate
                          visible and in-flight counts; Azure's count includes hidden messages
                          (hidden is null)
Environment: PEER_SHIMS (the shims' folder), PEER_VISIBILITY (seconds, SQS queues Kombu creates).
"""
import json
import os
import sys

sys.path.insert(0, os.environ["PEER_SHIMS"])

from kombu import Connection  # noqa: E402


def connect(kind, url):
    if kind == "sqs":
        return Connection(url, transport_options={
            "region": "us-east-1",
            "visibility_timeout": int(os.environ.get("PEER_VISIBILITY", "1")),
            "wait_time_seconds": 1,
        })
    import kombu52_azure
    kombu52_azure.install()
    return Connection(url, transport_options={"polling_interval": 0.2})


def describe(message):
    props = {k: v for k, v in message.properties.items()
             if k not in ("delivery_info", "delivery_tag")}
    info = message.delivery_info
    attributes = (info.get("sqs_message") or {}).get("Attributes") or {}
    return {
        "payload": message.payload,
        "content_type": message.content_type,
        "headers": message.headers,
        "properties": props,
        "routing_key": info.get("routing_key"),
        "redelivered": bool(message.delivery_info.get("redelivered")),
        "receive_count": attributes.get("ApproximateReceiveCount"),
    }


def count(kind, channel, queue):
    if kind == "sqs":
        url = channel._new_queue(queue)
        attrs = channel.sqs(queue=channel.canonical_queue_name(queue)).get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return {"visible": int(attrs["ApproximateNumberOfMessages"]),
                "hidden": int(attrs["ApproximateNumberOfMessagesNotVisible"])}
    return {"visible": channel._size(queue), "hidden": None}


def main():
    kind, url, queue, action, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    conn = connect(kind, url)
    if action == "produce":
        with conn:
            producer = conn.Producer()
            producer.publish(
                {"hello": "wörld", "n": 1},
                routing_key=queue,
                declare=[],
                headers={"x-trace": "t-1"},
                correlation_id="corr-1",
                reply_to="replies",
                message_id="mid-1",
            )
            producer.publish("plain <&> text", routing_key=queue)
            channel = conn.default_channel
            names = [channel.canonical_queue_name(queue) if kind == "sqs"
                     else channel.entity_name(channel.queue_name_prefix + queue)]
        print(json.dumps({"names": names}))
        return
    if action == "count":
        with conn:
            print(json.dumps(count(kind, conn.default_channel, queue)))
        return
    if action == "get":
        n, timeout = int(args[0]), float(args[1])
        mode = args[2] if len(args) > 2 else "ack"
        out = []
        simple = conn.SimpleQueue(queue)
        simple.consumer.qos(prefetch_count=1)  # take no more than asked for
        for _ in range(n):
            try:
                message = simple.get(timeout=timeout)
            except simple.Empty:
                break
            out.append(describe(message))
            if mode == "ack":
                message.ack()
        print(json.dumps(out))
        sys.stdout.flush()
        if mode == "crash":
            os._exit(0)
        simple.close()
        conn.close()
        return
    raise SystemExit("unknown action %r" % action)


main()
