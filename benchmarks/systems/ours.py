"""astralog-logging as a user configures it: one AstralogHandler, defaults otherwise."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional

from .. import _proc
from .._receiving import TOKEN
from . import StdlibSystem

if TYPE_CHECKING:
    from astralog_logging import AstralogHandler

LISTENER_MARK = "astralog_logging._listener"


class Ours(StdlibSystem):
    label = "astralog-logging"
    receiver = "astralog"
    notes = ("AstralogHandler(token, project_id, service, endpoint, compression), every "
             "other setting at its default, except max_queue_size raised to the burst size "
             "in burst runs (a tight-loop burst outruns the default 10,000-record bound on "
             "2 cores, where the recipe's queue is unbounded); listener process measured "
             "apart")

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        self.settings = settings
        self.handler: Optional[AstralogHandler] = None

    def setup(self, url: str, *, gzip: bool, burst: int) -> None:
        from astralog_logging import AstralogHandler

        settings = dict(self.settings)
        if burst > 10_000:
            settings.setdefault("max_queue_size", burst)
        self.handler = AstralogHandler(
            token=TOKEN, project_id="bench", service="bench", endpoint=url + "/v1/drain",
            compression="gzip" if gzip else None, **settings,
        )
        self.attach(self.handler)

    def flush(self) -> None:
        assert self.handler is not None
        self.handler.flush(timeout=120)

    def close(self) -> None:
        assert self.handler is not None
        self.logger.removeHandler(self.handler)
        self.handler.close()

    def listener_pid(self) -> Optional[int]:
        # The listener is a child of the process that owns the queue (this one).
        pids = _proc.children(os.getpid(), LISTENER_MARK)
        return pids[0] if pids else None

    def losses(self) -> Dict[str, int]:
        assert self.handler is not None
        stats: Dict[str, Any] = self.handler.stats()
        return {k: int(stats.get(k, 0)) for k in ("dropped", "failed")}

    def loss_counts(self) -> Dict[str, int]:
        """Every counter of records lost on purpose, each apart: ``dropped`` (the app's
        queue; ``stats()`` reports the total, with the listener's memory as its part
        ``listener_dropped``), ``listener_dropped``, ``failed``, ``lost``."""
        assert self.handler is not None
        stats: Dict[str, Any] = self.handler.stats()
        counts = {k: int(stats.get(k, 0)) for k in ("dropped", "listener_dropped", "failed",
                                                    "lost")}
        counts["dropped"] -= counts["listener_dropped"]
        return counts
