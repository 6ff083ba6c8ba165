"""Sends one task with Python Celery's send_task, every option set, for the message parity test.

argv[1]: queue, argv[2]: task id, argv[3]: reply_to. Environment as celery_tasks.py.
"""
import sys
from datetime import datetime, timezone

from celery import signature

from celery_tasks import app

queue, task_id, reply_to = sys.argv[1:4]
app.send_task(
    "parity.task",
    args=[1, "two", [3.5, None, True]],
    kwargs={"k": "it's", "n": {"x": False}},
    queue=queue,
    task_id=task_id,
    reply_to=reply_to,
    eta=datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc),
    expires=datetime(2030, 1, 3, 3, 4, 5, tzinfo=timezone.utc),
    priority=5,
    time_limit=30,
    soft_time_limit=20.5,
    root_id="root-1",
    parent_id="parent-1",
    group_id="group-1",
    group_index=2,
    shadow="shadow-name",
    link=signature("parity.cb", args=[1], app=app),
    link_error=signature("parity.eb", app=app),
    headers={"custom": "yes"},
)
