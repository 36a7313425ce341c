"""Handlers pickled by an earlier release (a pool's initargs, a deploy mid-rollout) still load."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

from astralog_logging import AstralogHandler
from astralog_logging.testing import LocalDrain

# Written by 0.1.0: AstralogHandler(token="test-token", endpoint="http://127.0.0.1:65000/v1/drain",
# project_id="p", service="pickled", shutdown_timeout=1.0), pickled while its listener ran, so
# it names handler._rebuild, handler._Hidden and _address.Address (an attach address long gone).
_PICKLED = (Path(__file__).parent / "data" / "handler-0.1.0.pickle").read_bytes()


def test_a_handler_pickled_by_0_1_0_unpickles_and_delivers() -> None:
    """A 0.1.0 pickle unpickles into a working handler: its records reach the drain once."""
    with LocalDrain() as drain:
        port = drain.endpoint.rsplit(":", 1)[1].split("/")[0]
        assert len(port) == 5  # the fixture's port is replaced in place, same length
        handler = pickle.loads(_PICKLED.replace(b"65000", port.encode()))
        assert isinstance(handler, AstralogHandler)
        logger = logging.getLogger("test_pickle_compat")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            logger.warning("from an old pickle")
            assert handler.flush()
        finally:
            logger.removeHandler(handler)
            handler.close()
        assert [r["message"] for r in drain.wait_for_records(1)] == ["from an old pickle"]
        assert [(b["project_id"], b["service"]) for b in drain.batches()] == [("p", "pickled")]
