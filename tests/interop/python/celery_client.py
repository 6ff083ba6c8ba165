"""A Python Celery 5 client driving a wakame worker; prints one JSON line of outcomes.

argv[1]: the TypeScript worker's queue. Environment as celery_tasks.py.
"""
import json
import sys
import time
import traceback
from datetime import datetime, timedelta, timezone

from celery import chain

from celery_tasks import app

queue = sys.argv[1]
out = {}


def outcome(fn):
    try:
        return {"value": fn()}
    except Exception as exc:  # the error as Celery re-created it
        return {
            "type": type(exc).__name__,
            "module": type(exc).__module__,
            "args": [a if isinstance(a, (str, int, float)) else repr(a) for a in exc.args],
        }


def send(name, *args, **options):
    return app.send_task(name, args=list(args), queue=queue, **options)


T = 20
out["add"] = outcome(lambda: send("ts.add", 2, 3).get(timeout=T))
out["kwargs"] = outcome(lambda: app.send_task("ts.add", args=[2], kwargs={"b": 40}, queue=queue).get(timeout=T))
out["fail"] = outcome(lambda: send("ts.fail", "boom").get(timeout=T))
failed = send("ts.fail", "again")
try:
    failed.get(timeout=T)
except Exception:
    pass
out["fail_traceback"] = failed.traceback or ""
out["fail_state"] = failed.state
out["unknown"] = outcome(lambda: send("ts.nothing").get(timeout=T))
start = time.monotonic()
out["countdown"] = outcome(lambda: send("ts.add", 1, 1, countdown=1).get(timeout=T))
out["countdown_elapsed"] = time.monotonic() - start
out["expired"] = outcome(
    lambda: send("ts.add", 1, 1, expires=datetime.now(timezone.utc) - timedelta(seconds=5)).get(timeout=T)
)
r = send("ts.add", 5, 5, countdown=3)
time.sleep(0.3)
app.control.revoke(r.id)
out["revoked"] = outcome(lambda: r.get(timeout=T))
out["soft_limit"] = outcome(lambda: send("ts.wait", soft_time_limit=0.3).get(timeout=T))
out["hard_limit"] = outcome(lambda: send("ts.wait", time_limit=0.3).get(timeout=T))
out["retry"] = outcome(lambda: send("ts.retry_once").get(timeout=T))
out["context"] = outcome(lambda: send("ts.context", 7, countdown=0.2).get(timeout=T))
sig = lambda name, *a: app.signature(name, args=list(a), queue=queue)
out["chain"] = outcome(lambda: chain(sig("ts.add", 1, 2), sig("ts.add", 3), sig("ts.add", 4)).apply_async().get(timeout=T))
if not app.conf.result_backend.startswith("rpc"):
    from celery import chord
    out["chord"] = outcome(
        lambda: chord([sig("ts.add", 1, 1), sig("ts.add", 2, 2)], sig("ts.sum")).apply_async().get(timeout=T)
    )
app.conf.task_protocol = 1
out["protocol1"] = outcome(lambda: send("ts.add", 20, 22).get(timeout=T))
print(json.dumps(out))
