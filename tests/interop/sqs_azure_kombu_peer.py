"""Python Kombu (Debian's python3-kombu 5.2) as the peer of wakame's SQS and Azure transports.

Neither emulator is reachable from Kombu 5.2 here (see tests/interop/sqs_kombu_test.ts), so
the peer runs Kombu's own channel code (`_put`, `_get`, `_get_bulk`, `entity_name`) against an
in-process stand-in of the service client, and exchanges what Kombu would have put on the wire:
SQS `MessageBody` strings and Azure message texts.

Usage:
  sqs_azure_kombu_peer.py produce sqs|azure QUEUE   -> JSON {"bodies": [...], "name": "..."}
  sqs_azure_kombu_peer.py consume sqs|azure QUEUE BODIES   (BODIES: a JSON list of bodies)
                                                    -> JSON list of decoded messages
"""
import json
import sys

from kombu import Connection


class FakeSqs:
    def __init__(self, inbox):
        self.sent = []
        self.inbox = list(inbox)
        self.names = []

    def list_queues(self, **kw):
        return {}

    def get_queue_url(self, QueueName):
        return {"QueueUrl": "http://fake/000000000000/" + QueueName}

    def create_queue(self, QueueName, Attributes, **kw):
        self.names.append(QueueName)
        return {"QueueUrl": "http://fake/000000000000/" + QueueName}

    def send_message(self, **kw):
        self.sent.append(kw["MessageBody"])

    def receive_message(self, QueueUrl, MaxNumberOfMessages=1, **kw):
        out = []
        while self.inbox and len(out) < MaxNumberOfMessages:
            body = self.inbox.pop(0)
            out.append({"Body": body, "ReceiptHandle": "rh-%d" % len(out), "MessageId": "m"})
        return {"Messages": out} if out else {}

    def delete_message(self, **kw):
        pass

    def change_message_visibility(self, **kw):
        pass

    def get_queue_attributes(self, **kw):
        return {"Attributes": {"ApproximateNumberOfMessages": str(len(self.inbox))}}


class FakeAzureMessage:
    def __init__(self, content):
        self.content = content
        self.id = "id"
        self.pop_receipt = "pr"


def fake_azure_service(inbox, sent, names):
    class FakeQueueService:
        def __init__(self, account_name=None, account_key=None):
            pass

        def list_queues(self):
            return []

        def create_queue(self, name, fail_on_exist=False):
            names.append(name)

        def put_message(self, queue, text):
            sent.append(text)

        def get_messages(self, queue, num_messages=1, timeout=None):
            return [FakeAzureMessage(inbox.pop(0))] if inbox else []

        def decode_function(self, content):
            return content

        def delete_message(self, queue, message_id, pop_receipt):
            pass

        def get_queue_metadata(self, queue):
            class Meta:
                approximate_message_count = len(inbox)
            return Meta()

    return FakeQueueService


def connect(kind, inbox):
    if kind == "sqs":
        from kombu.transport import SQS

        fake = FakeSqs(inbox)
        SQS.Channel.sqs = lambda self, queue=None: fake
        return Connection("sqs://", transport_options={"region": "us-east-1"}), fake.sent, fake.names
    from kombu.transport import azurestoragequeues as az

    sent, names = [], []
    az.QueueService = fake_azure_service(list(inbox), sent, names)
    return Connection("azurestoragequeues://:a2V5@account"), sent, names


def main():
    mode, kind, queue = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "produce":
        conn, sent, names = connect(kind, [])
        with conn:
            producer = conn.Producer()
            producer.publish(
                {"hello": "wörld", "n": 1},
                routing_key=queue,
                headers={"x-trace": "t-1"},
                correlation_id="corr-1",
                reply_to="replies",
                message_id="mid-1",
            )
            producer.publish("plain text", routing_key=queue)
        print(json.dumps({"bodies": sent, "names": names}))
        return
    inbox = json.loads(sys.argv[4])
    conn, _, _ = connect(kind, inbox)
    out = []
    with conn:
        simple = conn.SimpleQueue(queue)
        for _ in range(len(inbox)):
            message = simple.get(timeout=1)
            props = {k: v for k, v in message.properties.items() if k != "delivery_info"}
            props.pop("delivery_tag", None)
            out.append({
                "payload": message.payload,
                "content_type": message.content_type,
                "headers": message.headers,
                "properties": props,
                "routing_key": message.delivery_info.get("routing_key"),
            })
            message.ack()
        simple.close()
    print(json.dumps(out))


main()
