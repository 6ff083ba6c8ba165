"""The Python side of examples/celery/client.ts.

    WAKAME_BROKER=amqp://guest:guest@localhost:5672// \
        celery -A tasks worker --pool=solo --loglevel=INFO
"""
import os

from celery import Celery

app = Celery(
    "tasks",
    broker=os.environ.get("WAKAME_BROKER", "amqp://guest:guest@localhost:5672//"),
    backend=os.environ.get("WAKAME_BACKEND", "rpc://"),
)


@app.task(name="tasks.add")
def add(x, y):
    return x + y


@app.task(name="tasks.fail")
def fail(message):
    raise ValueError(message)
