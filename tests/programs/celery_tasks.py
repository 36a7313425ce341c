"""The celery application of tests/test_celery.py (``celery -A celery_tasks worker``).

The broker and the pool's start method come from the environment (BROKER_URL,
START_METHOD); ``tasks.work`` fails on every tenth number, ``tasks.burst`` logs ``count``
records in one task.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.utils.log import get_task_logger

import astralog_logging.celery

app = Celery("tasks", broker=os.environ["BROKER_URL"])
app.conf.broker_connection_retry_on_startup = True
app.conf.worker_pool_start_method = os.environ.get("START_METHOD", "fork")
astralog_logging.celery.install(app, flush_interval=0.2)
log = get_task_logger("tasks")


def work(n: int) -> None:
    log.info("task %d ran", n, extra={"meta": {"n": n}})
    if n % 10 == 0:
        raise ValueError(f"boom {n}")


def burst(count: int) -> None:
    for i in range(count):
        log.info("burst %d", i, extra={"meta": {"i": i}})


# registered by call rather than as decorators: celery's decorator has no types to check
app.task(name="tasks.work")(work)
app.task(name="tasks.burst")(burst)
