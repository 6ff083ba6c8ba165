"""Python Kombu restores what a dead consumer left unacknowledged: one visibility sweep.

argv: Redis URL, global_keyprefix, visibility_timeout (seconds). Prints {"swept": true}.
"""
import json
import sys

from kombu import Connection

url, prefix, visibility = sys.argv[1], sys.argv[2], float(sys.argv[3])
options = {'global_keyprefix': prefix, 'visibility_timeout': visibility}
with Connection(url, transport_options=options) as conn:
    channel = conn.channel()
    # interval=1: sweep now (Kombu's default sweeps on every tenth call).
    channel.qos.restore_visible(num=1000, interval=1)
    print(json.dumps({'swept': True}))
