"""The package's own local drain: protocol.md over HTTP on one port, stored in SQLite.

``astralog-logging drain`` runs it in the foreground (``_cli``); tests start one in their
own process through ``astralog_logging.testing.LocalDrain``.
"""

from __future__ import annotations

from ._server import DrainServer

__all__ = ["DrainServer"]
