"""A Python Kombu pidbox node for wakame's interop tests.

Usage: pidbox_node.py URL NAMESPACE HOSTNAME SECONDS
Prints "ready" once listening, then serves until the "shutdown" command or SECONDS pass.
Each request it handled is printed as a JSON line: {"method", "clock", "ticket"}.
"""
import json
import os
import socket
import sys
import time

from kombu import Connection
from kombu.pidbox import Mailbox

# With PIDBOX_CELERY=1 the mailbox is made as Celery 5 makes its control mailbox
# (celery/app/control.py): TTLs and expiries on the node and reply queues.
CELERY = dict(queue_ttl=300.0, reply_queue_ttl=300.0, queue_expires=10.0,
              reply_queue_expires=10.0) if os.environ.get("PIDBOX_CELERY") else {}

url, namespace, hostname, seconds = sys.argv[1:5]

with Connection(url) as conn:
    mailbox = Mailbox(namespace, type="fanout", accept=["json"], **CELERY)(conn)
    state = {"stop": False}
    node = mailbox.Node(hostname, state=state, channel=conn.default_channel)

    @node.handler
    def ping(state):
        return "pong"

    @node.handler
    def echo(state, **kwargs):
        return kwargs

    @node.handler
    def clock(state):
        return mailbox.clock.value

    @node.handler
    def fail(state):
        raise KeyError("broken")

    @node.handler
    def shutdown(state):
        state["stop"] = True
        return "bye"

    def on_message(body, message):
        print(json.dumps({
            "method": body.get("method"),
            "clock": message.headers.get("clock"),
            "expires": message.headers.get("expires"),
            "ticket": body.get("ticket"),
            "reply_to": body.get("reply_to"),
        }), flush=True)
        node.handle_message(body, message)

    node.listen(channel=conn.default_channel, callback=on_message)
    print("ready", flush=True)
    deadline = time.time() + float(seconds)
    while not state["stop"] and time.time() < deadline:
        try:
            conn.drain_events(timeout=0.2)
        except socket.timeout:
            pass
