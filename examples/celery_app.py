"""celery -A examples.celery_app worker -c 4  (with a broker at CELERY_BROKER_URL)."""

from __future__ import annotations

import os

from celery import Celery
from celery.utils.log import get_task_logger

import astralog_logging.celery

app = Celery("example", broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))
astralog_logging.celery.install(app)  # settings from ASTRALOG_* variables, or pass them here
log = get_task_logger(__name__)


@app.task
def charge(order_id: int) -> None:
    log.info("charging order %s", order_id, extra={"meta": {"order_id": order_id}})
