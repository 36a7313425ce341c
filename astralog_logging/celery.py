"""celery: ``astralog_logging.celery.install(app, **handler_options)`` wires everything.

The worker's main process owns the listener (its logging is set up before the pool
starts); prefork children inherit the queue, and children started by ``spawn`` join the
same listener through its advertised address. Billiard's pool children end in
``os._exit``, which skips atexit and logging.shutdown, so ``worker_process_shutdown`` hands
their buffers over explicitly; ``worker_shutdown`` delivers everything and stops the
listener. Task records carry ``task_id`` and ``task_name`` in ``meta``.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List

from .handler import AstralogHandler

try:
    from celery import signals
    from celery._state import get_current_task
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("astralog_logging.celery needs celery: "
                      "pip install 'astralog-logging[celery]'") from exc

__all__ = ["TaskFields", "install"]


class TaskFields(logging.Filter):
    """Adds the running task's id and name to ``meta`` (celery's own task logger does not)."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = get_current_task()
        request = getattr(task, "request", None)
        task_id = getattr(request, "id", None)
        if task_id:
            fields = {"task_id": task_id, "task_name": getattr(task, "name", None)}
            record.meta = {**fields, **getattr(record, "meta", {})}
        return True


def install(app: Any, **handler_options: Any) -> None:
    """Connect the handler to ``app``'s worker through celery's signals."""
    state: Dict[str, AstralogHandler] = {}

    def handler() -> AstralogHandler:
        if "handler" not in state:
            made = AstralogHandler(**handler_options)
            made.addFilter(TaskFields())
            state["handler"] = made
        return state["handler"]

    def attach(logger: logging.Logger, **_: Any) -> None:
        ours = handler()
        if not any(h is ours or (isinstance(h, AstralogHandler) and h._same_listener(ours))
                   for h in logger.handlers):
            logger.addHandler(ours)

    def attach_task_logger(logger: logging.Logger, **_: Any) -> None:
        attach(logger)  # celery.task does not propagate to the root logger

    def hand_over(**_: Any) -> None:
        for h in _ours(state):
            h.hand_over(time.monotonic() + 5.0)

    def shut_down(**_: Any) -> None:
        for h in _ours(state):
            h.close()

    signals.after_setup_logger.connect(attach, weak=False)
    signals.after_setup_task_logger.connect(attach_task_logger, weak=False)
    signals.worker_process_shutdown.connect(hand_over, weak=False)
    signals.worker_shutdown.connect(shut_down, weak=False)


def _ours(state: Dict[str, AstralogHandler]) -> List[AstralogHandler]:
    return list(state.values())
