"""A Python Kombu pidbox mailbox that commands wakame nodes, for wakame's interop tests.

Usage: pidbox_mailbox.py URL NAMESPACE MODE [ARGS...]
  call HOSTNAME         mailbox.call([HOSTNAME], "echo", {"x": 1, "s": "héllo"})
  multi LIMIT           mailbox.multi_call("ping", limit=LIMIT)
  pattern PATTERN MATCHER LIMIT   mailbox._broadcast("ping", reply=True, pattern=..., matcher=...)
  cast HOSTNAME         mailbox.cast([HOSTNAME], "note", {"text": "from python"})
  fail HOSTNAME         mailbox.call([HOSTNAME], "fail")
Prints {"replies": [...], "clock": <mailbox clock after>} as JSON.
"""
import json
import os
import sys

from kombu import Connection
from kombu.pidbox import Mailbox

# With PIDBOX_CELERY=1 the mailbox is made as Celery 5 makes its control mailbox
# (celery/app/control.py): TTLs and expiries on the node and reply queues.
CELERY = dict(queue_ttl=300.0, reply_queue_ttl=300.0, queue_expires=10.0,
              reply_queue_expires=10.0) if os.environ.get("PIDBOX_CELERY") else {}

url, namespace, mode = sys.argv[1:4]
args = sys.argv[4:]

with Connection(url) as conn:
    mailbox = Mailbox(namespace, type="fanout", accept=["json"], **CELERY)(conn)
    if mode == "call":
        replies = mailbox.call([args[0]], "echo", {"x": 1, "s": "h\u00e9llo"}, timeout=10)
    elif mode == "multi":
        replies = mailbox.multi_call("ping", timeout=10, limit=int(args[0]))
    elif mode == "pattern":
        replies = mailbox._broadcast("ping", reply=True, pattern=args[0], matcher=args[1],
                                     limit=int(args[2]), timeout=10)
    elif mode == "cast":
        mailbox.cast([args[0]], "note", {"text": "from python"})
        replies = []
    elif mode == "fail":
        replies = mailbox.call([args[0]], "fail", timeout=10)
    else:
        raise SystemExit("unknown mode " + mode)
    print(json.dumps({"replies": replies, "clock": mailbox.clock.value}))
