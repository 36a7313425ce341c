"""Shared fixtures. Keep each one small and say in its docstring what it promises."""

from __future__ import annotations

from typing import Iterator

import pytest

from astralog_logging._ipc._shared import SharedStats
from astralog_logging.testing import LocalDrain


@pytest.fixture
def drain() -> Iterator[LocalDrain]:
    """A LocalDrain on a free port; the test fails if it had to refuse a body as invalid.

    Anything our sender sends must pass the drain's strict checks, so a 400 is a bug
    unless the test provokes it on purpose and sets ``drain.allow_errors = True``.
    """
    with LocalDrain() as local:
        yield local
    if not local.allow_errors:
        local.assert_no_errors()


@pytest.fixture
def stats() -> Iterator[SharedStats]:
    """A fresh shared-counters file of our own (no listener), unlinked afterwards."""
    shared = SharedStats.create()
    yield shared
    shared.close()
    shared.unlink()
