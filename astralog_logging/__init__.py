"""Ship a whole application's Python logs to Astralog.

Put ``astralog_logging.AstralogHandler`` in your logging configuration; every process of
the application (forked workers included) then logs through one listener process that
batches, compresses and delivers to Astralog, retrying through outages. See the README.
"""

from __future__ import annotations

from ._context import context
from ._pool import init_worker
from ._version import __version__
from .exceptions import AstralogError, ConfigError
from .handler import AstralogHandler

__all__ = [
    "AstralogError",
    "AstralogHandler",
    "ConfigError",
    "__version__",
    "context",
    "init_worker",
]
