"""The application of tests/test_lifecycle.py's import test: it only logs (a warning and a
traceback), then prints whether flush() was clean and which delivery modules it imported
(none should be: requests, urllib3, tenacity and the listener belong to the listener)."""

from __future__ import annotations

import logging
import sys

import astralog_logging

handler = astralog_logging.AstralogHandler()
log = logging.getLogger("app")
log.addHandler(handler)
log.warning("one record")
try:
    raise ValueError("boom")
except ValueError:
    log.exception("and a traceback")
print(handler.flush(20))
print(sorted(m for m in ("requests", "urllib3", "tenacity") if m in sys.modules))
print(sorted(m for m in sys.modules if m.startswith("astralog_logging._listener")))
