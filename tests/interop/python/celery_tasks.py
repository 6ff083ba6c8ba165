"""Celery 5 tasks for wakame's interop tests (tests/interop/celery_*_test.ts).

Configured from the environment: WAKAME_BROKER, WAKAME_BACKEND, WAKAME_QUEUE.
"""
import os

from celery import Celery

app = Celery(
    "wakame_interop",
    broker=os.environ["WAKAME_BROKER"],
    backend=os.environ["WAKAME_BACKEND"],
)
app.conf.update(
    task_default_queue=os.environ.get("WAKAME_QUEUE", "celery"),
    result_expires=600,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_protocol=int(os.environ.get("WAKAME_PROTOCOL", "2")),
)


@app.task(name="py.add")
def add(x, y=0):
    return x + y


@app.task(name="py.mul")
def mul(x, y):
    return x * y


@app.task(name="py.fail")
def fail(message):
    raise ValueError(message)


@app.task(name="py.request", bind=True)
def request(self, *args, **kwargs):
    r = self.request
    return {
        "id": r.id,
        "args": list(args),
        "kwargs": kwargs,
        "retries": r.retries,
        "eta": r.eta,
        "expires": r.expires,
        "timelimit": list(r.timelimit or []),
        "root_id": r.root_id,
        "parent_id": r.parent_id,
        "group": r.group,
        "origin": r.origin,
        "argsrepr": r.argsrepr,
        "kwargsrepr": r.kwargsrepr,
        "ignore_result": r.ignore_result,
        "reply_to": r.reply_to,
        "correlation_id": r.correlation_id,
        "lang": r.get("lang"),
        "shadow": r.shadow,
        "routing_key": (r.delivery_info or {}).get("routing_key"),
        "priority": (r.delivery_info or {}).get("priority"),
    }


@app.task(name="py.sum")
def xsum(values):
    return sum(values)
