"""The head of the child programs that log as a plain application: one handler on the root
logger (flush_interval=0.2, shutdown_timeout=5), settings from the ASTRALOG_* variables."""

from __future__ import annotations

import logging
from typing import Tuple

from astralog_logging import AstralogHandler


def setup(logger: str) -> Tuple[AstralogHandler, logging.Logger]:
    """The handler, added to the root logger at INFO, and the logger named ``logger``."""
    handler = AstralogHandler(flush_interval=0.2, shutdown_timeout=5)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler, logging.getLogger(logger)
