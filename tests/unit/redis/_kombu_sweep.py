"""Runs Python Kombu's visibility sweep (QoS.restore_visible) again and again.

argv: global_keyprefix, seconds to run, visibility_timeout (seconds). Prints {"sweeps": n}.
"""
import json
import sys
import time

from kombu import Connection

prefix, seconds, visibility = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
options = {'global_keyprefix': prefix, 'visibility_timeout': visibility}
with Connection('redis://127.0.0.1:6379/0', transport_options=options) as conn:
    channel = conn.channel()
    sweeps = 0
    end = time.time() + seconds
    while time.time() < end:
        # interval=1: sweep on every call (Kombu's default sweeps on every tenth).
        channel.qos.restore_visible(num=100, interval=1)
        sweeps += 1
        time.sleep(0.1)
    print(json.dumps({'sweeps': sweeps}))
