"""The floor: ``logger.info`` with only a NullHandler. No handler can cost less than this."""

from __future__ import annotations

import logging
import sys

from . import StdlibSystem


class NullFloor(StdlibSystem):
    label = "stdlib NullHandler (floor)"
    notes = "logging.NullHandler only: the cost of making a LogRecord, which every handler pays"

    def setup(self, url: str, *, gzip: bool, burst: int) -> None:
        self.attach(logging.NullHandler())


class StreamFloor(StdlibSystem):
    label = "stdlib StreamHandler"
    notes = "logging.StreamHandler(sys.stderr): no delivery, the lifecycle scenario's floor"

    def setup(self, url: str, *, gzip: bool, burst: int) -> None:
        self.attach(logging.StreamHandler(sys.stderr))
