"""The program of tests/test_lifecycle.py's package-import test: ``import astralog_logging``
alone, then whether that loaded the handler machinery, then the lazy names resolved."""

from __future__ import annotations

import sys

import astralog_logging

print("astralog_logging.handler" in sys.modules, "astralog_logging._app._owner" in sys.modules)
print(astralog_logging.AstralogHandler.__name__, astralog_logging.init_worker.__name__)
