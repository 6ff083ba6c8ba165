"""Watches Celery events as `celery events` and Flower do (EventReceiver into events.State).

argv[1]: a queue of the watched worker, argv[2]: its node name. Sends it one `ts.add` task once
the receiver listens; prints what State made of the worker and the task.
"""
import json
import sys
import threading

from celery_tasks import app

queue, host = sys.argv[1:3]
state = app.events.State()
seen = set()


def on_event(event):
    state.event(event)
    if event.get("hostname") == host:
        seen.add(event["type"])
    if {"task-succeeded", "worker-heartbeat"} <= seen:
        receiver.should_stop = True


with app.connection() as connection:
    receiver = app.events.Receiver(connection, handlers={"*": on_event})
    threading.Timer(1.0, lambda: app.send_task("ts.add", args=[1, 2], queue=queue)).start()
    receiver.capture(limit=None, timeout=None, wakeup=False)

worker = state.workers.get(host)
tasks = [t for t in state.tasks.values() if t.worker is not None and t.worker.hostname == host]
print(json.dumps({
    "types": sorted(seen),
    "alive": bool(worker and worker.alive),
    "state": tasks[0].state if tasks else None,
    "name": tasks[0].name if tasks else None,
    "result": tasks[0].result if tasks else None,
}))
