"""The systems under comparison, each set up the way its documentation tells a user to.

A system knows how to configure itself against a local receiver, how to run the common
workload in its own calling style, how to ask for what it queued to be sent (``flush``)
and how to shut down delivering everything (``close``). Scenarios (``benchmarks._scenarios``)
only ever talk to this interface, so the same measurement code covers every system.
"""

from __future__ import annotations

import importlib
import logging
from array import array
from typing import Dict, List, Optional, Tuple

from .. import _workload


class System:
    #: shown in the tables
    label = ""
    #: receiver kind (a decoder in ``benchmarks._decoders``), or "" for none
    receiver = ""
    #: True when each producer process configures its own copy after fork; False when the
    #: parent's configuration is inherited (a shared queue or listener)
    setup_per_process = False
    #: how the system is configured, for the notes under the tables
    notes = ""

    def setup(self, url: str, *, gzip: bool, burst: int) -> None:
        """Configure against the receiver at ``url``; ``burst`` records may come at once."""
        raise NotImplementedError

    def emit(self, start: int, count: int) -> None:
        raise NotImplementedError

    def emit_timed(self, start: int, count: int) -> array[int]:
        raise NotImplementedError

    def emit_exception(self, start: int, count: int) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Ask for everything this process queued to be sent (it may return before)."""

    def close(self) -> None:
        """Shut down, delivering everything (what a user calls at exit)."""

    def child_done(self) -> None:
        """What a producer process does before it exits (records must not stay behind)."""
        self.flush()

    def listener_pid(self) -> Optional[int]:
        """The process that forwards records for this one, if the system has one."""
        return None

    def losses(self) -> Dict[str, int]:
        """The system's own count of records it dropped or gave up on, where it keeps one."""
        return {}


class StdlibSystem(System):
    """A system that plugs into the standard ``logging`` module as a handler."""

    def __init__(self) -> None:
        self.logger = _workload.app_logger()
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)

    def attach(self, handler: logging.Handler) -> None:
        self.logger.addHandler(handler)

    def emit(self, start: int, count: int) -> None:
        _workload.emit(self.logger, start, count)

    def emit_timed(self, start: int, count: int) -> array[int]:
        return _workload.emit_timed(self.logger, start, count)

    def emit_exception(self, start: int, count: int) -> None:
        _workload.emit_exception(self.logger, start, count)


# name -> (module, class); imported lazily so a missing peer only fails its own rows
REGISTRY: Dict[str, Tuple[str, str]] = {
    "null": ("benchmarks.systems.floor", "NullFloor"),
    "stream": ("benchmarks.systems.floor", "StreamFloor"),
    "ours": ("benchmarks.systems.ours", "Ours"),
    "recipe": ("benchmarks.systems.recipe", "StdlibRecipe"),
    "logtail": ("benchmarks.systems.peer_logtail", "Logtail"),
    "logstash": ("benchmarks.systems.peer_logstash", "LogstashAsync"),
    "logstash-sqlite": ("benchmarks.systems.peer_logstash", "LogstashSqlite"),
    "otel": ("benchmarks.systems.peer_otel", "OpenTelemetry"),
    "loguru": ("benchmarks.systems.peer_loguru", "LoguruEnqueue"),
}
PEERS: List[str] = ["logtail", "logstash", "otel", "loguru"]


def load(name: str) -> System:
    module, cls = REGISTRY[name]
    system: System = getattr(importlib.import_module(module), cls)()
    return system
