"""Ship a whole application's Python logs to Astralog.

Put ``astralog_logging.AstralogHandler`` in your logging configuration; every process of
the application (forked workers included) then logs through one listener process that
batches, compresses and delivers to Astralog, retrying through outages. See the README.

The handler and ``init_worker`` load on first use (PEP 562): the listener process, the CLI
and the drain import this package too, and must not pay for the application side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._context import context
from ._version import __version__
from .exceptions import AstralogError, ConfigError

if TYPE_CHECKING:
    from ._app._pool import init_worker
    from .handler import AstralogHandler

__all__ = [
    "AstralogError",
    "AstralogHandler",
    "ConfigError",
    "__version__",
    "context",
    "init_worker",
]

_LAZY = {"AstralogHandler": "handler", "init_worker": "_app._pool"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
