"""Celery 5 tasks and client for bench/celery.ts.

As a worker module: `celery -A celery_bench worker` runs `bench.noop`.
As a script: `celery_bench.py N QUEUE` sends N no-op tasks, reads every result (a ResultSet's
join_native, which fetches many results per round trip), and prints {"send": seconds, "total": seconds}.
Environment: WAKAME_BROKER, WAKAME_BACKEND.
"""
import json
import os
import sys
import time

from celery import Celery
from celery.result import ResultSet

app = Celery("celery_bench", broker=os.environ["WAKAME_BROKER"], backend=os.environ["WAKAME_BACKEND"])
app.conf.update(worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)


@app.task(name="bench.noop")
def noop(i=0):
    return i


if __name__ == "__main__":
    n, queue = int(sys.argv[1]), sys.argv[2]
    start = time.perf_counter()
    with app.producer_or_acquire() as producer:
        results = [app.send_task("bench.noop", args=[i], queue=queue, producer=producer) for i in range(n)]
    sent = time.perf_counter()
    values = ResultSet(results).join_native(timeout=600)
    done = time.perf_counter()
    assert values == list(range(n)), values[-3:]
    print(json.dumps({"send": sent - start, "total": done - start}))
