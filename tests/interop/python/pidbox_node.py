"""A Python Kombu pidbox node for wakame's interop tests.

Usage: pidbox_node.py URL NAMESPACE HOSTNAME SECONDS
Prints "ready" once listening, then serves until the "shutdown" command or SECONDS pass.
Each request it handled is printed as a JSON line: {"method", "clock", "ticket"}.
"""
import json
import socket
import sys
import time

from kombu import Connection
from kombu.pidbox import Mailbox

url, namespace, hostname, seconds = sys.argv[1:5]

with Connection(url) as conn:
    mailbox = Mailbox(namespace, type="fanout", accept=["json"])(conn)
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
